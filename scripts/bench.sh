#!/usr/bin/env bash
# Every benchmark (bench/run.py): a virtualenv with the package, its test and bench extras (moto's
# server is the API's baseline), then the run. Needs a running Docker engine. Arguments go to
# bench/run.py (--history 100000 for the issue's full history; --only api scale).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[bench]"
exec .venv/bin/python bench/run.py "$@"
