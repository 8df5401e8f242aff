"""Support staff's path through the admin, in a real browser (Debian's Chromium) against a
live server: a member of the Support group signs in, finds a call, reads its story, gets
from the dashboard to a failed recording's call, and can change nothing.

Screenshots of the call list, the call page and the dashboard at 1400 px land in
artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from calls.models import Call, CallProblem, WebhookEvent
from calls.protocol.signatures import signed_headers
from calls.tests.browser import ARTIFACTS
from calls.tests.console_data import PASSWORD, send_call, support_member
from calls.tests.flow_data import ask, collect_url, main_line_published
from conftest import TEST_SECRET, WEBHOOK_URL, minivoice_event
from recordings.models import Recording

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def calls(transactional_db, post_answer, post_webhook) -> dict[str, Call]:
    """Three calls of today: one whose recording never completed, one whose recording
    failed, one that went well; and a member of Support."""
    support_member("sam")
    return {
        call_id: send_call(post_answer, post_webhook, call_id=call_id, recording=recording)
        for call_id, recording in [
            ("call_unfinished", "never_completed"),
            ("call_failedrec", "failed"),
            ("call_fine", "completed"),
        ]
    }


def _sign_in(page: Page, live_server, username: str = "sam") -> None:
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_contain_text("MiniVoice support")


def test_support_finds_a_call_by_id_and_reads_its_story(calls, live_server, page: Page):
    _sign_in(page, live_server)

    page.locator("#calls-call").get_by_role("link", name="Calls").click()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "call-list.png", full_page=True)
    # Every column fits: neither the page nor the list scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    results = page.locator("#changelist .results")
    assert results.evaluate("box => box.scrollWidth <= box.clientWidth")
    page.fill("#searchbar", "call_unfinished")
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.click("#result_list >> text=call_unfinished")

    banner = page.locator("#mv-problems")
    expect(banner).to_contain_text("What went wrong on this call")
    expect(banner).to_contain_text("Recording never completed")
    # Support sees numbers masked (calls.privacy; test_numbers_browser.py for more).
    expect(page.locator("#mv-story")).to_contain_text(
        "+1•••••0100 called +1•••••0199 on 2026-05-29 at 12:00:00 UTC"
    )
    expect(page.locator("#mv-story")).to_contain_text("before the recording completed")
    chart = page.locator("svg.mv-lanes")
    expect(chart).to_be_visible()
    expect(chart).to_contain_text("Recordings")
    expect(chart).to_contain_text("started, never completed")
    offsets = page.locator("#mv-entries .mv-offset").all_inner_texts()
    seconds = [float(text.strip("+ s")) for text in offsets]
    assert seconds == sorted(seconds) and len(seconds) == 9
    titles = page.locator("#mv-entries .mv-title").all_inner_texts()
    assert titles[0] == "initiated" and titles[-1] == "ended: completed"
    assert "recording.started" in titles

    # The exact JSON is one click away, laid out as JSON.
    page.locator("#mv-entries details").first.locator("summary").click()
    expect(page.locator("#mv-entries details[open] pre").first).to_contain_text('"event"')

    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("details[open] summary").first.click()  # closed again for the picture
    page.screenshot(path=ARTIFACTS / "call-page.png", full_page=True)

    # The logs fit the window too.
    for name in ["webhookevent", "answerexchange"]:
        page.goto(live_server.url + reverse(f"admin:calls_{name}_changelist"))
        page.screenshot(path=ARTIFACTS / f"{name}-list.png", full_page=True)
        results = page.locator("#changelist .results")
        assert results.evaluate("box => box.scrollWidth <= box.clientWidth"), name


def test_support_gets_from_the_dashboard_to_a_failed_recordings_call_in_three_clicks(
    calls, live_server, page: Page
):
    _sign_in(page, live_server)
    dashboard = page.locator("#mv-dashboard")
    expect(dashboard).to_contain_text("Recordings failed")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "dashboard.png", full_page=True)

    page.locator("#mv-period-24h").get_by_role("link", name="Recordings failed").click()  # 1
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.locator("#result_list").get_by_role("link", name="call_failedrec", exact=True).click()  # 2

    expect(page.locator("#mv-problems")).to_contain_text("Recording failed")
    expect(page.locator("#mv-problems")).to_contain_text("storage unavailable")
    assert page.url.endswith(reverse("admin:calls_call_change", args=[calls["call_failedrec"].pk]))


@pytest.fixture
def given_up(calls) -> WebhookEvent:
    """One of call_failedrec's events, given up after failing: replayable, if allowed."""
    event = WebhookEvent.objects.filter(call_minivoice_id="call_failedrec").first()
    WebhookEvent.objects.filter(pk=event.pk).update(state=WebhookEvent.State.GAVE_UP)
    return event


