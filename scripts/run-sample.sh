#!/usr/bin/env bash
# The main job: the daemon on the sample product, state in SQLite under ./.pipemu.
# Sets up what it needs on a fresh clone: a virtualenv, the package, the sample's git
# repositories (.pipemu/repos) and its images (built locally; pulled only where a registry is).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${PIPEMU_PYTHON:-}" ]; then
  # An interpreter that already has the package (the test suite runs this script that way).
  PY=$PIPEMU_PYTHON
else
  PYTHON=${PYTHON:-python3}
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -e .
  PY=.venv/bin/python
fi
"$PY" -m emulator.sample .
PORT=${PIPEMU_PORT:-7788}
cat <<MSG
pipemu: serving the sample product "my" on http://127.0.0.1:${PORT}
  set up:   export AWS_ENDPOINT_URL=http://127.0.0.1:${PORT} AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1
  look:     aws codepipeline list-pipelines
            aws codepipeline get-pipeline-state --name my-service-a-pipeline
  commit:   cd .pipemu/repos/service-a && echo 1.1.0 > VERSION && git commit -qam "c1"   (starts the pipeline)
  approve:  aws codepipeline put-approval-result --pipeline-name my-service-a-pipeline --stage-name StagingDEV \\
              --action-name approve --result summary=ok,status=Approved --token TOKEN-FROM-GET-PIPELINE-STATE
  release:  aws codepipeline start-pipeline-execution --name my-release-pipeline   (the nightly schedule's job)
  prod:     curl localhost:8081/greeting   (once the product is released)
  the article, step by step:   .venv/bin/pipemu demo --endpoint http://127.0.0.1:${PORT}
MSG
exec "$PY" -m emulator.cli serve --pipelines pipelines --state-dir .pipemu --port "$PORT" "$@"
