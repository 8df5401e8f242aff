"""The bodies of MiniVoice's two doors, as JSON Schema: the action payload we answer with,
the answer_url's request (JSON, form or query), the webhook event, and the webhook's
acknowledgement."""

from __future__ import annotations

from typing import ClassVar

from drf_spectacular.utils import OpenApiParameter

from calls.intake.schema.shapes import DATE_TIME, Documented
from calls.protocol import actions, contract

# -- The action payload (calls.protocol.actions) --------------------------------------------


def _rule_schema(rule: actions.Rule) -> dict:
    """One parameter's rule as JSON Schema: each of calls.protocol.actions' rule kinds."""
    if isinstance(rule, actions.NonEmptyText):
        return {"type": "string", "pattern": r"\S"}
    if isinstance(rule, actions.Text):
        return {"type": "string"}
    if isinstance(rule, actions.WholeNumber):
        return {"type": "integer", "minimum": rule.low, "maximum": rule.high}
    if isinstance(rule, actions.OneOf):
        return {"type": "string", "enum": sorted(rule.choices)}
    if isinstance(rule, actions.HttpUrl):
        return {
            "type": "string",
            "pattern": r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+[^\s]*$",
            "description": "An absolute http or https URL with a host.",
        }
    if isinstance(rule, actions.Destination):
        return {
            "type": "string",
            "pattern": rf"^(?:{actions.E164.pattern}|{actions.SIP_URI.pattern})$",
            "description": "An E.164 number (+15550100) or a sip: URI.",
        }
    raise TypeError(f"No JSON Schema for the rule {type(rule).__name__}")


def _action_forms(name: str, spec: dict[str, actions.Rule]) -> list[dict]:
    """The keyed form (`{"say": {"text": …}}`) and the typed one (`{"type": "say", …}`)."""
    params = {key: _rule_schema(rule) for key, rule in spec.items()}
    required = [key for key, rule in spec.items() if rule.required]
    keyed_params: dict = {"type": "object", "properties": params, "additionalProperties": False}
    typed: dict = {
        "title": f"{name} (typed)",
        "type": "object",
        "properties": {"type": {"const": name}, **params},
        "required": ["type", *required],
        "additionalProperties": False,
    }
    if required:
        keyed_params["required"] = required
    keyed = {
        "title": name,
        "type": "object",
        "properties": {name: keyed_params},
        "required": [name],
        "additionalProperties": False,
    }
    return [keyed, typed]


class ActionPayload(Documented):
    json_schema: ClassVar[dict] = {
        "type": "object",
        "description": (
            "The actions MiniVoice runs, in order; each in its keyed or its typed form. "
            f"Actions after {', '.join(sorted(actions.TERMINAL_ACTIONS))} never run."
        ),
        "required": ["actions"],
        "additionalProperties": False,
        "properties": {
            "actions": {
                "type": "array",
                "minItems": actions.MIN_ACTIONS,
                "items": {
                    "oneOf": [
                        form
                        for name, spec in actions.ACTION_SPECS.items()
                        for form in _action_forms(name, spec)
                    ]
                },
            }
        },
        "examples": [
            {"actions": [{"start_recording": {}}, {"say": {"text": "Hello."}}, {"hangup": {}}]}
        ],
    }


# -- answer_url requests (calls.protocol.contract.parse_answer_request) -------------------

# What Python's str.strip() takes off (str.isspace), spelled out: a pattern's \s differs
# between regex dialects (ECMA's has no U+0085, Python's has).
_BLANK = "".join(f"\\u{code:04x}" for code in range(0x20, 0x10000) if chr(code).isspace())
_EDGE = rf"[^\x00-\x1f{_BLANK}]"
CALL_ID = {
    "type": "string",
    "minLength": 1,
    "maxLength": contract.CALL_ID_MAX_LENGTH,
    # Not blank, no control characters, as read (surrounding blanks are trimmed).
    "pattern": rf"^{_EDGE}(?:[^\x00-\x1f]*{_EDGE})?$",
    "description": "MiniVoice's call id: everything is correlated by it.",
}
_CALL_FIELDS = {
    "status": {"type": "string"},
    "direction": {"type": "string"},
    "from": {"type": "string"},
    "to": {"type": "string"},
}
# A body with an `event` key is a webhook event: refused here.
_NOT_AN_EVENT = {"not": {"required": ["event"]}}


