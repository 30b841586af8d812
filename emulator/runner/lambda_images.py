"""The Lambda runtime images: AWS's own where a registry is reachable, else built here offline.

AWS's base images (`public.ecr.aws/lambda/python:3.12`, `public.ecr.aws/lambda/nodejs:20`, ...)
are what SAM CLI runs functions on: the exact runtime version, with the SDK AWS bundles. One is
used when it is here already or can be pulled (a pull that fails is not tried again by this
process; PIPEMU_LAMBDA_IMAGES=local never tries). The pipemu shim (lambda_bootstrap/) runs in them
as in ours: it is copied in with the function's code.

Offline (no registry is reachable on the machines pipemu is built on), the images are built locally: a
Debian bookworm root filesystem made by debootstrap (from the mirror apt already uses) is imported
as a base image, then a small `docker build` layers on it the AWS SDK installed on the HOST
(`pip install --target`, `npm install`; the build containers need no network) and the runtime
shim from `lambda_bootstrap/`. Images are built once and reused by tag, never rebuilt.

Every python3.x runtime maps to the one Python image: Debian bookworm carries Python 3.11 only,
so a function declared `python3.12` runs on 3.11 here. Likewise every nodejsNN.x runtime runs on
bookworm's Node.js 18. The debootstrap rootfs (python3 and nodejs both, so it is made once) is
cached as a tarball under `$XDG_CACHE_HOME/pipemu` (default `~/.cache/pipemu`).
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Callable

import docker.errors

from .images import image_exists

PYTHON_TAG = "pipemu/lambda-python3:latest"
NODEJS_TAG = "pipemu/lambda-nodejs:2"  # 2: with the v2 SDK too
BASE_TAG = "pipemu/lambda-base:bookworm"
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("python3", "ca-certificates", "nodejs")
# The last client release whose engines field still accepts Node.js 18 (bookworm's node);
# later ones require Node.js 20. AWS_ENDPOINT_URL is honoured by v3 since 3.45x.
NODE_SDK = "@aws-sdk/client-codepipeline@3.967.0"
# Functions written for the old runtimes (nodejs8.10..16.x) `require('aws-sdk')`: version 2,
# which the runtime bundled then; the bootstrap points it at the daemon (it ignores
# AWS_ENDPOINT_URL by itself).
NODE_SDK_V2 = "aws-sdk@2"
PYTHON_SDK = "boto3"

PYTHON_RUNTIMES = ("python3.8", "python3.9", "python3.10", "python3.11", "python3.12",
                   "python3.13")
NODEJS_RUNTIMES = ("nodejs18.x", "nodejs20.x", "nodejs22.x")
# What the offline images really run, said in the log when it differs from the runtime asked for.
LOCAL_VERSIONS = {PYTHON_TAG: "Python 3.11", NODEJS_TAG: "Node.js 18"}
OFFICIAL_REPOSITORY = "public.ecr.aws/lambda"
_unreachable: set[str] = set()  # official images whose pull failed in this process

BOOTSTRAP_DIR = Path(__file__).with_name("lambda_bootstrap")

_ENV = """ENV LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime TZ=:UTC LANG=C.UTF-8 \\
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp
WORKDIR /var/task
"""

_PYTHON_DOCKERFILE = f"""FROM {{base}}
COPY python /opt/python
COPY bootstrap.py /var/runtime/bootstrap.py
{_ENV}ENV PYTHONPATH=/opt/python PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
CMD ["python3", "/var/runtime/bootstrap.py"]
"""

_NODEJS_DOCKERFILE = f"""FROM {{base}}
COPY node_modules /opt/nodejs/node_modules
COPY bootstrap.js /var/runtime/bootstrap.js
# ES modules ignore NODE_PATH; their lookup walks up from /var/task and so finds /node_modules.
RUN ["ln", "-s", "/opt/nodejs/node_modules", "/node_modules"]
{_ENV}ENV NODE_PATH=/opt/nodejs/node_modules
CMD ["node", "/var/runtime/bootstrap.js"]
"""


def runtime_image_tag(runtime: str) -> str:
    """The default image tag for a Lambda runtime name (`python3.12`, `nodejs20.x`, ...)."""
    if re.fullmatch(r"python3(\.\d+)?", runtime or ""):
        return PYTHON_TAG
    if re.fullmatch(r"nodejs\d+(\.x)?", runtime or ""):
        return NODEJS_TAG
    raise ValueError(f"unsupported Lambda runtime {runtime!r}: pipemu runs python3.x and "
                     "nodejsNN.x functions")


def official_image(runtime: str) -> str | None:
    """AWS's base image for a runtime (`python3.12` -> public.ecr.aws/lambda/python:3.12)."""
    if m := re.fullmatch(r"python(3\.\d+)", runtime or ""):
        return f"{OFFICIAL_REPOSITORY}/python:{m.group(1)}"
    if m := re.fullmatch(r"nodejs(\d+)\.x", runtime or ""):
        return f"{OFFICIAL_REPOSITORY}/nodejs:{m.group(1)}"
    return None


