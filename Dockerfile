# The daemon's image. Build it with scripts/build-image.sh, which fetches the wheels (and, for a
# Debian base made locally, git's .deb files) on the host into the build context: this build
# needs no network. See "Running the daemon in a container" in README.md.
ARG BASE=pipemu/lambda-base:bookworm
FROM ${BASE}

# git: source actions read local repositories with it.
COPY debs /tmp/debs
RUN set -eu; \
    if ls /tmp/debs/*.deb >/dev/null 2>&1; then \
        dpkg -i /tmp/debs/*.deb >/dev/null; \
    elif ! command -v git >/dev/null; then \
        apt-get update && apt-get install -y --no-install-recommends git ca-certificates \
        && rm -rf /var/lib/apt/lists/*; \
    fi; \
    rm -rf /tmp/debs; git --version

# The daemon in a venv of its own, from the wheels only (pip runs from its own wheel).
COPY wheels /tmp/wheels
RUN set -eu; \
    python3 -m venv --without-pip /opt/pipemu; \
    /opt/pipemu/bin/python "$(ls /tmp/wheels/pip-*.whl)/pip" install --quiet --no-index --no-cache-dir \
        --disable-pip-version-check --find-links /tmp/wheels pipeline-emulator; \
    rm -rf /tmp/wheels; /opt/pipemu/bin/pipemu --help >/dev/null

ENV PATH=/opt/pipemu/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 LANG=C.UTF-8 \
    PIPEMU_IN_CONTAINER=1
EXPOSE 7788
ENTRYPOINT ["pipemu"]
CMD ["serve", "--host", "0.0.0.0", "--pipelines", "/pipelines", "--state-dir", "/state"]