def test_a_support_member_can_change_delete_and_replay_nothing(
    calls, given_up, live_server, page: Page
):
    _sign_in(page, live_server)
    call, event = calls["call_failedrec"], given_up

    page.goto(live_server.url + reverse("admin:calls_call_change", args=[call.pk]))
    expect(page.locator("input[name=_save]")).to_have_count(0)
    expect(page.locator("a.deletelink")).to_have_count(0)
    page.goto(live_server.url + reverse("admin:calls_webhookevent_changelist"))
    expect(page.locator("select[name=action]")).to_have_count(0)

    for url in [
        reverse("admin:calls_call_delete", args=[call.pk]),
        reverse("admin:calls_webhookevent_delete", args=[event.pk]),
        reverse("admin:calls_call_add"),
    ]:
        assert page.goto(live_server.url + url).status == 403

    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    posts = [
        (reverse("admin:calls_webhookevent_changelist"), {"action": "replay_events"}, event.pk),
        (reverse("admin:calls_call_changelist"), {"action": "replay_call_events"}, call.pk),
        (reverse("admin:calls_call_changelist"), {"action": "delete_selected"}, call.pk),
    ]
    for url, form, pk in posts:
        response = page.request.post(
            live_server.url + url,
            form={**form, "_selected_action": str(pk), "csrfmiddlewaretoken": csrf},
            headers={"Referer": live_server.url + url},
        )
        assert response.status == 403, (url, form)
    change = page.request.post(
        live_server.url + reverse("admin:calls_call_change", args=[call.pk]),
        form={"status": "in_progress", "_save": "Save", "csrfmiddlewaretoken": csrf},
        headers={"Referer": live_server.url},
    )
    assert change.status == 403

    # Read back through the admin (no query from inside the browser's event loop).
    page.goto(live_server.url + reverse("admin:calls_webhookevent_change", args=[event.pk]))
    expect(page.locator(".field-state")).to_contain_text("Gave up")
    page.goto(live_server.url + reverse("admin:calls_call_change", args=[call.pk]))
    expect(page.locator(".field-status_shown")).to_contain_text("Ended: completed")


@pytest.fixture
def two_hours(transactional_db, post_answer, post_webhook) -> Call:
    """A 2-hour call whose recording completed, with a key press every 5 seconds."""
    support_member("sam")
    call = send_call(
        post_answer, post_webhook, call_id="call_long", recording="completed", ends_at=7200
    )
    WebhookEvent.objects.bulk_create(
        WebhookEvent(
            webhook_id=f"msg_dtmf_{second}",
            event_type="dtmf.received",
            call_minivoice_id="call_long",
            occurred_at=call.started_at + timedelta(seconds=second),
            received_at=call.started_at + timedelta(seconds=second),
            raw_body="{}",
            payload={},
            state=WebhookEvent.State.IGNORED,
        )
        for second in range(5, 7200, 5)
    )
    return call


def test_a_2_hour_call_reads_as_well_as_a_short_one(two_hours, live_server, page: Page):
    _sign_in(page, live_server)
    page.goto(live_server.url + reverse("admin:calls_call_change", args=[two_hours.pk]))

    chart = page.locator("svg.mv-lanes")
    expect(chart).to_contain_text("+1 h")
    expect(chart).to_contain_text("+2 h")
    expect(chart).to_contain_text("recorded 7197 s")
    expect(page.locator(".mv-gap")).to_contain_text("more event(s) here")
    expect(page.locator("#mv-story")).to_contain_text("the call ended at +2 h 0 min")
    ARTIFACTS.mkdir(exist_ok=True)
    chart.screenshot(path=ARTIFACTS / "lanes-2h.png")


