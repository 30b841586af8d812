"""`pipemu play FILE`: a trainer's scenario, different from the article (another pipeline's
shape, an approval named otherwise, other labels), played through the real daemon and checked
table by table; a wrong expectation stops the play with both tables shown."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from tests.e2e import article_pipeline as ap
from tests.support.daemon import ROOT, Daemon

pytestmark = pytest.mark.docker

HOTFIX = """\
# A hotfix story: a change waiting at the review is replaced by a newer one, a review rejects.
pipeline: hotfix
repo: repo
stages: [Source, Build, Review, Release]
columns: [Source+Build, Review, Release]
rows:
  - {step: commit h1,           expect: [h1 ✓, h1 ◯, "-"]}
  - {step: commit h2,           expect: [h2 ✓, h1 ◯, "-"]}
  - {step: reject h1 in Review, expect: [h2 ✓, h2 ◯, "-"]}
  - {step: approve h2 in Review, expect: [h2 ✓, h2 ✓, h2 ✓]}
"""


def definition(repo, image) -> dict:
    sign_off = {**ap.approve(1), "name": "sign-off"}
    return {
        "pipeline": {"name": "hotfix", "executionMode": "SUPERSEDED", "stages": [
            {"name": "Source", "actions": [{**ap.codecommit_source("hotfix-repo"), "namespace": "SourceVariables"}]},
            {"name": "Build", "actions": [ap.codebuild("build", "hotfix-build", ["SourceOutput"], ["BuildOutput"])]},
            {"name": "Review", "actions": [sign_off]},
            {"name": "Release", "actions": [ap.codebuild("release", "hotfix-deploy", ["BuildOutput"])]},
        ]},
        "repositories": {"hotfix-repo": {"path": str(repo)}},
        "projects": {"hotfix-build": {"image": image, "buildspec": ap.BUILD},
                     "hotfix-deploy": {"image": image, "buildspec": ap.DEPLOY}},
    }


def play(daemon, scenario) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emulator.cli", "play", str(scenario), "--endpoint", daemon.endpoint],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_a_trainers_scenario_plays_and_a_wrong_table_stops_it(tmp_path, busybox_image):
    from tests.support.daemon import commit, init_repo

    repo = init_repo(tmp_path / "repo")
    commit(repo, "initial", {"app.txt": "hotfix\n"})
    ap.write(tmp_path / "pipelines", definition(repo, busybox_image))
    (tmp_path / "hotfix.yaml").write_text(HOTFIX)
    wrong = yaml.safe_load(HOTFIX)
    wrong["rows"][2]["expect"] = ["h2 ✓", "h1 ✗", "-"]  # a trainer's mistake: h2 enters the review at once
    (tmp_path / "wrong.yaml").write_text(yaml.safe_dump(wrong, allow_unicode=True))
    (tmp_path / "broken.yaml").write_text(HOTFIX.replace("reject h1 in Review", "reject h1 in Reviews"))
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    try:
        done = play(daemon, tmp_path / "hotfix.yaml")
        assert done.returncode == 0, done.stdout + done.stderr
        lines = done.stdout.splitlines()
        assert lines[-1].endswith("every table as expected")
        row = next(line for line in lines if line.startswith("approve h2 in Review"))
        assert row.split()[4:] == ["h2", "✓", "h2", "✓", "h2", "✓", "same"]

        stopped = play(daemon, tmp_path / "wrong.yaml")
        assert stopped.returncode == 1, stopped.stdout + stopped.stderr
        out = stopped.stdout
        assert "differs: h2 ✓ | h1 ✗ | -" in out and "approve h2 in Review" not in out  # stopped there
        expected_table, seen_table = out.split("\nexpected:\n")[1].split("\nseen:\n")
        assert "h1 ✗" in expected_table.splitlines()[-1] and "h2 ◯" in seen_table.splitlines()[-2]

        broken = play(daemon, tmp_path / "broken.yaml")
        assert broken.returncode == 2 and "rows[3]" in broken.stderr and "Reviews is not one of the stages" in broken.stderr
        assert len(broken.stderr.strip().splitlines()) == 1  # one line, no traceback
    finally:
        daemon.stop()
