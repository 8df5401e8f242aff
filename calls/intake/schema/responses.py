"""Every answer of MiniVoice's two doors, by status, and the signature headers they read."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from calls.intake.schema.bodies import ActionPayload, acknowledgement
from calls.intake.schema.shapes import refusal
from calls.protocol import contract

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
        acknowledgement("accepted"),
        description="Stored; processed in the background after commit.",
    ),
    200: OpenApiResponse(
        acknowledgement("duplicate"),
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
