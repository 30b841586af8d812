#!/bin/sh
# service-a's production smoke test, against the service-a deployed in PROD: if it fails, the
# pipeline rolls PROD back to the last release that passed it (onFailure: ROLLBACK).
set -e
wget -q -O- http://service-a-prod:8080/health | grep -q '"status": "ok"'
echo "service-a-prod answers its health check: smoke test passed"
