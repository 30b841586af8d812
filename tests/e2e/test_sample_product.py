"""The sample product's preparation, as the README's main command runs it."""

from __future__ import annotations

import shutil

from emulator import sample
from tests.support.daemon import ROOT, git


def test_sample_repositories_are_made_once(tmp_path):
    shutil.copytree(ROOT / "sample_services", tmp_path / "sample_services")
    made = sample.prepare_repositories(tmp_path)
    assert sorted(p.name for p in made) == ["e2e-tests", "service-a", "service-b"]
    for repo in made:
        assert git(repo, "log", "--format=%s") == f"{repo.name}: initial version"
        assert git(repo, "status", "--porcelain") == ""
    (made[0] / "extra.txt").write_text("a developer's work")
    assert sample.prepare_repositories(tmp_path) == []  # never remade: the developer's work stays
    assert (made[0] / "extra.txt").exists()
