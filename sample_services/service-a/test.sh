#!/bin/sh
# The integration test of service-a in its stage.
set -e
out=$(sh app.sh)
echo "$out"
echo "$out" | grep -q "service-a version"
echo "service-a tests passed in $STAGE"