def _official(client, runtime: str, log: Callable[[str], None]) -> str | None:
    """AWS's image for `runtime` if it is here or can be pulled now, else None."""
    image = official_image(runtime)
    if image is None or os.environ.get("PIPEMU_LAMBDA_IMAGES", "auto") == "local":
        return None
    if image_exists(client, image):
        return image
    if image in _unreachable:
        return None
    repository, _, tag = image.rpartition(":")
    try:
        client.images.pull(repository, tag=tag)
    except docker.errors.DockerException as exc:
        _unreachable.add(image)
        reason = str(exc).split("(", 1)[-1][:160]
        log(f"[pipemu] AWS's image {image} could not be pulled ({reason.rstrip(')')}); "
            f"{runtime} runs on the image built offline")
        return None
    log(f"[pipemu] pulled AWS's image {image} for {runtime}")
    return image


_entries: dict[tuple[str, str], str] = {}  # (image id, handler) -> the runtime that runs it


def image_entry(client, image: str, handler: str | None = None) -> tuple[str, str]:
    """How to run an image function (PackageType Image): the handler (ImageConfig's Command if
    given, else the image's CMD, as Lambda reads it) and the runtime that runs it: `python3` when
    the handler's module is a .py file under /var/task, `nodejs` when it is a .js/.mjs/.cjs one
    (the image is asked once). RuntimeError says why it cannot run."""
    if not image_exists(client, image):
        try:
            repository, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
            client.images.pull(repository, tag=tag or "latest")
        except docker.errors.DockerException as exc:
            raise RuntimeError(f"the function's image {image} is not here and could not be pulled: {exc}") from None
    found = client.images.get(image)
    command = (found.attrs.get("Config") or {}).get("Cmd") or []
    handler = handler or (command[0] if command else None)
    if not handler or "." not in handler:
        raise RuntimeError(f"the function's image {image} names no handler (module.function) in its CMD or "
                           "ImageConfig.Command")
    if (found.id, handler) not in _entries:
        module = handler.rpartition(".")[0].replace(".", "/")
        probe = (f'cd /var/task 2>/dev/null || exit 0; if [ -f "{module}.py" ]; then echo python3; '
                 f'elif [ -f "{module}.js" ] || [ -f "{module}.mjs" ] || [ -f "{module}.cjs" ]; then echo nodejs; fi')
        try:
            _entries[(found.id, handler)] = client.containers.run(
                image, ["sh", "-c", probe], entrypoint=[], remove=True, network_mode="none").decode().strip()
        except docker.errors.DockerException as exc:
            raise RuntimeError(f"the function's image {image} has no shell to start it: {exc}") from None
    runtime = _entries[(found.id, handler)]
    if not runtime:
        raise RuntimeError(f"the handler {handler} of the image {image} is neither a .py nor a .js module under "
                           "/var/task: pipemu runs Python and Node.js functions")
    return runtime, handler


