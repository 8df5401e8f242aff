"""The OpenAPI declarations of the console's JSON, read by `extend_schema` in views.py.

The export is `calls.timeline.timeline_json` as `call_timeline --json` prints it; its
enums come from the models and the timeline's own types, so that a new status or kind
shows up in the document when it is regenerated.
"""

from __future__ import annotations

from typing import ClassVar, get_args

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from calls.intake.schema import DATE_TIME, Documented, nullable, refusal
from calls.models import Call, CallProblem
from calls.recordings_port import RecordingStatus
from calls.timeline.types import EntryKind, Severity

_TEXT = {"type": "string"}
_COUNT = {"type": "integer", "minimum": 0}
_ANY = {"description": "Any JSON value."}


def _object(properties: dict, *, required: list[str] | None = None, **more) -> dict:
    return {
        "type": "object",
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
        "properties": properties,
        **more,
    }


_RECORDED_CALL = _object(
    {
        "id": _TEXT,
        "recorded": {"const": True},
        "status": {"type": "string", "enum": Call.Status.values},
        "final_status": {"type": ["string", "null"], "enum": [*Call.FinalStatus.values, None]},
        "direction": _TEXT,
        "from": _TEXT,
        "to": _TEXT,
        "last_step": _TEXT,
        "flow": {**_TEXT, "description": "The flow of our last answer; empty before any."},
        "flow_step": {**_TEXT, "description": "Its step."},
        "flow_position": {**_TEXT, "description": "Both in words, with the keys pressed."},
        "started_at": nullable(DATE_TIME),
        "answered_at": nullable(DATE_TIME),
        "ended_at": nullable(DATE_TIME),
        "duration_seconds": nullable(_COUNT),
        "ended_from_api": {
            "type": "boolean",
            "description": "Its end was learned from MiniVoice's API, not from a webhook.",
        },
    },
    title="A call with a row",
)
_UNRECORDED_CALL = _object(
    {
        "id": _TEXT,
        "recorded": {"const": False},
        "status": {"type": "null"},
        "last_step": {"type": "null"},
    },
    title="A call known only from stored events, none applied yet",
)

_RECORDING = _object(
    {
        "recording_id": nullable(_TEXT),
        "status": {"type": "string", "enum": RecordingStatus.values},
        "started_at": nullable(DATE_TIME),
        "completed_at": nullable(DATE_TIME),
        "failed_at": nullable(DATE_TIME),
        "duration_seconds": nullable(_COUNT),
        "url": _TEXT,
        "format": _TEXT,
        "size_bytes": nullable(_COUNT),
        "failure_reason": _TEXT,
        "status_from_api": {
            "type": "boolean",
            "description": "How it ended was learned from MiniVoice's API, not from a webhook.",
        },
        "audio_state": {**_TEXT, "description": "pending, stored, unavailable or pruned"},
        "audio_size_bytes": nullable(_COUNT),
        "audio_sha256": nullable(_TEXT),
        "audio_error": nullable(_TEXT),
        "audio_url": {
            **nullable(_TEXT),
            "description": "Where staff with the permission listen, once the audio is stored.",
        },
        "transcript_state": {**_TEXT, "description": "pending, done, failed, off or pruned"},
        "transcript": nullable(_TEXT),
        "transcript_segments": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "start_seconds": {"type": "number"},
                    "end_seconds": {"type": "number"},
                    "text": _TEXT,
                },
            },
        },
        "transcript_error": nullable(_TEXT),
    }
)

_ENTRY_COMMON = {
    "kind": {"type": "string", "enum": list(get_args(EntryKind))},
    "at": DATE_TIME,
    "offset_seconds": nullable({"type": "number"}),
    "title": _TEXT,
    "summary": _TEXT,
    "severity": {"type": "string", "enum": list(get_args(Severity))},
    "state": _TEXT,
}
_ENTRY_BY_KIND = {
    "answer_url": {
        "received_at": DATE_TIME,
        "method": _TEXT,
        "response_status": {"type": "integer"},
        "flow": _TEXT,
        "flow_version": nullable(_COUNT),
        "flow_draft": {"type": "boolean"},
        "step": _TEXT,
        "response": {**_ANY, "description": "What we returned: parsed JSON, or the text."},
        "duration_ms": {"type": "number"},
        "error": _TEXT,
    },
    "webhook": {
        "event": _TEXT,
        "webhook_id": _TEXT,
        "received_at": DATE_TIME,
        "deliveries": _COUNT,
        "out_of_order": {"type": "boolean"},
        "payload": {**_ANY, "description": "The event as parsed; null if it was malformed."},
        "error": _TEXT,
    },
    "recording": {"recording_id": nullable(_TEXT)},
    "status": {},
}


def _entry(kind: str) -> dict:
    return _object({**_ENTRY_COMMON, "kind": {"const": kind}, **_ENTRY_BY_KIND[kind]}, title=kind)


class TimelineExport(Documented):
    json_schema: ClassVar[dict] = _object(
        {
            "call": {"oneOf": [_RECORDED_CALL, _UNRECORDED_CALL]},
            "story": {**_TEXT, "description": "The call's story in plain words."},
            "problems": {
                "type": "array",
                "items": _object(
                    {
                        "code": {"type": "string", "enum": CallProblem.Code.values},
                        "severity": {"type": "string", "enum": CallProblem.Severity.values},
                        "message": _TEXT,
                    }
                ),
            },
            "origin": {**nullable(DATE_TIME), "description": "Offsets count from here."},
            "recordings": {"type": "array", "items": _RECORDING},
            "entries": {
                "type": "array",
                "items": {"oneOf": [_entry(kind) for kind in get_args(EntryKind)]},
            },
            "hidden_entries": {
                **_COUNT,
                "description": "Events left out between the first and the last ones shown.",
            },
        },
        description="A call's timeline: exactly what `manage.py call_timeline --json` prints.",
    )


class TimelineLive(Documented):
    json_schema: ClassVar[dict] = _object(
        {
            "live": {"type": "boolean", "description": "False once the call has ended."},
            "html": {**_TEXT, "description": "The timeline as the call's page shows it."},
        }
    )


PARAMETERS = [
    OpenApiParameter(
        "id",
        {"type": "integer", "minimum": 1},
        OpenApiParameter.PATH,
        description="The call's row in the console (not its MiniVoice id).",
    ),
    OpenApiParameter(
        "Location",
        str,
        OpenApiParameter.HEADER,
        description="The admin's login page, with the page asked for as `next`.",
        response=[302],
    ),
]

_STAFF_ONLY = {
    302: OpenApiResponse(
        description="Not signed in as staff: redirected to the admin's login page."
    ),
    403: refusal("Signed in as staff without the permission to view calls.", "permission_denied"),
    404: refusal("No call has this id.", "not_found"),
}
EXPORT_RESPONSES = {
    200: OpenApiResponse(
        TimelineExport, description="The call's timeline, as an attachment (call-<id>.json)."
    ),
    **_STAFF_ONLY,
}
LIVE_RESPONSES = {
    200: OpenApiResponse(TimelineLive, description="The timeline as it is now."),
    **_STAFF_ONLY,
}
