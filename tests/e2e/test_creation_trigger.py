"""A pipeline whose source watches for changes starts once when created, as AWS does; a
restart does not start it again. (PollForSourceChanges "false" starts nothing: test_api_errors.)"""

from __future__ import annotations

import pytest

from tests.e2e import article_pipeline
from tests.e2e.waiting import settle
from tests.support.daemon import Daemon

pytestmark = pytest.mark.docker


def test_creation_starts_one_execution(tmp_path, service_repo, busybox_image):
    definition = article_pipeline.service_pipeline("watched", service_repo, busybox_image, poll=True)
    article_pipeline.write(tmp_path / "pipelines", definition)
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    try:
        client = daemon.client()
        summaries = client.list_pipeline_executions(pipelineName="watched")["pipelineExecutionSummaries"]
        assert [s["trigger"]["triggerType"] for s in summaries] == ["CreatePipeline"]
        settle(client, "watched")
    finally:
        daemon.stop()
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state", port=daemon.port).start()
    try:
        summaries = daemon.client().list_pipeline_executions(pipelineName="watched")["pipelineExecutionSummaries"]
        assert len(summaries) == 1
        assert summaries[0]["sourceRevisions"][0]["actionName"] == "source"
    finally:
        daemon.stop()
