"""The console works under its Content-Security-Policy, in a real browser (Debian's
Chromium) against a live server: no inline script or style runs, so any left would show
as a violation. A Support member opens the call page of a call still going on (its lane
chart, its live poll, its player and a transcript line that plays from there), the flow
page and the recording's page with its player; the browser reports no violation.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from calls.models import Call, Flow
from calls.tests.browser import csp_complaints
from calls.tests.console_data import PASSWORD, support_member
from calls.tests.test_admin_browser import _deliver_to
from conftest import minivoice_event
from recordings.models import AudioState, Recording

pytestmark = pytest.mark.django_db(transaction=True)

# Every violation the page sees, kept where the test can read it.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__violations.push(event.violatedDirective + " " + (event.blockedURI || "inline"));
});
"""


@pytest.fixture
def call_going_on(emulator, post_answer, post_webhook) -> Call:
    """Answered a few seconds ago and still going on; its first recording completed, its
    audio stored and transcribed. And Sam, a member of Support."""
    began = (timezone.now() - timedelta(seconds=20)).isoformat()
    emulator.add_recording("rec_csp", call_id="call_csp", seconds=11, spoken=[(0.5, "Hello")])
    post_webhook(minivoice_event("call.initiated", call_id="call_csp", created_at=began))
    post_answer({"call": {"id": "call_csp"}, "variables": {}, "created_at": began})
    for payload in [
        minivoice_event("call.answered", call_id="call_csp", created_at=began),
        minivoice_event(
            "recording.started", call_id="call_csp", created_at=began, recording_id="rec_csp"
        ),
        minivoice_event(
            "recording.completed",
            call_id="call_csp",
            created_at=timezone.now().isoformat(),
            recording_id="rec_csp",
            status="completed",
            duration_seconds=11,
            format="wav",
            size_bytes=44 + 16000 * 11,
        ),
    ]:
        assert post_webhook(payload).status_code == 202
    recording = Recording.objects.get(minivoice_id="rec_csp")
    assert recording.audio_state == AudioState.STORED
    Recording.objects.filter(pk=recording.pk).update(
        transcript_state="done",
        transcript="Hello. Press one.",
        transcript_segments=[
            {"start_seconds": 0.5, "end_seconds": 2.0, "text": "Hello."},
            {"start_seconds": 6.0, "end_seconds": 8.0, "text": "Press one."},
        ],
    )
    support_member("sam")
    return Call.objects.get(minivoice_id="call_csp")


def _violations(page: Page, console: list[str]) -> list[str]:
    """The page's own report (`securitypolicyviolation`) and the console's."""
    return page.evaluate("window.__violations") + console


def test_the_console_works_under_its_content_security_policy(
    call_going_on, live_server, page: Page, monkeypatch
):
    monkeypatch.setattr("calls.console.views.POLL_EVERY_MS", 300)
    console = csp_complaints(page)
    page.add_init_script(WATCH_VIOLATIONS)
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "sam")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_contain_text("MiniVoice support")
    assert _violations(page, console) == []

    # The call's page: the lane chart, the live poll, the player and a transcript line.
    page.goto(live_server.url + reverse("admin:calls_call_change", args=[call_going_on.pk]))
    expect(page.locator("svg.mv-lanes")).to_be_visible()
    # Styled from the static file: the legend's dots have their colours.
    dot = page.locator(".mv-legend .mv-dot-wrong")
    assert dot.evaluate("d => getComputedStyle(d).backgroundColor") == "rgb(186, 33, 33)"
    entries = page.locator("#mv-entries")
    _deliver_to(
        live_server,
        page,
        minivoice_event(
            "call.completed",
            call_id="call_csp",
            created_at=timezone.now().isoformat(),
            status="completed",
            duration_seconds=30,
        ),
    )
    expect(entries).to_contain_text("call.completed")  # the poll's script ran and fetched
    expect(page.locator("#mv-timeline")).to_have_attribute("data-live", "ended")
    player = page.locator("#mv-entries audio.mv-player")
    page.wait_for_function("a => a.readyState >= 1", arg=player.element_handle())
    # The poll replaced the timeline's HTML: its lines still play from their time.
    page.locator("button.mv-seek", has_text="Press one.").click()
    page.wait_for_function("a => a.currentTime >= 6", arg=player.element_handle())
    assert _violations(page, console) == []

    # The flow's page, and the recording's page with its player.
    flow = Flow.objects.get(is_default=True)
    page.goto(live_server.url + reverse("admin:calls_flow_change", args=[flow.pk]))
    expect(page.locator("#content")).to_contain_text(flow.name)
    recording = Recording.objects.get(minivoice_id="rec_csp")
    page.goto(live_server.url + reverse("admin:recordings_recording_change", args=[recording.pk]))
    player = page.locator("#mv-audio audio.mv-player")
    page.wait_for_function("a => a.readyState >= 1 && a.duration > 10", arg=player.element_handle())
    assert _violations(page, console) == []


def test_every_admin_list_and_form_works_under_the_policy(call_going_on, live_server, page: Page):
    """A superuser sees every model: each list, its first row's page and its add page."""
    get_user_model().objects.create_superuser("root", password=PASSWORD)
    console = csp_complaints(page)  # every page's complaints (the listener: the last page's)
    page.add_init_script(WATCH_VIOLATIONS)
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    lists = page.eval_on_selector_all(
        "#content-main .app-list a[href$='/'], #content-main table a[href$='/']",
        "links => [...new Set(links.map(a => a.getAttribute('href')))]",
    )
    lists = [href for href in lists if href.count("/") == 4 and not href.endswith("/add/")]
    assert len(lists) >= 8, lists
    seen = []
    for href in lists:
        page.goto(live_server.url + href)
        seen.append(href)
        first = page.locator("#result_list tbody tr th a, #result_list tbody tr td a").first
        if first.count():
            first.click()
            seen.append(page.url)
        if page.goto(live_server.url + href + "add/").status == 200:
            seen.append(href + "add/")
    assert _violations(page, console) == [], seen
