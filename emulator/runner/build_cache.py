"""CodeBuild's local custom cache: the folders a buildspec's `cache.paths` name, kept in one
Docker volume per project between builds.

As CodeBuild does on its build hosts, each cached folder is a link into the cache, made before
the build's commands run: the build reads and writes the cache in place, and nothing is copied
in or out (a first try copied each folder in and back out: 4,000 files cost more than the
download they saved). Where the sources hold the folder too, their files are moved into the
cache over the cached ones before the link is made: "cached items are overridden if a source item
has the same name". As on AWS, builds of one project share the folder, and what a failed build
wrote stays. The volume lives on the engine, so a remote DOCKER_HOST keeps its cache the same way.
"""

from __future__ import annotations

import hashlib
import re
import shlex

CACHE_MOUNT = "/codebuild/pipemu-cache"
_GLOB = re.compile(r"[*?\[]")


def volume_name(daemon_id: str, project: str) -> str:
    """The project's cache volume (labelled with the daemon, so `pipemu down --caches` finds it)."""
    return f"{daemon_id}-cache-{project}"


def folder_of(pattern: str) -> str | None:
    """The folder a cache path keeps: `node_modules/**/*` -> node_modules, `/root/.m2/**/*` ->
    /root/.m2; the part before the first wildcard segment. None for a pattern that names no
    folder (`**/*`: the whole source, which CodeBuild does not cache either)."""
    kept = []
    for segment in pattern.strip().split("/"):
        if _GLOB.search(segment):
            break
        kept.append(segment)
    folder = "/".join(kept).rstrip("/")
    if folder in ("", ".") or ".." in folder.split("/"):
        return None
    return folder


def _entries(paths: tuple[str, ...], source_dir: str) -> list[tuple[str, str]]:
    """(folder in the build, its slot in the volume) for each distinct folder of `paths`."""
    seen: dict[str, str] = {}
    for pattern in paths:
        folder = folder_of(pattern)
        if folder is None:
            continue
        absolute = folder if folder.startswith("/") else f"{source_dir}/{folder}"
        seen.setdefault(absolute, hashlib.sha256(absolute.encode()).hexdigest()[:16])
    return list(seen.items())


def link_script(paths: tuple[str, ...], mount: str, source_dir: str) -> str:
    lines = ["# ---- cache: link the project's cached folders\n"]
    for folder, slot in _entries(paths, source_dir):
        kept, target = shlex.quote(f"{mount}/{slot}"), shlex.quote(folder)
        hit = f'if [ -d {kept} ]; then _pipemu_say "Using cache {folder}"; else mkdir -p {kept}; fi'
        lines.append(f"{hit}\n"
                     f"if [ -d {target} ] && [ ! -L {target} ]; then cp -a {target}/. {kept}/ && rm -rf {target}; fi\n"
                     f'mkdir -p "$(dirname {target})" && rm -f {target} && ln -s {kept} {target}\n')
    return "".join(lines)


def remove_caches(client, daemon_id: str) -> list[str]:
    """`pipemu down --caches`: the daemon's cache volumes (those of a stopped daemon); the names."""
    import docker.errors

    removed = []
    for volume in client.volumes.list(filters={"label": f"pipemu.daemon={daemon_id}"}):
        try:
            volume.remove()
            removed.append(volume.name)
        except docker.errors.APIError:  # in use by a container left running, or gone meanwhile
            continue
    return removed
