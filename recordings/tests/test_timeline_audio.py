"""`call_timeline` (and the admin's JSON export, the same document) tells of each
recording's audio: its state, size, SHA-256, why it is missing, and where to hear it."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from recordings.models import Recording
from recordings.tests.conftest import completed_event

pytestmark = pytest.mark.django_db


def timeline(*args: str) -> str:
    out = StringIO()
    call_command("call_timeline", "call_123", *args, stdout=out)
    return out.getvalue()


def test_stored_audio_is_in_the_json_with_its_size_hash_and_where_to_hear_it(
    emulator, post_webhook
):
    emulator.add_recording("rec_ok")
    post_webhook(completed_event("rec_ok"))
    stored = Recording.objects.get()

    [recording] = json.loads(timeline("--json"))["recordings"]

    assert recording["audio_state"] == "stored"
    assert recording["audio_size_bytes"] == 44 + 3 * 16000
    assert recording["audio_sha256"] == emulator.sha256("rec_ok")
    assert recording["audio_error"] is None
    assert recording["audio_url"] == reverse("admin:recordings_recording_audio", args=[stored.pk])
    assert f"audio stored ({44 + 3 * 16000} bytes, sha256 {emulator.sha256('rec_ok')})" in (
        timeline()
    )


def test_unavailable_audio_says_why_and_has_nowhere_to_hear_it(emulator, post_webhook):
    emulator.add_recording("rec_gone")
    emulator.fault("rec_gone=404")
    post_webhook(completed_event("rec_gone"))

    [recording] = json.loads(timeline("--json"))["recordings"]

    assert recording["audio_state"] == "unavailable"
    assert "HTTP 404" in recording["audio_error"]
    assert (recording["audio_url"], recording["audio_sha256"]) == (None, None)
    assert "audio unavailable: Try 1: MiniVoice does not have" in timeline()


def test_audio_not_fetched_yet_is_pending_with_nothing_else(post_webhook):
    post_webhook(completed_event("rec_later"))  # no MiniVoice API set: nothing is fetched

    [recording] = json.loads(timeline("--json"))["recordings"]

    assert {key: value for key, value in recording.items() if key.startswith("audio_")} == {
        "audio_state": "pending",
        "audio_size_bytes": None,
        "audio_sha256": None,
        "audio_error": None,
        "audio_url": None,
    }
