"""The pytest plugin of pipemu.testing: the `pipemu_daemon` fixture.

    def test_release(pipemu_daemon):
        kit = pipemu_daemon({"service.yml": {...}})        # or a folder of definitions
        kit.commit("service-a", "c1")
        kit.assert_table("my-service-a-pipeline", ["c1 ✓", "c1 ✓", "c1 ◯"])

Every daemon the test started is stopped after it, its containers (if any ran) removed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .daemon import Daemon, init_repo
from .kit import Pipemu


def start_daemon(root: Path, definitions: Path | dict[str, dict | str], *, simulate: bool = True,
                 env: dict[str, str] | None = None) -> Pipemu:
    """Start a daemon whose state is under `root`. `definitions` is a folder of definition files
    (used where it is: its relative paths stay right) or {file name: mapping or YAML text}, written
    to `root/pipelines`. Declared repositories missing on disk are made (empty, branch main), so
    a test's first commit starts their pipelines. `simulate` starts it with PIPEMU_SIMULATE=1."""
    from emulator.definitions.loader import load_folder

    root = Path(root)
    if isinstance(definitions, dict):
        folder = root / "pipelines"
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in definitions.items():
            text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
            (folder / name).write_text(text, encoding="utf-8")
    else:
        folder = Path(definitions)
    loaded = load_folder(folder)
    if loaded.errors:
        raise ValueError("the definitions do not load:\n" + "\n".join(map(str, loaded.errors)))
    repositories = {}
    for name, repository in loaded.repositories.items():
        path = Path(repository.path)
        if not (path / ".git").exists() and not (path / "HEAD").exists():
            init_repo(path)
        repositories[name] = path
    environment = {"PIPEMU_SIMULATE": "1" if simulate else "0", **(env or {})}
    daemon = Daemon(folder, root / ".pipemu-state", env=environment).start()
    return Pipemu(daemon, folder, repositories)


@pytest.fixture
def pipemu_daemon(tmp_path):
    """A factory: `pipemu_daemon(definitions, simulate=True, env=None)` -> a started `Pipemu`."""
    started: list[Pipemu] = []

    def start(definitions: Path | dict[str, dict | str], *, simulate: bool = True,
              env: dict[str, str] | None = None) -> Pipemu:
        kit = start_daemon(tmp_path / f"pipemu-{len(started)}", definitions, simulate=simulate, env=env)
        started.append(kit)
        return kit

    yield start
    for kit in started:
        kit.stop()
