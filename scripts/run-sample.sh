#!/usr/bin/env bash
# The main job: the daemon on the sample product, state in SQLite under ./.pipemu.
# Sets up what it needs on a fresh clone: a virtualenv, the package, the sample's git
# repositories (.pipemu/repos) and its images (built locally; pulled only where a registry is).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
.venv/bin/python -m emulator.sample .
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
pipemu: serving the sample product on http://127.0.0.1:${PORT}
  look:     aws codepipeline list-pipelines --endpoint-url http://127.0.0.1:${PORT}
  start:    aws codepipeline start-pipeline-execution --name my-service-a-pipeline --endpoint-url http://127.0.0.1:${PORT}
  state:    aws codepipeline get-pipeline-state --name my-service-a-pipeline --endpoint-url http://127.0.0.1:${PORT}
  commit:   cd .pipemu/repos/service-a && echo 2 > VERSION && git commit -am "version 2"
  approve:  take the token from get-pipeline-state, then
            aws codepipeline put-approval-result --pipeline-name my-service-a-pipeline --stage-name StagingDEV \\
              --action-name approve --result summary=ok,status=Approved --token TOKEN --endpoint-url http://127.0.0.1:${PORT}
  (any credentials and region do: export AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1)
MSG
exec .venv/bin/pipemu serve --pipelines pipelines --state-dir .pipemu --port "$PORT" "$@"
