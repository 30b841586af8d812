#!/bin/sh
# service-b's integration tests, against the service-b deployed in this stage.
set -e
name=$(wget -q -O- http://service-b:8080/name)
echo "GET /name -> $name"
echo "$name" | grep -q '"name": "service-b"'
echo "$name" | grep -q "\"version\": \"$(cat VERSION)\""
echo "service-b integration tests passed"
