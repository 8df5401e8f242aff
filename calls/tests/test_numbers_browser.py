"""A Support member's call page in a real browser (Debian's Chromium): every number on it
masked, in the fields, the story, the lane chart's tooltips, the entries, the exact JSON
and the transcript; a Support lead's the same page, in full, and the trail says so.

Screenshots of both at 1400 px land in artifacts/ (git-ignored)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from calls.models import Call
from calls.tests.browser import ARTIFACTS
from calls.tests.console_data import send_call, support_lead, support_member
from calls.tests.test_admin_browser import _sign_in
from recordings.models import AudioState, Recording, TranscriptState

pytestmark = pytest.mark.django_db(transaction=True)

SAID = "Hello, this is about my order. Call me back on 415 555 0123 please."


@pytest.fixture
def call(transactional_db, post_answer, post_webhook) -> Call:
    support_member("sam")
    support_lead("lea")
    call = send_call(
        post_answer,
        post_webhook,
        call_id="call_masked",
        from_number="+14155550123",
        to_number="+14155550199",
        recording="completed",
    )
    Recording.objects.filter(call=call).update(
        audio_state=AudioState.STORED,
        audio_key="recordings/ma/rec_call_masked.wav",
        transcript_state=TranscriptState.DONE,
        transcript=SAID,
        transcript_segments=[{"start_seconds": 4.2, "end_seconds": 9.0, "text": SAID}],
    )
    return call


def test_a_support_member_sees_every_number_on_the_call_page_masked(call, live_server, page: Page):
    _sign_in(page, live_server, "sam")
    page.goto(live_server.url + reverse("admin:calls_call_change", args=[call.pk]))

    expect(page.locator(".field-from_shown")).to_contain_text("+1•••••0123")
    expect(page.locator(".field-to_shown")).to_contain_text("+1•••••0199")
    expect(page.locator("#mv-story")).to_contain_text("+1•••••0123 called +1•••••0199")
    expect(page.locator("ol.mv-transcript")).to_contain_text("Call me back on •••••0123 please")
    tooltips = " ".join(page.locator("svg.mv-lanes title").all_text_contents())
    assert "recording" in tooltips.lower() and "4155550123" not in tooltips
    # Our answer's exact JSON: what MiniVoice sent, with the call's numbers.
    page.locator("#mv-entries tr.mv-kind-answer_url details summary").first.click()
    exact = page.locator("#mv-entries details[open]").first
    expect(exact).to_contain_text('"from": "+1•••••0123"')
    expect(exact).to_contain_text('"to": "+1•••••0199"')
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "call-page-support-masked.png", full_page=True)
    # Everything the browser shows, and everything it was sent.
    text = page.locator("body").inner_text()
    html = page.content()
    for digits in ("4155550123", "4155550199", "415 555 0123"):
        assert digits not in text and digits not in html, digits
    expect(page.locator("#mv-audit")).to_contain_text("Nobody has listened")


def test_a_support_lead_sees_them_in_full_and_the_page_says_who_saw_them(
    call, live_server, page: Page
):
    _sign_in(page, live_server, "lea")
    page.goto(live_server.url + reverse("admin:calls_call_change", args=[call.pk]))

    expect(page.locator("#mv-story")).to_contain_text("+14155550123 called +14155550199")
    expect(page.locator("ol.mv-transcript")).to_contain_text("Call me back on 415 555 0123")
    expect(page.locator("#mv-audit")).to_contain_text("Saw a call's numbers in full")
    expect(page.locator("#mv-audit")).to_contain_text("by lea at")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "call-page-lead-full.png", full_page=True)
