"""`timeline_json`: a call's timeline as plain JSON-ready data.

Exactly what `manage.py call_timeline --json` prints and the admin's export serves.
Datetimes stay datetimes here; print it with DjangoJSONEncoder (see `dumps`).
"""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse

from calls.models import Call
from calls.recordings_port import RecordingRow
from calls.records import exchange_payload
from calls.timeline.types import Entry, Timeline


def timeline_json(timeline: Timeline) -> dict:
    return {
        "call": _call_json(timeline.call) if timeline.call else _unrecorded(timeline.call_id),
        "story": timeline.story,
        "problems": [
            {"code": problem.code, "severity": problem.severity, "message": problem.message}
            for problem in timeline.problems
        ],
        "origin": timeline.origin,
        "recordings": [_recording_json(recording) for recording in timeline.recordings],
        "entries": [_entry_json(entry) for entry in timeline.entries],
        "hidden_entries": timeline.hidden_entries,
    }


def dumps(document: dict) -> str:
    return json.dumps(document, cls=DjangoJSONEncoder, indent=2)


def _call_json(call: Call) -> dict:
    return {
        "id": call.minivoice_id,
        "recorded": True,
        "status": call.status,
        "final_status": call.final_status or None,
        "direction": call.direction,
        "from": call.from_number,
        "to": call.to_number,
        "last_step": call.last_step,
        # The flow's step of our last answer ("" before any, or for calls answered before
        # calls kept it).
        "flow": call.flow,
        "flow_step": call.flow_step,
        "flow_position": call.flow_position,
        "started_at": call.started_at,
        "answered_at": call.answered_at,
        "ended_at": call.ended_at,
        "duration_seconds": call.duration_seconds,
        # Its end learned from MiniVoice's API by the sweep, not from a webhook.
        "ended_from_api": call.ended_from_api,
    }


def _unrecorded(call_id: str) -> dict:
    """A call known only from stored events, none of them applied yet."""
    return {"id": call_id, "recorded": False, "status": None, "last_step": None}


def _recording_json(recording: RecordingRow) -> dict:
    return {
        "recording_id": recording.minivoice_id,
        "status": recording.status,
        "started_at": recording.started_at,
        "completed_at": recording.completed_at,
        "failed_at": recording.failed_at,
        "duration_seconds": recording.duration_seconds,
        "url": recording.url,
        "format": recording.format,
        "size_bytes": recording.size_bytes,
        "failure_reason": recording.failure_reason,
        # How it ended learned from MiniVoice's API by the sweep, not from a webhook.
        "status_from_api": recording.status_from_api,
        "audio_state": recording.audio_state,
        "audio_size_bytes": recording.audio_size_bytes,
        "audio_sha256": recording.audio_sha256 or None,
        "audio_error": recording.audio_error or None,
        "audio_url": _audio_url(recording),
        "transcript_state": recording.transcript_state,
        "transcript": recording.transcript or None,
        "transcript_segments": recording.transcript_segments,
        "transcript_error": recording.transcript_error or None,
    }


def _audio_url(recording: RecordingRow) -> str | None:
    """Where staff with the permission listen (a path on this app), once it is stored."""
    if recording.audio_state != "stored" or recording.pk is None:
        return None
    return reverse("admin:recordings_recording_audio", args=[recording.pk])


def _entry_json(entry: Entry) -> dict:
    document = {
        "kind": entry.kind,
        "at": entry.at,
        "offset_seconds": entry.offset_seconds,
        "title": entry.title,
        "summary": entry.summary,
        "severity": entry.severity,
        "state": entry.state,
    }
    if entry.exchange is not None:
        exchange = entry.exchange
        document |= {
            "received_at": exchange.received_at,
            "method": exchange.method,
            "response_status": exchange.response_status,
            "flow": exchange.flow,
            "flow_version": exchange.flow_version,
            "flow_draft": exchange.flow_draft,
            "step": exchange.step,
            # Parsed, so JSON is shown as JSON; a body that is not JSON stays text.
            "response": _parsed_or_text(exchange.response_body, exchange_payload(exchange)),
            "duration_ms": exchange.duration_ms,
            "error": exchange.error,
        }
    elif entry.event is not None:
        event = entry.event
        document |= {
            "event": event.event_type,
            "webhook_id": event.webhook_id,
            "received_at": event.received_at,
            "deliveries": event.deliveries,
            "out_of_order": entry.out_of_order,
            "payload": event.payload,
            "error": event.error,
        }
    elif entry.recording is not None:
        document["recording_id"] = entry.recording.minivoice_id
    return document


def _parsed_or_text(raw: str, parsed: object) -> object:
    return raw if parsed is None else parsed
