"""Local Docker images for pipemu: check for an image, and build a busybox image without a registry.

No registry is reachable on the machines pipemu targets, so the busybox image the tests (and
simple actions) need is built locally from a static busybox binary found on the machine.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import tarfile
import tempfile
from pathlib import Path

import docker.errors

DEFAULT_BUSYBOX_TAG = "pipemu/busybox:latest"

_PT_INTERP = 3  # ELF program header type naming the dynamic loader

_DOCKERFILE = b"""FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN ["/bin/busybox", "mkdir", "-p", "/tmp", "/root", "/usr/bin", "/sbin", "/usr/sbin", "/etc"]
RUN ["/bin/busybox", "chmod", "1777", "/tmp"]
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["/bin/sh"]
"""


def image_exists(client, tag: str) -> bool:
    """True when the engine holds an image by this name or id (never pulls)."""
    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def is_static_elf(path: Path) -> bool:
    """True when `path` is an ELF executable without a PT_INTERP header (no dynamic loader).

    A dynamically linked busybox would not run in a FROM scratch image, which has no libc.
    """
    try:
        with open(path, "rb") as fh:
            ident = fh.read(64)
            if len(ident) < 52 or ident[:4] != b"\x7fELF":
                return False
            is64 = ident[4] == 2
            endian = "<" if ident[5] == 1 else ">"
            if is64:
                (phoff,) = struct.unpack_from(endian + "Q", ident, 0x20)
                phentsize, phnum = struct.unpack_from(endian + "HH", ident, 0x36)
            else:
                (phoff,) = struct.unpack_from(endian + "I", ident, 0x1C)
                phentsize, phnum = struct.unpack_from(endian + "HH", ident, 0x2A)
            if phnum == 0 or phentsize < 4:
                return False
            for i in range(phnum):
                fh.seek(phoff + i * phentsize)
                raw = fh.read(4)
                if len(raw) < 4:
                    return False
                if struct.unpack(endian + "I", raw)[0] == _PT_INTERP:
                    return False
            return True
    except OSError:
        return False


def _local_static_busybox(tried: list[str]) -> Path | None:
    candidates: list[Path] = []
    found = shutil.which("busybox")
    if found:
        candidates.append(Path(found))
    candidates.append(Path("/bin/busybox"))
    for cand in candidates:
        if not cand.exists():
            tried.append(f"{cand}: missing")
        elif is_static_elf(cand):
            return cand
        else:
            tried.append(f"{cand}: not a static ELF")
    return None


def _downloaded_static_busybox(workdir: Path, tried: list[str]) -> Path | None:
    # apt-get download and dpkg-deb -x need no root: the package is only unpacked, not installed.
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        tried.append("apt-get download busybox-static: apt-get/dpkg-deb not available")
        return None
    try:
        subprocess.run(
            ["apt-get", "download", "busybox-static"],
            cwd=workdir, check=True, capture_output=True, timeout=120,
        )
        debs = sorted(workdir.glob("busybox-static*.deb"))
        if not debs:
            tried.append("apt-get download busybox-static: no .deb produced")
            return None
        root = workdir / "root"
        subprocess.run(
            ["dpkg-deb", "-x", str(debs[0]), str(root)], check=True, capture_output=True, timeout=120
        )
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        tried.append(f"apt-get download busybox-static: {exc} {detail.decode(errors='replace').strip()}")
        return None
    for rel in ("bin/busybox", "usr/bin/busybox"):
        cand = root / rel
        if cand.exists() and is_static_elf(cand):
            return cand
    tried.append("apt-get download busybox-static: no static busybox in the package")
    return None


def _build_context(busybox: Path) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(_DOCKERFILE)
        tar.addfile(info, io.BytesIO(_DOCKERFILE))
        info = tar.gettarinfo(str(busybox), arcname="busybox")
        info.mode = 0o755
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        with open(busybox, "rb") as fh:
            tar.addfile(info, fh)
    buf.seek(0)
    return buf


def _build_from(client, busybox: Path, tag: str) -> None:
    client.images.build(fileobj=_build_context(busybox), custom_context=True, tag=tag, rm=True,
                        forcerm=True)


def ensure_busybox_image(client, tag: str = DEFAULT_BUSYBOX_TAG) -> str:
    """Return `tag`, building a FROM scratch busybox image under it if it does not exist yet."""
    if image_exists(client, tag):
        return tag  # never rebuild what exists: builds are reused by tag
    tried: list[str] = []
    busybox = _local_static_busybox(tried)
    if busybox is not None:
        try:
            _build_from(client, busybox, tag)
            return tag
        except docker.errors.DockerException as exc:
            tried.append(f"build from {busybox}: {exc}")
    with tempfile.TemporaryDirectory(prefix="pipemu-busybox-") as tmp:
        busybox = _downloaded_static_busybox(Path(tmp), tried)
        if busybox is not None:
            try:
                _build_from(client, busybox, tag)
                return tag
            except docker.errors.DockerException as exc:
                tried.append(f"build from downloaded busybox-static: {exc}")
    # Last resort, for machines that do reach a registry.
    try:
        image = client.images.pull("busybox", tag="stable")
        repo, _, version = tag.rpartition(":") if ":" in tag.rsplit("/", 1)[-1] else (tag, "", "latest")
        image.tag(repo, tag=version or "latest")
        return tag
    except docker.errors.DockerException as exc:
        tried.append(f"docker pull busybox:stable: {exc}")
    raise RuntimeError(
        f"cannot provide image {tag}: no static busybox could be found or pulled. Tried: "
        + "; ".join(tried)
        + ". Install Debian's busybox-static (apt-get install busybox-static) and retry."
    )


__all__ = ["DEFAULT_BUSYBOX_TAG", "ensure_busybox_image", "image_exists", "is_static_elf"]