def _deliver_to(live_server, page: Page, payload: dict) -> None:
    """A signed webhook to the live server, as MiniVoice sends it (while the page is open)."""
    body = json.dumps(payload).encode()
    headers = signed_headers(body=body, secret=TEST_SECRET, webhook_id=f"msg_{uuid.uuid4().hex}")
    response = page.request.post(
        live_server.url + WEBHOOK_URL,
        data=body,
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status == 202, response.text()


@pytest.fixture
def going_on(transactional_db, post_answer, post_webhook) -> Call:
    """Began a few seconds ago and answered; still in progress."""
    support_member("sam")
    began = (timezone.now() - timedelta(seconds=5)).isoformat()
    post_webhook(minivoice_event("call.initiated", call_id="call_live", created_at=began))
    post_answer({"call": {"id": "call_live"}, "variables": {}, "created_at": began})
    post_webhook(minivoice_event("call.answered", call_id="call_live", created_at=began))
    return Call.objects.get(minivoice_id="call_live")


def test_a_call_in_progress_updates_itself_and_stops_when_it_ends(
    going_on, live_server, page: Page, monkeypatch
):
    monkeypatch.setattr("calls.console.views.POLL_EVERY_MS", 300)
    _sign_in(page, live_server)
    page.goto(live_server.url + reverse("admin:calls_call_change", args=[going_on.pk]))
    expect(page.locator("#mv-problems")).to_contain_text("This call is still going on")
    entries = page.locator("#mv-entries")
    expect(entries).not_to_contain_text("recording.started")

    now = timezone.now().isoformat()
    _deliver_to(
        live_server,
        page,
        minivoice_event(
            "recording.started", call_id="call_live", created_at=now, recording_id="rec_live"
        ),
    )
    expect(entries).to_contain_text("recording.started")  # no reload: the page asked

    ended = minivoice_event("call.completed", call_id="call_live", created_at=now)
    _deliver_to(live_server, page, ended)
    expect(entries).to_contain_text("call.completed")
    expect(page.locator("#mv-timeline")).to_have_attribute("data-live", "ended")
    expect(page.locator("#mv-problems")).not_to_contain_text("still going on")


@pytest.fixture
def busy_list(transactional_db, post_answer, post_webhook) -> dict[str, Call]:
    """A day's list as support meets it: a call with 100 recordings (98 completed, 2
    failed), calls with long numbers, a long call id, several problems and long last steps."""
    support_member("sam")
    get_user_model().objects.create_superuser("root", password=PASSWORD)
    made = {
        "busy": send_call(post_answer, post_webhook, call_id="call_busy", recording="completed"),
        "one": send_call(post_answer, post_webhook, call_id="call_one", recording="completed"),
        "long": send_call(
            post_answer,
            post_webhook,
            call_id="CA9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
            recording="failed",
            from_number="+380441234567890",
            to_number="sip:reception-desk-2@pbx.example.co.uk",
        ),
        "unfinished": send_call(
            post_answer,
            post_webhook,
            call_id="call_sim_3f9a1c2b7d4e",
            from_number="+861381234567890",
            to_number="+491511234567890",
        ),
    }
    busy = made["busy"]
    Recording.objects.bulk_create(
        Recording(
            call=busy,
            minivoice_id=f"rec_busy_{index}",
            status=Recording.Status.FAILED if index < 2 else Recording.Status.COMPLETED,
            duration_seconds=None if index < 2 else 70,
            failure_reason="storage unavailable" if index < 2 else "",
        )
        for index in range(99)
    )
    Call.objects.filter(pk=made["long"].pk).update(
        last_step="Call ended (completed) after: MiniVoice could not use our answer: "
        "invalid_actions The action list names an action MiniVoice does not know"
    )
    Call.objects.filter(pk=made["unfinished"].pk).update(
        last_step="Call ended (no-answer) after: support_menu_after_hours v12, step "
        "'billing_questions' (pressed 2): say, collect, start_recording, say, hangup",
        flow="support_menu_after_hours",
        flow_step="billing_questions",
        flow_position="support_menu_after_hours v12, step 'billing_questions' (pressed 2)",
    )
    for code in [CallProblem.Code.ENDED_EARLY, CallProblem.Code.PROCESSING_FAILED]:
        CallProblem.objects.create(
            call=made["long"], code=code, severity=CallProblem.Severity.ERROR, message="…"
        )
    return made


@pytest.mark.parametrize("username", ["sam", "root"])  # root also has the checkbox column
def test_the_call_list_fits_1400_px_with_a_100_recording_call_in_one_short_row(
    busy_list, live_server, page: Page, username
):
    _sign_in(page, live_server, username)
    page.goto(live_server.url + reverse("admin:calls_call_changelist"))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"call-list-busy-{username}.png", full_page=True)

    results = page.locator("#changelist .results")
    assert results.evaluate("box => box.scrollWidth <= box.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    edges = page.locator("#result_list thead th").evaluate_all(
        "cells => cells.map(cell => cell.getBoundingClientRect().right)"
    )
    assert len(edges) == 8 + (username == "root") and max(edges) <= 1400
    busy = page.locator("#result_list tbody tr", has_text="call_busy")
    one = page.locator("#result_list tbody tr", has_text="call_one")
    expect(busy).to_contain_text("100 recordings: 98 completed, 2 failed")
    expect(one.locator(".field-recording_outcome")).to_have_text("Completed (11 s)")
    assert busy.bounding_box()["height"] < 2 * one.bounding_box()["height"]

    busy.get_by_role("link", name="2 failed").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    expect(page.locator("#changelist-filter")).to_contain_text("call_busy")