def default_images() -> dict[str, str]:
    """Every runtime pipemu knows, mapped to its default image tag."""
    return {rt: runtime_image_tag(rt) for rt in PYTHON_RUNTIMES + NODEJS_RUNTIMES}


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/pipemu`, or `~/.cache/pipemu`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pipemu"


# ---------------------------------------------------------------- the debootstrap base

def apt_mirror(root: Path = Path("/")) -> str:
    """The Debian mirror apt already uses for the main archive (not security), or the default."""
    candidates: list[str] = []
    lists = [root / "etc/apt/sources.list"]
    lists += sorted((root / "etc/apt/sources.list.d").glob("*.list"))
    for path in lists:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                candidates.append(words[1])
    for path in sorted((root / "etc/apt/sources.list.d").glob("*.sources")):
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        for stanza in re.split(r"\n\s*\n", text):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
            if ("deb" in fields.get("types", "").split()
                    and SUITE in fields.get("suites", "").split()
                    and fields.get("enabled", "yes").lower() != "no"):
                candidates.extend(fields.get("uris", "").split())
    for uri in candidates:
        if "security" not in uri:
            return uri.rstrip("/")
    return DEFAULT_MIRROR


def _run(cmd: list[str], what: str, timeout: float, **kw) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, **kw)
    except FileNotFoundError:
        raise RuntimeError(f"{what} failed: {cmd[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{what} failed: timed out after {timeout:g} s") from None
    if proc.returncode != 0:
        out = (proc.stdout or b"") + (proc.stderr or b"")
        tail = "\n".join(out.decode("utf-8", "replace").strip().splitlines()[-15:])
        raise RuntimeError(f"{what} failed (exit status {proc.returncode}): {tail}")
    return proc


def _rootfs_tarball(log: Callable[[str], None]) -> Path:
    """The cached debootstrap rootfs tarball, made now if missing (about a minute)."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    tarball = folder / f"rootfs-{SUITE}-{'-'.join(PACKAGES).replace('ca-certificates', 'ca')}.tar"
    if tarball.exists():
        log(f"[pipemu] using cached rootfs {tarball}")
        return tarball
    if os.geteuid() != 0:
        raise RuntimeError("building the Lambda base image needs debootstrap run as root: run "
                           "pipemu once as root, or import an image and pass its tag")
    if not shutil.which("debootstrap"):
        raise RuntimeError("building the Lambda base image needs debootstrap "
                           "(apt-get install debootstrap)")
    mirror = apt_mirror()
    log(f"[pipemu] debootstrap {SUITE} from {mirror} with {','.join(PACKAGES)} "
        "(about a minute, once)")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rootfs-", dir=folder) as tmp:
        rootfs = Path(tmp) / "rootfs"
        _run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE,
              str(rootfs), mirror], "debootstrap", 1800)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (rootfs / junk).glob("*"):
                if entry.is_file():
                    entry.unlink()
        partial = Path(tmp) / "rootfs.tar"
        _run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."],
             "tar of the debootstrap rootfs", 600)
        os.replace(partial, tarball)
    log(f"[pipemu] rootfs ready in {time.monotonic() - t0:.0f} s: {tarball}")
    return tarball


def ensure_base_image(client, log: Callable[[str], None] = print) -> str:
    """The imported debootstrap image (BASE_TAG) both runtime images are layered on.

    Made under a lock of its own (lambda-base.lock; ensure_runtime_image holds lambda-images.lock
    when it calls this, always in that order): the sample's images, scripts/build-image.sh and
    parallel test workers call it directly, and two processes would otherwise both debootstrap."""
    if image_exists(client, BASE_TAG):
        return BASE_TAG
    with _lock(log, "lambda-base.lock"):
        if image_exists(client, BASE_TAG):  # made by another process meanwhile
            return BASE_TAG
        return _import_base_image(client, log)


def _import_base_image(client, log: Callable[[str], None]) -> str:
    tarball = _rootfs_tarball(log)
    repo, _, tag = BASE_TAG.rpartition(":")
    log(f"[pipemu] importing {tarball.name} as {BASE_TAG}")
    try:
        client.api.import_image_from_file(str(tarball), repository=repo, tag=tag)
    except docker.errors.DockerException as exc:
        raise RuntimeError(f"docker import of {tarball} failed: {exc}") from None
    if not image_exists(client, BASE_TAG):
        raise RuntimeError(f"docker import of {tarball} did not produce {BASE_TAG}")
    return BASE_TAG


# ---------------------------------------------------------------- the SDK layers

def _pip_boto3(dest: Path, log: Callable[[str], None]) -> None:
    log(f"[pipemu] pip install --target {dest} {PYTHON_SDK} (on the host)")
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          "--no-input", "--no-compile", "--only-binary=:all:", "--python-version", "3.11",
          "--implementation", "py", "--target", str(dest), PYTHON_SDK],
         f"pip install {PYTHON_SDK}", 600)


def _npm_sdk(dest: Path, log: Callable[[str], None]) -> None:
    log(f"[pipemu] npm install {NODE_SDK} (on the host)")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "package.json").write_text('{"name": "pipemu-lambda-sdk", "private": true}\n')
    _run(["npm", "install", "--no-audit", "--no-fund", "--no-save", "--omit=dev",
          "--no-package-lock", "--prefix", str(dest), NODE_SDK, NODE_SDK_V2],
         f"npm install {NODE_SDK} {NODE_SDK_V2}", 600, cwd=str(dest))
    if not (dest / "node_modules" / "@aws-sdk" / "client-codepipeline").is_dir():
        raise RuntimeError(f"npm install {NODE_SDK} did not produce node_modules/@aws-sdk/"
                           "client-codepipeline")


def _context(dockerfile: str, files: dict[str, Path]):
    fh = tempfile.TemporaryFile()

    def owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(fileobj=fh, mode="w") as tar:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size, info.mtime = len(data), int(time.time())
        tar.addfile(info, io.BytesIO(data))
        for arcname, path in files.items():
            tar.add(str(path), arcname=arcname, filter=owned)
    fh.seek(0)
    return fh


def _build(client, tag: str, dockerfile: str, files: dict[str, Path],
           log: Callable[[str], None]) -> None:
    log(f"[pipemu] docker build {tag}")
    with _context(dockerfile, files) as ctx:
        try:
            client.images.build(fileobj=ctx, custom_context=True, tag=tag, rm=True, forcerm=True,
                                labels={"pipemu.image": "lambda-runtime"})
        except docker.errors.BuildError as exc:
            lines = [str(c.get("stream") or c.get("error") or "").strip() for c in exc.build_log]
            tail = "\n".join(line for line in lines if line)[-2000:]
            raise RuntimeError(f"docker build of {tag} failed: {exc}\n{tail}") from None
        except docker.errors.DockerException as exc:
            raise RuntimeError(f"docker build of {tag} failed: {exc}") from None


def _lock(log: Callable[[str], None], name: str = "lambda-images.lock"):
    """An exclusive flock on `name` in the cache folder, held while the returned file is open.
    Not reentrant (a second open of the same file in this process would wait for ever): each
    name is taken once on a path."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    fh = open(folder / name, "w")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log(f"[pipemu] another process is building Lambda images ({name}): waiting")
        fcntl.flock(fh, fcntl.LOCK_EX)
    return fh


def ensure_runtime_image(client, runtime: str, *, tag: str | None = None,
                         log: Callable[[str], None] = print) -> str:
    """Return an image tag for `runtime`, building it (offline) if no image has that tag yet.

    `tag` overrides the default tag (runtime_image_tag). An existing tag is never rebuilt, so a
    user-provided image under that tag is used as is. Raises RuntimeError saying what failed.
    """
    default = runtime_image_tag(runtime)  # ValueError for an unknown runtime
    if tag is None and (official := _official(client, runtime, log)):
        return official
    tag = tag or default
    if tag == default and default in LOCAL_VERSIONS:
        log(f"[pipemu] {runtime} runs on {default}: {LOCAL_VERSIONS[default]} (the image built offline)")
    if image_exists(client, tag):
        return tag
    with _lock(log):
        if image_exists(client, tag):  # built by another process meanwhile
            return tag
        t0 = time.monotonic()
        base = ensure_base_image(client, log)
        with tempfile.TemporaryDirectory(prefix="pipemu-lambda-") as tmp:
            work = Path(tmp)
            if default == PYTHON_TAG:
                _pip_boto3(work / "python", log)
                _build(client, tag, _PYTHON_DOCKERFILE.format(base=base),
                       {"python": work / "python",
                        "bootstrap.py": BOOTSTRAP_DIR / "bootstrap.py"}, log)
            else:
                _npm_sdk(work / "sdk", log)
                _build(client, tag, _NODEJS_DOCKERFILE.format(base=base),
                       {"node_modules": work / "sdk" / "node_modules",
                        "bootstrap.js": BOOTSTRAP_DIR / "bootstrap.js"}, log)
        log(f"[pipemu] built {tag} in {time.monotonic() - t0:.0f} s")
    return tag


__all__ = ["BASE_TAG", "NODEJS_TAG", "PYTHON_TAG", "apt_mirror", "cache_dir", "default_images",
           "ensure_base_image", "ensure_runtime_image", "image_entry", "official_image", "runtime_image_tag"]
