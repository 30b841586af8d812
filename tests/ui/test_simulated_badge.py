"""A simulated daemon (`pipemu serve --simulate`) says so in the dashboard's top bar, so that
nobody takes its runs for real ones; a daemon that runs containers shows no such badge."""

from __future__ import annotations

from tests.support.daemon import Daemon


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def test_the_top_bar_says_when_the_daemon_is_simulated(tmp_path, page):
    (tmp_path / "pipelines").mkdir()
    for simulated in ("1", "0"):
        daemon = Daemon(tmp_path / "pipelines", tmp_path / f"state-{simulated}",
                        env={"PIPEMU_SIMULATE": simulated}).start()
        try:
            page.goto(daemon.endpoint + "/ui")
            expect(page.locator("#view")).to_contain_text("No pipelines yet")  # the page has loaded /health
            badge = page.locator("#simulated")
            if simulated == "1":
                expect(badge).to_be_visible()
                expect(badge).to_have_text("simulated")
            else:
                expect(badge).to_be_hidden()
        finally:
            daemon.stop()
