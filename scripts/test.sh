#!/usr/bin/env bash
# The whole test suite, on a fresh clone: a virtualenv with the package and its test extra, then
# pytest. Docker tests need a running engine (in CI, .ci/run starts one; CI=true fails them
# rather than skipping when none answers).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
exec .venv/bin/python -m pytest "$@"
