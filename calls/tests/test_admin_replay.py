"""Replay from the admin: failed, gave-up and stuck events are processed again through the
normal task path, by those with the replay permission, and the admin says what it did."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from calls.models import Call, WebhookEvent
from calls.tests.console_data import at, logged_in, send_call, support_member
from conftest import minivoice_event

# Transactional: the replay hands events to the worker when its transaction commits, and
# in-process mode processes them then, before the admin's message is written.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def replayer(db):
    """Support, plus the replay permission: what an on-call engineer would get."""
    user = support_member("oncall")
    user.user_permissions.add(Permission.objects.get(codename="replay_webhookevent"))
    return logged_in(user)


@pytest.fixture
def stuck_recording(db, post_answer, post_webhook) -> WebhookEvent:
    """A recording.completed whose processing gave up: the call's recording still reads
    as only started."""
    send_call(post_answer, post_webhook, call_id="call_replay")
    payload = minivoice_event(
        "recording.completed",
        call_id="call_replay",
        created_at=at(15),
        recording_id="rec_call_replay",
        duration_seconds=12,
    )
    assert post_webhook(payload, webhook_id="msg_completed").status_code == 202
    event = WebhookEvent.objects.get(webhook_id="msg_completed")
    # Undo its effect and mark it given up, as a processing failure would have left it.
    recording = Call.objects.get(minivoice_id="call_replay").recordings.get()
    recording.status, recording.completed_at, recording.duration_seconds = "started", None, None
    recording.save()
    WebhookEvent.objects.filter(pk=event.pk).update(
        state=WebhookEvent.State.GAVE_UP, error="OperationalError: database is locked"
    )
    return event


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _post_action(client, model: str, action: str, pks: list[int]):
    return client.post(
        reverse(f"admin:{model}_changelist"),
        {"action": action, "_selected_action": pks},
        follow=True,
    )


@pytest.mark.parametrize("who", ["replayer", "admin_client"])
def test_replaying_a_given_up_event_processes_it_and_says_so(request, who, stuck_recording):
    client = request.getfixturevalue(who)
    already = WebhookEvent.objects.filter(call_minivoice_id="call_replay").exclude(
        pk=stuck_recording.pk
    )

    response = _post_action(
        client,
        "calls_webhookevent",
        "replay_events",
        [stuck_recording.pk, already.first().pk],
    )

    assert response.status_code == 200
    stuck_recording.refresh_from_db()
    assert stuck_recording.state == WebhookEvent.State.PROCESSED
    recording = Call.objects.get(minivoice_id="call_replay").recordings.get()
    assert (recording.status, recording.duration_seconds) == ("completed", 12)
    assert _messages(response) == [
        "Sent 1 event(s) to be processed again (now: 1 processed); 1 already done, left alone."
    ]


def test_reprocessing_a_calls_events_replays_only_that_calls_unfinished_events(
    admin_client, stuck_recording, post_answer, post_webhook
):
    other = send_call(post_answer, post_webhook, call_id="call_other")
    other_event = WebhookEvent.objects.filter(call_minivoice_id="call_other").first()
    WebhookEvent.objects.filter(pk=other_event.pk).update(state=WebhookEvent.State.FAILED)
    call = Call.objects.get(minivoice_id="call_replay")

    response = _post_action(admin_client, "calls_call", "replay_call_events", [call.pk])

    stuck_recording.refresh_from_db()
    other_event.refresh_from_db()
    assert stuck_recording.state == WebhookEvent.State.PROCESSED
    assert other_event.state == WebhookEvent.State.FAILED  # not chosen: untouched
    assert _messages(response) == [
        "Sent 1 event(s) to be processed again (now: 1 processed); 4 already done, left alone."
    ]
    assert other.minivoice_id == "call_other"


def test_replaying_only_done_events_sends_nothing_and_says_why(admin_client, stuck_recording):
    done = WebhookEvent.objects.filter(state=WebhookEvent.State.PROCESSED)

    response = _post_action(
        admin_client, "calls_webhookevent", "replay_events", list(done.values_list("pk", flat=True))
    )

    assert _messages(response) == [
        "Nothing to process again: 4 event(s) were already done (processed, ignored or malformed)."
    ]
    stuck_recording.refresh_from_db()
    assert stuck_recording.state == WebhookEvent.State.GAVE_UP


def test_staff_with_every_view_permission_but_not_replay_gets_403(db, stuck_recording):
    user = get_user_model().objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    response = logged_in(user).post(
        reverse("admin:calls_webhookevent_changelist"),
        {"action": "replay_events", "_selected_action": [stuck_recording.pk]},
    )
    assert response.status_code == 403
    stuck_recording.refresh_from_db()
    assert stuck_recording.state == WebhookEvent.State.GAVE_UP


@pytest.mark.parametrize(
    ("selected", "status"),
    [([], 200), (["not-a-number"], 302), (["999999"], 302), (["1 OR 1=1"], 302)],
    ids=["none", "text", "gone", "sql"],
)
def test_a_replay_of_nothing_or_garbage_changes_nothing(
    admin_client, stuck_recording, selected, status
):
    admin_client.raise_request_exception = False
    response = admin_client.post(
        reverse("admin:calls_webhookevent_changelist"),
        {"action": "replay_events", "_selected_action": selected},
    )
    assert response.status_code == status  # 200: "Items must be selected"; 302: back to the list
    stuck_recording.refresh_from_db()
    assert stuck_recording.state == WebhookEvent.State.GAVE_UP
