#!/bin/sh
# service-b's production smoke test, against the service-b deployed in PROD: if it fails, the
# pipeline rolls PROD back to the last release that passed it (onFailure: ROLLBACK).
set -e
wget -q -O- http://service-b-prod:8080/health | grep -q '"status": "ok"'
echo "service-b-prod answers its health check: smoke test passed"
