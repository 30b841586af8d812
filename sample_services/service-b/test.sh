#!/bin/sh
# The integration test of service-b in its stage.
set -e
out=$(sh app.sh)
echo "$out"
echo "$out" | grep -q "service-b version"
echo "service-b tests passed in $STAGE"
