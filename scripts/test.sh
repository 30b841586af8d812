#!/usr/bin/env bash
# The whole test suite, on a fresh clone: a virtualenv with the package and its test extra, then
# pytest. Docker tests need a running engine (in CI, .ci/run starts one; CI=true fails them
# rather than skipping when none answers).
#
# Two steps, one exit status (non-zero if either step fails):
#   1. every test but those marked `serial` or `engine_restart`, on PIPEMU_TEST_WORKERS
#      pytest-xdist workers (default 4; most tests wait on containers, not on the CPU), a test
#      file's tests on one worker (--dist loadfile: module fixtures stay cheap);
#   2. the `serial` and `engine_restart` tests, one at a time with nothing else running (the
#      engine restart last: tests/conftest.py orders it so).
# PIPEMU_TEST_WORKERS=0 runs step 1 without workers too. Extra arguments go to both steps (a
# `-n` of yours to step 1 only); each step keeps only its own tests (PIPEMU_TEST_STEP,
# tests/conftest.py), whatever `-m` the arguments add.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"

WORKERS=${PIPEMU_TEST_WORKERS:-4}
if ! [[ "$WORKERS" =~ ^[0-9]+$ ]]; then
  echo "test.sh: PIPEMU_TEST_WORKERS must be a number of workers (0: none), not '$WORKERS'" >&2
  exit 2
fi
parallel=()
[ "$WORKERS" -gt 0 ] && parallel=(-n "$WORKERS" --dist loadfile)

status=0
PIPEMU_TEST_STEP=parallel .venv/bin/python -m pytest ${parallel[@]+"${parallel[@]}"} -m "not serial and not engine_restart" "$@" \
  || status=$?
# 2 and above: interrupted, a usage or collection error, an internal error: the serial step (in CI
# it restarts the engine) does not run after that.
if [ "$status" -ge 2 ] && [ "$status" -ne 5 ]; then
  exit "$status"
fi
serial_status=0
# `-n 0` after the user's arguments: this step never runs on workers, whatever they asked for.
PIPEMU_TEST_STEP=serial .venv/bin/python -m pytest -m "serial or engine_restart" "$@" -n 0 || serial_status=$?

# 5: that step collected no test (arguments naming only tests of the other step): not a failure,
# unless neither step ran any.
if [ "$status" -eq 5 ] && [ "$serial_status" -eq 5 ]; then
  exit 5
fi
[ "$status" -eq 5 ] && status=0
[ "$serial_status" -eq 5 ] && serial_status=0
if [ "$status" -ne 0 ] || [ "$serial_status" -ne 0 ]; then
  echo "test.sh: parallel step exit status $status, serial step exit status $serial_status" >&2
  [ "$status" -ne 0 ] && exit "$status"
  exit "$serial_status"
fi
exit 0
