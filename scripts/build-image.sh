#!/usr/bin/env bash
# Build the daemon's image (pipemu/daemon:latest) without a registry.
#
#   scripts/build-image.sh [--base IMAGE] [--tag TAG] [--force]
#
# Everything the image needs is fetched on the HOST (containers here may not reach the
# network): the project's wheel and its dependencies (`pip wheel` / `pip download`), and, for a
# Debian base, the .deb files of git and what it needs that the base lacks (`apt-get
# --download-only` against the base's own dpkg status). The build installs them offline
# (`dpkg -i`, `pip install --no-index`).
#
# --base   default pipemu/lambda-base:bookworm, made locally (debootstrap, no registry) by
#          emulator.runner.lambda_images.ensure_base_image when missing. Where a registry is
#          reachable, `--base python:3.12-slim` works too (pulled if missing; git comes from
#          apt inside the build).
# --force  rebuild even if the tag exists (otherwise an existing image is kept as it is).
# Env: PYTHON (default python3) runs pip and the base-image helper; DOCKER_HOST is honoured.
set -euo pipefail

LOCAL_BASE="pipemu/lambda-base:bookworm"
BASE="$LOCAL_BASE"
TAG="pipemu/daemon:latest"
FORCE=0
PYTHON="${PYTHON:-python3}"

while [ $# -gt 0 ]; do
  case "$1" in
    --base) BASE="$2"; shift 2 ;;
    --base=*) BASE="${1#*=}"; shift ;;
    --tag) TAG="$2"; shift 2 ;;
    --tag=*) TAG="${1#*=}"; shift ;;
    --force) FORCE=1; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "build-image.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ "$FORCE" = 0 ] && docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "$TAG exists (use --force to rebuild)"
  exit 0
fi

started=$(date +%s)

# -- the base ----------------------------------------------------------------------------
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  if [ "$BASE" = "$LOCAL_BASE" ]; then
    echo "== making $BASE (debootstrap; about a minute)"
    PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -c \
      'import docker; from emulator.runner.lambda_images import ensure_base_image; ensure_base_image(docker.from_env(timeout=600))'
  else
    echo "== pulling $BASE"
    docker pull "$BASE"
  fi
fi
PYVER=$(docker run --rm --network none --entrypoint python3 "$BASE" \
  -c 'import sys; print("%d.%d" % sys.version_info[:2])')
echo "== base $BASE (Python $PYVER)"

CONTEXT=$(mktemp -d "${TMPDIR:-/tmp}/pipemu-image.XXXXXX")
trap 'rm -rf "$CONTEXT"' EXIT
mkdir -p "$CONTEXT/wheels" "$CONTEXT/debs"
cp "$ROOT/Dockerfile" "$CONTEXT/Dockerfile"

# -- git for source actions, as .deb files fetched on the host ---------------------------
# Only for a base made from the same Debian release as this host (the local base is): apt
# computes what the base lacks from the base's own dpkg status.
host_codename=$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")
base_codename=$(docker run --rm --network none --entrypoint sh "$BASE" \
  -c '. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}"' || true)
if docker run --rm --network none --entrypoint sh "$BASE" -c 'command -v git' >/dev/null 2>&1; then
  echo "== git: in the base"
elif [ -n "$host_codename" ] && [ "$host_codename" = "$base_codename" ] && command -v apt-get >/dev/null; then
  echo "== git: .deb files for $base_codename (apt-get --download-only on the host)"
  docker run --rm --network none --entrypoint cat "$BASE" /var/lib/dpkg/status >"$CONTEXT/status"
  mkdir -p "$CONTEXT/debs/partial"
  apt-get install -y -qq --download-only --no-install-recommends \
    -o Dir::State::status="$CONTEXT/status" -o Dir::Cache::archives="$CONTEXT/debs" \
    -o Debug::NoLocking=1 git >/dev/null
  rm -rf "$CONTEXT/debs/partial" "$CONTEXT/debs/lock" "$CONTEXT/status"
  ls "$CONTEXT/debs"/*.deb >/dev/null  # something was fetched, or fail here
else
  echo "== git: apt-get inside the build (base $base_codename, host ${host_codename:-not Debian})"
fi

# -- the wheels ----------------------------------------------------------------------------
echo "== wheels for Python $PYVER (on the host)"
# From a copy of the sources: building in the checkout would leave build/ behind.
mkdir -p "$CONTEXT/src"
tar -C "$ROOT" --exclude=__pycache__ -cf - pyproject.toml README.md emulator | tar -C "$CONTEXT/src" -xf -
"$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$CONTEXT/project" "$CONTEXT/src"
rm -rf "$CONTEXT/src"
"$PYTHON" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
  --python-version "$PYVER" -d "$CONTEXT/wheels" "$CONTEXT"/project/*.whl pip
mv "$CONTEXT"/project/*.whl "$CONTEXT/wheels/"
rmdir "$CONTEXT/project"

# -- the image -----------------------------------------------------------------------------
echo "== docker build -t $TAG"
docker build --build-arg "BASE=$BASE" --label "pipemu.base=$BASE" -t "$TAG" "$CONTEXT"

size=$(docker image inspect "$TAG" --format '{{.Size}}')
echo "== built $TAG from $BASE in $(( $(date +%s) - started ))s, $(( size / 1000000 )) MB"
