#!/bin/sh
# service-a: the sample product's service. The walking skeleton "deploys" it by running it once;
# the Docker runner issue turns this into a long-lived container per stage.
echo "service-a version $(cat VERSION) says hello"