@pytest.fixture
def flow_calls(transactional_db, client, post_answer, post_webhook) -> None:
    """A morning on the consent IVR: callers who consented, declined or pressed nothing
    twice, each call ended as MiniVoice reports it; and two calls on the default flow."""
    support_member("sam")
    main_line_published()
    for index, (keys, seconds) in enumerate(
        [(["1"], 24), (["2"], 41), ([None, None], 17), (["2"], 12), (["1"], 63), (["9", "1"], 30)]
    ):
        call_id = f"call_sim_{index:02d}a7c31f9e2"
        response = ask(client, call_id=call_id, at="2026-05-29T09:00:00Z")
        for turn, digits in enumerate(keys, start=1):
            response = ask(
                client,
                call_id=call_id,
                url=collect_url(response),
                digits=digits,
                at=f"2026-05-29T09:00:{7 * turn:02d}Z",
            )
        ended = f"2026-05-29T09:{seconds // 60:02d}:{seconds % 60:02d}Z"
        if keys[-1] == "1":  # consented: recorded, and once MiniVoice's storage failed
            recording = {"call_id": call_id, "recording_id": f"rec_{call_id}"}
            started = f"2026-05-29T09:00:{7 * len(keys) + 1:02d}Z"
            post_webhook(minivoice_event("recording.started", created_at=started, **recording))
            if index == 4:
                post_webhook(
                    minivoice_event(
                        "recording.failed",
                        created_at=started,
                        reason="media storage unavailable",
                        **recording,
                    )
                )
            else:
                post_webhook(
                    minivoice_event(
                        "recording.completed",
                        created_at=ended,
                        duration_seconds=seconds - 8,
                        **recording,
                    )
                )
        post_webhook(
            minivoice_event(
                "call.completed",
                call_id=call_id,
                status="completed",
                duration_seconds=seconds,
                created_at=ended,
            )
        )
    for call_id in ("call_default_1", "call_default_2"):
        send_call(
            post_answer, post_webhook, call_id=call_id, recording="completed", to_number="+15557777"
        )


def test_support_narrows_the_call_list_to_a_flow_and_then_to_its_last_step(
    flow_calls, live_server, page: Page
):
    _sign_in(page, live_server)
    page.goto(live_server.url + reverse("admin:calls_call_changelist"))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "call-list-flows.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    silent = page.locator("#result_list tbody tr", has_text="call_sim_02a7c31f9e2")
    expect(silent.locator(".mv-flow-step")).to_have_text("Main line v1, step 'goodbye'")
    expect(silent.locator(".mv-step-detail")).to_have_text(
        "Call ended (completed) after: say, hangup"
    )
    filters = page.locator("#changelist-filter")
    expect(filters).not_to_contain_text("By last step")

    filters.get_by_role("link", name="Main line").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(6)
    filters.get_by_role("link", name="no_recording").click()

    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first.locator(".field-last_step_shown")).to_contain_text(
        "Main line v1, step 'no_recording' (pressed 2)"
    )
    page.screenshot(path=ARTIFACTS / "call-list-flow-step.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    results = page.locator("#changelist .results")
    assert results.evaluate("box => box.scrollWidth <= box.clientWidth")

    # Another flow: its steps, not this one's.
    filters.get_by_role("link", name="default", exact=True).click()
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    expect(filters).not_to_contain_text("no_recording")
