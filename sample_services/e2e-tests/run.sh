#!/bin/sh
# End-to-end tests of the product "my" in DEV: both services answer, and they talk to each other.
set -e
wget -q -O- http://service-a:8080/health | grep -q ok
wget -q -O- http://service-b:8080/health | grep -q ok
greeting=$(wget -q -O- http://service-a:8080/greeting)
echo "GET service-a/greeting -> $greeting"
echo "$greeting" | grep -q "Hello from service-a .* and service-b"
echo "end-to-end tests passed"
