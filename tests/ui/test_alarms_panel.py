"""The dashboard's Alarms panel in a real headless Chromium: it lists the alarm stand-ins with their
states, and its buttons set them through CloudWatch's API, signed for `monitoring` when the daemon
has credentials."""

from __future__ import annotations

import boto3

from tests.support.daemon import Daemon


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def test_the_alarms_panel_shows_and_sets_states_signed(tmp_path, page):
    key, secret = "AKIDTRAINER", "trainer-secret"
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "alarms.yml").write_text(
        "alarms:\n  api-errors: {description: 5xx answers}\n  api-latency: {state: OK}\n")
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state",
                    env={"PIPEMU_ACCESS_KEY": key, "PIPEMU_SECRET_KEY": secret}).start()
    try:
        page.goto(daemon.endpoint + "/ui")
        dialog = page.locator("dialog#credentials")
        expect(dialog).to_be_visible()
        dialog.locator("input[name=accessKey]").fill(key)
        dialog.locator("input[name=secretKey]").fill(secret)
        dialog.get_by_role("button", name="Sign in").click()
        expect(dialog).to_be_hidden()

        errors = page.locator('.alarms tr[data-alarm="api-errors"]')
        expect(errors.locator(".alarm-state")).to_have_text("INSUFFICIENT_DATA")
        expect(page.locator('.alarms tr[data-alarm="api-latency"] .alarm-state')).to_have_text("OK")
        errors.get_by_role("button", name="Set ALARM").click()
        expect(errors.locator(".alarm-state")).to_have_text("ALARM")
        expect(errors.get_by_role("button", name="Set ALARM")).to_be_disabled()

        cloudwatch = boto3.client("cloudwatch", endpoint_url=daemon.endpoint, region_name="us-east-1",
                                  aws_access_key_id=key, aws_secret_access_key=secret)
        alarm = cloudwatch.describe_alarms(AlarmNames=["api-errors"])["MetricAlarms"][0]
        assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "Set from the pipemu dashboard")
        errors.get_by_role("button", name="Set OK").click()
        expect(errors.locator(".alarm-state")).to_have_text("OK")
        # Set by another client: the panel follows live, as the pipelines do.
        cloudwatch.set_alarm_state(AlarmName="api-latency", StateValue="ALARM", StateReason="from boto3")
        expect(page.locator('.alarms tr[data-alarm="api-latency"] .alarm-state')).to_have_text("ALARM")
    finally:
        daemon.stop()
