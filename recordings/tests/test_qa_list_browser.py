"""The QA list in a real browser (Debian's Chromium) at 1400 px, against a live server,
with a week's worth of recordings (100): a Support member narrows it by outcome and by
words said, opens a row's call, and plays a row's recording in its small player.

Screenshots land in artifacts/: qa-list.png (the first screenful), qa-list-full.png (the
first page), qa-list-cancel.png (the words "cancel", completed only).
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from calls.tests.browser import ARTIFACTS
from calls.tests.console_data import PASSWORD, support_member
from recordings.tests.qa_data import qa_recordings

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def week(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    made = qa_recordings(100, audio_seconds_cap=30)
    support_member("sam")
    return made


def sign_in(page: Page, live_server) -> None:
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "sam")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def test_support_narrows_the_qa_list_and_plays_a_row(week, live_server, page: Page):
    sign_in(page, live_server)
    page.goto(live_server.url + reverse("admin:recordings_recording_changelist"))

    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(50)  # the first page of a hundred
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "qa-list.png")  # what support sees first
    page.screenshot(path=ARTIFACTS / "qa-list-full.png", full_page=True)
    # At 1400 px the whole row shows: neither the page nor the table scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    results = page.locator("#changelist .results")
    assert results.evaluate("r => r.scrollWidth <= r.clientWidth"), results.evaluate(
        "r => [r.scrollWidth, r.clientWidth]"
    )

    # Outcome: audio unavailable, from the filter's own link.
    page.locator("#changelist-filter a", has_text="Audio unavailable").click()
    unavailable = [m for m in week if m.outcome == "unavailable"]
    expect(rows).to_have_count(len(unavailable))
    expect(rows.first.locator("td.field-outcome_shown")).to_contain_text("Audio unavailable")
    expect(rows.locator("audio")).to_have_count(0)

    # Words said, among completed recordings.
    page.goto(live_server.url + reverse("admin:recordings_recording_changelist"))
    page.locator("#changelist-filter a", has_text="Completed").first.click()
    page.fill("#searchbar", "cancel")
    page.press("#searchbar", "Enter")
    saying = [
        m
        for m in week
        if m.outcome == "completed"
        and m.recording.transcript_state == "done"
        and "cancel" in m.recording.transcript.lower()
    ]
    expect(rows).to_have_count(len(saying))
    expect(rows.locator("td.field-said mark").first).to_have_text("cancel")
    page.screenshot(path=ARTIFACTS / "qa-list-cancel.png", full_page=True)

    # A row plays, through the protected audio view, without leaving the list.
    player = rows.first.locator("audio.mv-row-player")
    player.evaluate("a => a.play()")
    page.wait_for_function("a => a.currentTime > 0.5", arg=player.element_handle())
    assert player.evaluate("a => a.error") is None
    player.evaluate("a => a.pause()")

    # And the row's call opens the call's page.
    call_id = rows.first.locator("td.field-call_shown a").inner_text()
    rows.first.locator("td.field-call_shown a").click()
    expect(page.locator("#content h2, #content h1").first).to_be_visible()
    assert call_id in page.content()
