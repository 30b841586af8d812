#!/bin/sh
# service-a's integration tests, against the service-a deployed in this stage.
set -e
hello=$(wget -q -O- http://service-a:8080/hello)
echo "GET /hello -> $hello"
echo "$hello" | grep -q '"service": "a"'
echo "$hello" | grep -q "\"version\": \"$(cat VERSION)\""
echo "service-a integration tests passed"
