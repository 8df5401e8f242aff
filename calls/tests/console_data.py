"""Calls for the support console's tests, sent in through the real doors: a signed
answer_url request and signed webhooks, processed by the normal task path."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from calls.models import Call
from calls.roles import SUPPORT_GROUP, SUPPORT_LEADS_GROUP
from conftest import minivoice_event

PASSWORD = "a-long-passphrase"


START = datetime(2026, 5, 29, 12, 0, 0, tzinfo=UTC)


def at(second: int) -> str:
    """MiniVoice's created_at, `second` seconds after the test calls begin."""
    return (START + timedelta(seconds=second)).isoformat().replace("+00:00", "Z")


def send_call(
    post_answer: Callable,
    post_webhook: Callable,
    *,
    call_id: str,
    from_number: str = "+15550100",
    to_number: str = "+15550199",
    recording: str = "never_completed",
    ends_at: int = 14,
) -> Call:
    """A call answered with our flow that started a recording, then ended.

    `recording`: "never_completed" (started, nothing after), "failed" or "completed".
    """
    answer = post_answer(
        {
            "call": {
                "id": call_id,
                "status": "in_progress",
                "direction": "inbound",
                "from": from_number,
                "to": to_number,
            },
            "variables": {},
            "created_at": at(1),
        }
    )
    assert answer.status_code == 200, answer.content
    recording_id = f"rec_{call_id}"
    events = [
        minivoice_event("call.initiated", call_id=call_id, created_at=at(0)),
        minivoice_event("call.answered", call_id=call_id, created_at=at(1)),
        minivoice_event(
            "recording.started", call_id=call_id, created_at=at(3), recording_id=recording_id
        ),
    ]
    if recording == "failed":
        events.append(
            minivoice_event(
                "recording.failed",
                call_id=call_id,
                created_at=at(5),
                recording_id=recording_id,
                reason="storage unavailable",
            )
        )
    elif recording == "completed":
        events.append(
            minivoice_event(
                "recording.completed",
                call_id=call_id,
                created_at=at(ends_at),
                recording_id=recording_id,
                duration_seconds=ends_at - 3,
                url=f"https://media.example/{recording_id}.mp3",
            )
        )
    events.append(
        minivoice_event(
            "call.completed",
            call_id=call_id,
            created_at=at(ends_at),
            status="completed",
            duration_seconds=ends_at,
        )
    )
    for payload in events:
        response = post_webhook(payload)
        assert response.status_code == 202, response.content
    return Call.objects.get(minivoice_id=call_id)


def support_member(username: str = "sam") -> object:
    """A staff user in the Support group (made by migrate), nothing more."""
    user = get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    return user


def support_lead(username: str = "lea") -> object:
    """A staff user in the Support leads group (made by migrate): numbers in full."""
    user = get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT_LEADS_GROUP))
    return user


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client