class AnswerRequest(Documented):
    json_schema: ClassVar[dict] = {
        "type": "object",
        "description": (
            "MiniVoice's request for actions (CONTRACT.md §1): the call, and the variables "
            "gathered so far (`digits` after a collect). A flat `call_id` may stand for "
            "`call.id`; other keys are ignored, but a body with an `event` key is a webhook "
            "event, refused here."
        ),
        "properties": {
            "call": {
                "type": "object",
                "properties": {"id": CALL_ID, **_CALL_FIELDS},
            },
            "call_id": CALL_ID,
            "variables": {
                "type": "object",
                "properties": {contract.DIGITS_VARIABLE: {"type": "string"}},
            },
            "created_at": DATE_TIME,
        },
        "anyOf": [
            {"required": ["call"], "properties": {"call": {"required": ["id"]}}},
            {"required": ["call_id"]},
        ],
        **_NOT_AN_EVENT,
        "examples": [
            {
                "call": {
                    "id": "call_123",
                    "status": "in_progress",
                    "direction": "inbound",
                    "from": "+15550100",
                    "to": "+15550199",
                },
                "variables": {"digits": "1"},
                "created_at": "2026-05-29T12:00:00Z",
            }
        ],
    }


class AnswerForm(Documented):
    json_schema: ClassVar[dict] = {
        "type": "object",
        "description": (
            "The same request form-encoded: any other field is a variable (but `event`)."
        ),
        "properties": {
            "call_id": CALL_ID,
            **_CALL_FIELDS,
            "created_at": DATE_TIME,
        },
        "required": ["call_id"],
        "additionalProperties": {"type": "string"},
        **_NOT_AN_EVENT,
    }


ANSWER_QUERY = [
    OpenApiParameter(
        contract.STEP_TOKEN_PARAM,
        str,
        description=(
            "The signed step token this application wrote into a collect's or redirect's "
            "url: which step of which flow comes next. The one thing read from the URL; a "
            "tampered, expired or other call's token gets the safe fallback actions."
        ),
    )
]
# Read only without a webhook secret (local development): a GET's query string cannot
# be signed, so with a secret every GET is refused.
ANSWER_GET_QUERY = [
    *ANSWER_QUERY,
    OpenApiParameter("call_id", {**CALL_ID}, description="MiniVoice's call id."),
    *(OpenApiParameter(name, str) for name in [*_CALL_FIELDS, "created_at"]),
]


# -- Webhook events (calls.protocol.contract: events) --------------------------------------


class WebhookEvent(Documented):
    json_schema: ClassVar[dict] = {
        "type": "object",
        "description": (
            "One event (CONTRACT.md §2). Any JSON object is stored once per webhook-id and "
            "acknowledged; an event type this application does not know is kept and left "
            f"alone. Known events: {', '.join(sorted(contract.KNOWN_EVENTS))}."
        ),
        "required": ["event", "created_at", "call", "data"],
        "properties": {
            "event": {"type": "string", "examples": sorted(contract.KNOWN_EVENTS)},
            "created_at": DATE_TIME,
            "call": {
                "type": "object",
                "properties": {
                    "id": CALL_ID,
                    "status": {"type": "string"},
                    "direction": {"type": "string"},
                },
            },
            "variables": {"type": "object"},
            "data": {
                "type": "object",
                "properties": {
                    "call_id": CALL_ID,
                    "recording_id": {
                        "type": "string",
                        "maxLength": contract.RECORDING_ID_MAX_LENGTH,
                    },
                    "status": {"type": "string"},
                    "reason": {"type": "string"},
                    "duration_seconds": {"type": "integer", "minimum": 0},
                    "url": {"type": "string"},
                    "format": {"type": "string"},
                    "size_bytes": {"type": "integer", "minimum": 0},
                    "error": {
                        "type": "object",
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        },
        "examples": [
            {
                "event": "recording.started",
                "created_at": "2026-05-29T12:00:12Z",
                "call": {"id": "call_123", "status": "in_progress", "direction": "inbound"},
                "variables": {},
                "data": {
                    "recording_id": "rec_call_123",
                    "status": "started",
                    "call_id": "call_123",
                },
            }
        ],
    }


def acknowledgement(status: str) -> dict:
    return {
        "type": "object",
        "required": ["status", "webhook_id"],
        "additionalProperties": False,
        "properties": {
            "status": {"const": status},
            "webhook_id": {"type": "string", "maxLength": contract.WEBHOOK_ID_MAX_LENGTH},
        },
    }
