"""What MiniVoice sends us, read in one place.

`../shared/minivoice/CONTRACT.md` is the source. Where MiniVoice's own page is silent the
contract marks our reading **(assumed)**; each such reading lives here once (or in
`calls.protocol.actions` for the action schema), so that it is one edit when MiniVoice documents
otherwise. Everything here is pure parsing: no database, no Django models.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

from django.utils.dateparse import parse_datetime

# -- Delivery (assumed: the Standard Webhooks specification) -------------------------------

# The headers worth keeping with each request, for support and for replay.
KEPT_HEADERS = (
    "webhook-id",
    "webhook-timestamp",
    "content-type",
    "content-length",
    "user-agent",
)
# Larger bodies are refused with 413 before they are read (the limit).
MAX_WEBHOOK_BODY_BYTES = 256 * 1024
# The answer_url request is small too; the same limit keeps a hostile client cheap.
MAX_ANSWER_BODY_BYTES = 256 * 1024
# No real event nests deeply; a hostile one must not exhaust the stack downstream.
MAX_JSON_DEPTH = 32

WEBHOOK_ID_MAX_LENGTH = 255
CALL_ID_MAX_LENGTH = 128
RECORDING_ID_MAX_LENGTH = 128

# -- Webhook events ---------------------------------------------------------------------

RECORDING_STARTED = "recording.started"
RECORDING_COMPLETED = "recording.completed"
RECORDING_FAILED = "recording.failed"
CALL_INITIATED = "call.initiated"  # assumed
CALL_RINGING = "call.ringing"  # assumed
CALL_ANSWERED = "call.answered"  # assumed
CALL_COMPLETED = "call.completed"  # assumed
ANSWER_URL_FAILED = "answer_url.failed"  # assumed

RECORDING_EVENTS = frozenset({RECORDING_STARTED, RECORDING_COMPLETED, RECORDING_FAILED})
CALL_EVENTS = frozenset(
    {CALL_INITIATED, CALL_RINGING, CALL_ANSWERED, CALL_COMPLETED, ANSWER_URL_FAILED}
)
KNOWN_EVENTS = RECORDING_EVENTS | CALL_EVENTS

# The envelope's `call.status` (seed: "in_progress" on recording.started), read as how far
# the call has got at least. An ended status is left to call.completed, which says how.
CALL_PROGRESS_STATUSES = {"ringing": "ringing", "in_progress": "in_progress"}

# `data.status` of call.completed (assumed).
CALL_END_STATUSES = frozenset({"completed", "busy", "no_answer", "failed", "canceled"})


class MalformedRequest(ValueError):
    """A request we cannot act on; `code` and `status` make the error answer."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def parse_json_object(body: bytes) -> dict:
    """The body as a storable JSON object (see `storable`), or MalformedRequest.

    Python's json accepts NaN and Infinity, which are not JSON and which neither
    database's JSON column stores; they are refused here like any other bad JSON.
    """
    try:
        value = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedRequest("malformed_json", "The body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise MalformedRequest("malformed_json", "The body must be a JSON object.")
    # Each walk of the parsed value costs more than parsing it; the raw bytes say when a
    # walk cannot find anything, which is nearly always.
    if body.count(b"{") + body.count(b"[") > MAX_JSON_DEPTH and _depth(value) > MAX_JSON_DEPTH:
        raise MalformedRequest(
            "malformed_json", f"The JSON nests deeper than {MAX_JSON_DEPTH} levels."
        )
    return storable(value) if _may_hold_unstorable(body) else value


# How NUL or a lone surrogate can get into parsed JSON: an escape (\u0000, \ud800); a
# surrogate's own UTF-8 bytes (ED A0..BF …), which json.loads lets through; or a UTF-16
# or UTF-32 body, whose ASCII characters come with NUL bytes. (A raw NUL is invalid JSON.)
_UNSTORABLE_MARKERS = (b"\\u", b"\xed", b"\x00")


def _may_hold_unstorable(body: bytes) -> bool:
    return any(marker in body for marker in _UNSTORABLE_MARKERS)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _finite_float(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise ValueError(f"{literal} is out of range")
    return number


def _depth(value: object) -> int:
    """How deeply dicts and lists nest in `value`, without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return deepest


# NUL (which PostgreSQL's text and jsonb cannot hold) and lone UTF-16 surrogates (which
# are not UTF-8 at all) may arrive as JSON escapes; a request carrying one must still be
# stored and answered rather than fail on insert.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: object) -> object:
    """`value` with unstorable characters replaced by U+FFFD, through dicts and lists."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


def text(value: object, *, max_length: int | None = None) -> str:
    """A scalar from MiniVoice as text (cut to `max_length`); objects and lists as ""."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return str(value).strip()[:max_length]


def _call_id(value: object) -> str:
    call_id = text(value)
    if any(ord(char) < 0x20 for char in call_id):
        raise MalformedRequest("invalid_call_id", "The call id has control characters.")
    if len(call_id) > CALL_ID_MAX_LENGTH:
        raise MalformedRequest(
            "invalid_call_id", f"The call id is longer than {CALL_ID_MAX_LENGTH} characters."
        )
    return call_id


def parse_timestamp(value: object) -> datetime | None:
    """An ISO 8601 `created_at` in UTC, or None when absent or unreadable (never an error)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value)
        # Converting also catches an offset that pushes the date out of range.
        moment = parsed.astimezone(UTC) if parsed and parsed.tzinfo else None
    except (ValueError, OverflowError):
        return None
    # A day's margin at either end of the calendar, so that showing it in any time zone
    # (the admin, commands) cannot overflow either.
    if moment is None or not _SHOWABLE_FROM <= moment <= _SHOWABLE_UNTIL:
        return None
    return moment


_SHOWABLE_FROM = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
_SHOWABLE_UNTIL = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


# -- answer_url requests --------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerRequest:
    """What MiniVoice told us when it asked for actions."""

    call_id: str
    status: str = ""
    direction: str = ""
    from_number: str = ""
    to_number: str = ""
    variables: dict = field(default_factory=dict)
    created_at: datetime | None = None


# -- Step URLs (ours: CONTRACT.md §1 "Step URLs") --------------------------------------------

# The query parameter of a collect's or redirect's url that carries our signed step token:
# the one thing read from a URL, even on a signed request (it carries its own signature).
STEP_TOKEN_PARAM = "step"
# (assumed) How long MiniVoice may take to come back to a step's url: a collect's timeout,
# a prompt before it, retries with back-off. Older tokens answer the safe fallback.
STEP_TOKEN_MAX_AGE = timedelta(hours=2)
# (assumed) MiniVoice sends the keys a collect gathered as `variables.digits`.
DIGITS_VARIABLE = "digits"


def step_token(query: str) -> str:
    """The step token in a request's query string; "" when there is none."""
    if STEP_TOKEN_PARAM not in query:  # most first requests have no query at all
        return ""
    values = [value for key, value in parse_qsl(query) if key == STEP_TOKEN_PARAM]
    return values[-1] if values else ""


def pressed(variables: Mapping) -> str:
    """The keys a collect gathered ("" for none), read liberally: text or a number."""
    digits = variables.get(DIGITS_VARIABLE)
    if isinstance(digits, bool) or digits is None:
        return ""
    return str(digits).strip()


# Flat parameters (GET query, form body, flat JSON) that describe the call (or name our
# step), not variables.
_CALL_PARAMS = {"call_id", "from", "to", "direction", "status", "created_at", STEP_TOKEN_PARAM}

# A signature covers `{webhook-id}.{webhook-timestamp}.{raw body}` only (assumed: CONTRACT.md
# §1 "Signed requests"): not the method, the path or the query string. So when requests
# are signed, only the body may say anything we record or act on.
SIGNED_ANSWER_METHOD = "POST"


def parse_answer_request(
    *, method: str, query: str, body: bytes, content_type: str, signed: bool
) -> AnswerRequest:
    """Read an answer_url request (assumed shape: CONTRACT.md §1).

    Unsigned (local development, no secret set): liberal. The JSON body (`call.id` or a
    flat `call_id`), a form-encoded body, and query parameters, which fill in what the
    body leaves out. Signed: the signed body alone. The query string is ignored, a GET is
    refused (its body is empty, so its signature fits any query), and so is a body that
    is a webhook envelope (a captured event replayed here is not a request for actions).
    """
    if signed and method != SIGNED_ANSWER_METHOD:
        raise MalformedRequest(
            "signed_post_required",
            "With a webhook secret set, the answer_url takes signed POST requests only: "
            "a GET's query string is not covered by the signature.",
            status=405,
        )
    params: dict = {} if signed else dict(parse_qsl(query, keep_blank_values=True))
    # parse_json_object returns storable values already; decoded query and form text is
    # made storable below, after its call id is checked as sent.
    cleaned = not params
    if body.strip():
        if content_type == "application/json":
            params.update(parse_json_object(body))
        elif content_type == "application/x-www-form-urlencoded":
            cleaned = False
            try:
                params.update(parse_qsl(body.decode(), keep_blank_values=True))
            except UnicodeDecodeError:
                raise MalformedRequest("malformed_body", "The form body is not UTF-8.") from None
        else:
            raise MalformedRequest(
                "unsupported_media_type",
                f"Unsupported content type {content_type!r}.",
                status=415,
            )
    if signed and "event" in params:
        raise MalformedRequest(
            "webhook_event_body",
            "The body is a webhook event, not an answer_url request: send events to the "
            "webhook URL.",
        )

    call = params.get("call") if isinstance(params.get("call"), Mapping) else {}
    call_id = _call_id(call.get("id")) or _call_id(params.get("call_id"))
    if not cleaned:
        params, call = storable(params), storable(call)
    if not call_id:
        raise MalformedRequest("missing_call_id", "The request has no call id (call.id).")

    variables = params.get("variables")
    if not isinstance(variables, Mapping):
        # GET and form requests carry variables as plain parameters.
        variables = {k: v for k, v in params.items() if k not in _CALL_PARAMS | {"call"}}
    return AnswerRequest(
        call_id=call_id,
        status=text(call.get("status") or params.get("status")),
        direction=text(call.get("direction") or params.get("direction")),
        from_number=text(call.get("from") or params.get("from")),
        to_number=text(call.get("to") or params.get("to")),
        variables=dict(variables),
        created_at=parse_timestamp(params.get("created_at")),
    )


# -- Webhook payloads ---------------------------------------------------------------------


@dataclass(frozen=True)
class EventFacts:
    """The parts of a webhook payload that intake indexes."""

    event_type: str
    call_id: str
    occurred_at: datetime | None
    call_id_problem: str = ""  # why a call id that was sent cannot be used


def read_event_facts(payload: Mapping) -> EventFacts:
    """Pull the event type, call id and time from a payload, tolerating any shape.

    Intake must store every signed delivery, so nothing here raises: a field that is
    missing or of the wrong type reads as empty, and an unusable call id is said why.
    """
    call_id, problem = "", ""
    try:
        call_id = _call_id(event_call(payload).get("id")) or _call_id(
            event_data(payload).get("call_id")
        )
    except MalformedRequest as exc:
        problem = exc.message
    return EventFacts(
        event_type=text(payload.get("event"), max_length=64),
        call_id=call_id,
        occurred_at=parse_timestamp(payload.get("created_at")),
        call_id_problem=problem,
    )


def event_data(payload: Mapping) -> Mapping:
    data = payload.get("data")
    return data if isinstance(data, Mapping) else {}


def event_call(payload: Mapping) -> Mapping:
    call = payload.get("call")
    return call if isinstance(call, Mapping) else {}


def whole_number(value: object, *, maximum: int = 2**31 - 1) -> int | None:
    """A whole number from 0 to `maximum` (what the column holds) from a payload, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and 0 <= value <= maximum:
        return value
    return None
