"""The OpenAPI declarations of MiniVoice's two doors, read by `extend_schema` in views.py.

The views read their own bodies (`calls.intake.inbound`, `calls.protocol.contract`), so no
serializer describes them: each shape is written out here as JSON Schema, from the same
constants the code reads (the actions from `calls.protocol.actions.ACTION_SPECS`, the
limits from `calls.protocol.contract`). drf-spectacular builds the document from them
(`/api/schema/`, `docs/openapi.yaml`); schemathesis holds the views to it.
"""

from __future__ import annotations

from typing import ClassVar

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from calls.protocol import actions, contract

# -- Named schemas ------------------------------------------------------------------------


class Documented(serializers.Serializer):
    """A named schema of the document, written out as JSON Schema in `json_schema`.

    Documentation only: no view parses with it. A subclass's name is the component's.
    """

    json_schema: ClassVar[dict] = {}


class DocumentedSchema(OpenApiSerializerExtension):
    """drf-spectacular's documented door for a serializer whose schema is given whole."""

    target_class = Documented
    match_subclasses = True

    def map_serializer(self, auto_schema, direction) -> dict:
        return self.target.json_schema


class BodyRequired(AutoSchema):
    """MiniVoice's views: a POST without a body is refused, so the body is required
    (drf-spectacular derives that from a serializer's required fields, and the answer
    request has none: its call id may be in either of two places)."""

    def get_operation(self, *args, **kwargs) -> dict | None:
        operation = super().get_operation(*args, **kwargs)
        if operation and "requestBody" in operation:
            operation["requestBody"]["required"] = True
        return operation


def nullable(schema: dict) -> dict:
    """`schema`, or null (OpenAPI 3.1: a list of types)."""
    return {**schema, "type": [schema["type"], "null"]}


DATE_TIME = {"type": "string", "format": "date-time"}


# -- The error envelope -------------------------------------------------------------------


def envelope(*codes: str) -> dict:
    """The error envelope with one of `codes` (calls.intake.errors.envelope)."""
    return {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "enum": list(codes)},
                    "message": {"type": "string", "description": "A sentence for people."},
                },
            }
        },
    }


def refusal(description: str, *codes: str) -> OpenApiResponse:
    return OpenApiResponse(response=envelope(*codes), description=description)


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


def _acknowledgement(status: str) -> dict:
    return {
        "type": "object",
        "required": ["status", "webhook_id"],
        "additionalProperties": False,
        "properties": {
            "status": {"const": status},
            "webhook_id": {"type": "string", "maxLength": contract.WEBHOOK_ID_MAX_LENGTH},
        },
    }


# -- Signatures (calls.protocol.signatures: Standard Webhooks) -----------------------------


def signature_headers(*, required: bool) -> list[OpenApiParameter]:
    return [
        OpenApiParameter(
            "webhook-id",
            {"type": "string", "minLength": 1, "maxLength": contract.WEBHOOK_ID_MAX_LENGTH},
            OpenApiParameter.HEADER,
            required=required,
            description=(
                "Unique per request, the same on every retry of it; one namespace across "
                "the answer_url and the webhook endpoint."
            ),
        ),
        OpenApiParameter(
            "webhook-timestamp",
            {"type": "string", "pattern": "^[0-9]{1,12}$"},
            OpenApiParameter.HEADER,
            required=required,
            description="Whole Unix seconds; more than 5 minutes from now is refused.",
        ),
        OpenApiParameter(
            "webhook-signature",
            str,
            OpenApiParameter.HEADER,
            required=required,
            description=(
                "Space-separated `v1,<base64 HMAC-SHA256>` entries (several during a secret "
                "rotation) over `{webhook-id}.{webhook-timestamp}.{raw body}`, keyed with "
                "the base64 part of the `whsec_…` secret."
            ),
        ),
    ]


# -- Answers -------------------------------------------------------------------------------

UNSIGNED = refusal(
    "A webhook secret is set and the request is not signed with it: missing, wrong, "
    "malformed or stale (±5 min) signature, a webhook-timestamp that is not whole seconds, "
    "or a body that is not UTF-8 (nothing stored).",
    "invalid_signature",
)
REPLAYED_ID = "webhook_id_reused"
TOO_LARGE = refusal(
    f"The body is over {contract.MAX_WEBHOOK_BODY_BYTES // 1024} KiB (nothing stored).",
    "payload_too_large",
)
LENGTH_REQUIRED = refusal(
    "A chunked body the server cannot end for the application (gunicorn can).",
    "length_required",
)
UNREADABLE = ("invalid_webhook_id", "unreadable_body", "bad_content_length")

_ANSWER_BAD_REQUEST = refusal(
    "No usable call id, or a body that cannot be read: not JSON, NaN or Infinity, nested "
    f"over {contract.MAX_JSON_DEPTH} levels, a form that is not UTF-8; a signed body that "
    "is a webhook event; a webhook-id over "
    f"{contract.WEBHOOK_ID_MAX_LENGTH} characters; a broken or stalled body; a "
    "Content-Length that is not a whole number. Logged, with no call.",
    "missing_call_id",
    "invalid_call_id",
    "malformed_json",
    "malformed_body",
    "webhook_event_body",
    *UNREADABLE,
)
_ANSWER_REFUSALS = {
    400: _ANSWER_BAD_REQUEST,
    401: UNSIGNED,
    409: refusal(
        "The webhook-id belongs to a stored webhook event: a replay (logged, with no call).",
        REPLAYED_ID,
    ),
    411: LENGTH_REQUIRED,
    413: TOO_LARGE,
    415: refusal("A body neither JSON nor form-encoded (logged).", "unsupported_media_type"),
}
ANSWER_RESPONSES = {
    200: OpenApiResponse(
        ActionPayload,
        description=(
            "The actions to run, always valid per the action schema; if building them fails "
            "(or the database does), a short apology and hangup. A request replayed with a "
            "webhook-id already answered gets the answer stored the first time."
        ),
    ),
    **_ANSWER_REFUSALS,
}
ANSWER_GET_RESPONSES = {
    **ANSWER_RESPONSES,
    405: refusal(
        "A GET while a webhook secret is set: its query string cannot be signed.",
        "signed_post_required",
    ),
}

WEBHOOK_RESPONSES = {
    202: OpenApiResponse(
        _acknowledgement("accepted"),
        description="Stored; processed in the background after commit.",
    ),
    200: OpenApiResponse(
        _acknowledgement("duplicate"),
        description=(
            "A retry of a webhook-id already stored, malformed ones included (stored once; "
            "handed to a worker again if its processing never finished)."
        ),
    ),
    400: refusal(
        "Signed, but not a JSON object (or NaN, Infinity, nested over "
        f"{contract.MAX_JSON_DEPTH} levels): stored as malformed for support; its retries "
        f"answer 200. Or a webhook-id over {contract.WEBHOOK_ID_MAX_LENGTH} characters, a "
        "broken or stalled body, a Content-Length that is not a whole number (nothing "
        "stored).",
        "malformed_json",
        *UNREADABLE,
    ),
    401: UNSIGNED,
    409: refusal(
        "A body with no event type whose webhook-id was an answer_url request's: a replay "
        "(nothing stored).",
        REPLAYED_ID,
    ),
    411: LENGTH_REQUIRED,
    413: TOO_LARGE,
    415: refusal("Not application/json (nothing stored).", "unsupported_media_type"),
    500: refusal(
        "The event could not be stored (the database failed): MiniVoice retries.",
        "internal_error",
    ),
    503: refusal(
        "No webhook secret is set yet: MiniVoice retries until there is one.",
        "not_configured",
    ),
}
