"""`manage.py call_timeline`: one call's story for an operator, as text or as JSON."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils.dateparse import parse_datetime

from calls.management.commands.call_timeline import Command
from conftest import WEBHOOK_URL, minivoice_event, signed


@pytest.fixture
def deliver(post_webhook) -> Callable[..., str]:
    """Send one signed event for call_123 through the webhook URL; return its webhook id."""

    def send(event_type: str, created_at: str, **data) -> str:
        webhook_id = f"msg_{uuid.uuid4().hex}"
        payload = minivoice_event(event_type, created_at=created_at, **data)
        response = post_webhook(payload, webhook_id=webhook_id)
        assert response.status_code == 202, response.content
        return webhook_id

    return send


def send_started(deliver) -> str:
    return deliver(
        "recording.started",
        "2026-05-29T12:00:12Z",
        recording_id="rec_call_123",
        status="started",
    )


def send_completed(deliver) -> str:
    return deliver(
        "recording.completed",
        "2026-05-29T12:00:40Z",
        recording_id="rec_call_123",
        status="completed",
        duration_seconds=27,
        url="https://media.minivoice.example/rec_call_123.wav",
        format="wav",
        size_bytes=432_044,
    )


def timeline(*args: str) -> str:
    out = io.StringIO()
    call_command("call_timeline", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_text_shows_call_completed_recording_and_events_in_time_order(deliver):
    started_id = send_started(deliver)
    completed_id = send_completed(deliver)

    text = timeline("call_123")

    assert "Call call_123" in text
    assert "Last step: Recording completed" in text
    assert "rec_call_123: Completed, 27s" in text
    started_line = next(line for line in text.splitlines() if "recording.started" in line)
    completed_line = next(line for line in text.splitlines() if "recording.completed" in line)
    assert "2026-05-29 12:00:12" in started_line
    assert started_id in started_line
    assert "2026-05-29 12:00:40" in completed_line
    assert completed_id in completed_line
    assert text.index(started_line) < text.index(completed_line)


@pytest.mark.django_db
def test_json_is_one_object_with_call_recordings_and_entries(deliver, post_answer):
    response = post_answer(
        {"call": {"id": "call_123", "status": "in_progress"}, "created_at": "2026-05-29T12:00:05Z"}
    )
    assert response.status_code == 200
    started_id = send_started(deliver)
    completed_id = send_completed(deliver)

    document = json.loads(timeline("call_123", "--json"))

    assert isinstance(document, dict)
    assert document["call"]["id"] == "call_123"
    assert document["call"]["status"] == "in_progress"
    assert document["call"]["last_step"] == "Recording completed"
    [recording] = document["recordings"]
    assert recording["recording_id"] == "rec_call_123"
    assert recording["status"] == "completed"
    assert recording["duration_seconds"] == 27
    # The call's own status and its recordings are entries too; these are the exchanges.
    entries = [e for e in document["entries"] if e["kind"] in ("answer_url", "webhook")]
    assert [entry["kind"] for entry in entries] == ["answer_url", "webhook", "webhook"]
    assert [parse_datetime(entry["at"]).isoformat() for entry in entries] == [
        "2026-05-29T12:00:05+00:00",
        "2026-05-29T12:00:12+00:00",
        "2026-05-29T12:00:40+00:00",
    ]
    assert [(entry.get("event"), entry.get("webhook_id")) for entry in entries[1:]] == [
        ("recording.started", started_id),
        ("recording.completed", completed_id),
    ]
    assert entries[0]["response_status"] == 200
    assert "actions" in entries[0]["response"]


@pytest.mark.django_db
def test_entries_are_in_time_order_when_delivered_out_of_order(deliver, post_answer):
    completed_id = send_completed(deliver)
    started_id = send_started(deliver)
    post_answer({"call": {"id": "call_123"}, "created_at": "2026-05-29T12:00:05Z"})

    entries = json.loads(timeline("call_123", "--json"))["entries"]
    entries = [e for e in entries if e["kind"] in ("answer_url", "webhook")]
    text = timeline("call_123")

    assert [entry["kind"] for entry in entries] == ["answer_url", "webhook", "webhook"]
    assert [entry.get("webhook_id") for entry in entries[1:]] == [started_id, completed_id]
    assert text.index(started_id) < text.index(completed_id)
    assert json.loads(timeline("call_123", "--json"))["recordings"][0]["status"] == "completed"


@pytest.mark.django_db
def test_events_stored_but_never_applied_still_show(client):
    """A delivery whose task never ran (the broker was down) is part of the story too."""
    body = json.dumps(minivoice_event(call_id="call_pending", recording_id="rec_p")).encode()
    # The plain client: the test's transaction never commits, so the task never runs.
    response = client.post(WEBHOOK_URL, data=body, content_type="application/json", **signed(body))
    assert response.status_code == 202

    text = timeline("call_pending")
    document = json.loads(timeline("call_pending", "--json"))

    assert "no call record yet" in text
    assert "recording.started  [pending]" in text
    assert document["call"] == {
        "id": "call_pending",
        "recorded": False,
        "status": None,
        "last_step": None,
    }
    assert [entry["event"] for entry in document["entries"]] == ["recording.started"]


@pytest.mark.django_db
def test_unknown_call_id_is_a_command_error():
    with pytest.raises(CommandError, match="No call with MiniVoice id 'nope'"):
        timeline("nope")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "call_id",
    ["\udcff", "a\x00b", "call_\n123"],
    ids=["undecodable-byte-from-argv", "nul", "newline"],
)
def test_unprintable_call_id_is_a_command_error(deliver, call_id):
    send_started(deliver)  # a call exists, so only the id itself can be wrong

    with pytest.raises(CommandError, match="is not a call id: it has unprintable characters"):
        timeline(call_id)


@pytest.mark.django_db
def test_times_are_printed_in_the_configured_time_zone(deliver, settings):
    settings.TIME_ZONE = "America/New_York"
    webhook_id = send_started(deliver)  # 2026-05-29T12:00:12Z, 08:00:12 in New York (EDT)

    text = timeline("call_123")

    assert "Timeline (America/New_York)" in text
    [line] = [line for line in text.splitlines() if webhook_id in line]
    assert "2026-05-29 08:00:12" in line
    assert "12:00:12" not in text


@pytest.mark.django_db
def test_recording_that_failed_then_completed_prints_no_failure_reason(deliver):
    deliver(
        "recording.failed",
        "2026-05-29T12:00:20Z",
        recording_id="rec_call_123",
        status="failed",
        reason="disk full",
    )
    send_completed(deliver)

    text = timeline("call_123")
    document = json.loads(timeline("call_123", "--json"))

    [recording_line] = [line for line in text.splitlines() if "rec_call_123:" in line]
    assert recording_line.strip() == "rec_call_123: Completed, 27s, audio pending"
    assert "reason" not in recording_line
    [recording] = document["recordings"]
    assert recording["status"] == "completed"


def test_help_describes_the_command():
    assert "call" in Command.help


def manage(*args: str | bytes, database: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}"}
    env.pop("CELERY_BROKER_URL", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_from_the_command_line(tmp_path):
    result = manage("call_timeline", "--help", database=tmp_path / "db.sqlite3")

    assert result.returncode == 0, result.stderr
    assert "call_id" in result.stdout
    assert "--json" in result.stdout


def test_unknown_call_id_from_the_command_line_fails_without_traceback(tmp_path):
    database = tmp_path / "db.sqlite3"
    migrated = manage("migrate", "--no-input", database=database)
    assert migrated.returncode == 0, migrated.stderr

    result = manage("call_timeline", "nope", database=database)

    assert result.returncode != 0
    assert "No call with MiniVoice id 'nope'" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_call_id_with_an_undecodable_byte_from_the_command_line_fails_without_traceback(
    tmp_path,
):
    # A byte that is not UTF-8 reaches argv as a lone surrogate ("\udcff").
    database = tmp_path / "db.sqlite3"
    migrated = manage("migrate", "--no-input", database=database)
    assert migrated.returncode == 0, migrated.stderr

    result = manage("call_timeline", b"\xff", database=database)

    assert result.returncode != 0
    assert "'\\udcff' is not a call id" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.django_db
def test_text_opens_with_the_story_and_gives_each_entry_its_offset_and_time_zone(
    deliver, post_answer
):
    post_answer({"call": {"id": "call_123"}, "created_at": "2026-05-29T12:00:02Z"})
    webhook_id = send_started(deliver)  # 12:00:12, ten seconds after the start

    lines = timeline("call_123").splitlines()

    # A call from May still in progress is stuck: problems first, then the story.
    assert lines[0] == "Problems (1)"
    assert "call_stuck" in lines[1]
    assert lines[3].startswith("Call call_123 on 2026-05-29 at 12:00:02 UTC; was answered at")
    [line] = [line for line in lines if webhook_id in line]
    assert "+10.0 s  2026-05-29 12:00:12 UTC  webhook     recording.started" in line


@pytest.mark.django_db
def test_a_long_call_prints_its_first_and_last_events_and_says_how_many_are_left_out(deliver):
    for second in range(10):
        deliver("call.ringing", f"2026-05-29T12:00:{second:02}Z")

    text = timeline("call_123", "--max-events", "4")
    document = json.loads(timeline("call_123", "--json", "--max-events", "4"))

    assert "… 6 more event(s) not shown" in text
    assert document["hidden_entries"] == 6
    events = [entry["at"] for entry in document["entries"] if entry["kind"] == "webhook"]
    assert [parse_datetime(at).second for at in events] == [0, 1, 8, 9]


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["1", "0", "-5"])
def test_too_few_max_events_is_a_command_error(deliver, value):
    send_started(deliver)

    with pytest.raises(CommandError, match="--max-events must be at least 2"):
        timeline("call_123", "--max-events", value)


def test_max_events_that_is_not_a_number_fails_in_one_line(tmp_path):
    result = manage("call_timeline", "call_123", "--max-events", "many", database=tmp_path / "db")

    assert result.returncode != 0
    assert "--max-events: invalid int value: 'many'" in result.stderr
    assert "Traceback" not in result.stderr
