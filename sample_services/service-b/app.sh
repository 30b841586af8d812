#!/bin/sh
# service-b: the sample product's service. The walking skeleton "deploys" it by running it once;
# the Docker runner issue turns this into a long-lived container per stage.
echo "service-b version $(cat VERSION) says hello"
