"""What MiniVoice sends: webhook envelopes, answer_url request bodies, and signatures.

The shapes follow CONTRACT.md §1 and §2; the tests' builders (conftest.py) and
`send_webhook` use these too, so every request the app sees in tests is built one way.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from calls.protocol.signatures import signed_headers

# The envelope's `call.status` at each event, when the caller does not say otherwise.
CALL_STATUS_AT = {
    "call.initiated": "initiated",
    "call.ringing": "ringing",
    "call.completed": "completed",
}


def iso(moment: datetime) -> str:
    """MiniVoice's timestamp format: UTC, `Z`, milliseconds when there are any."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


def new_webhook_id() -> str:
    """A fresh id: every request MiniVoice makes has its own (retries reuse theirs)."""
    return f"msg_{uuid.uuid4().hex}"


def event_payload(
    event: str,
    *,
    call_id: str,
    created_at: datetime | str,
    call_status: str | None = None,
    direction: str = "inbound",
    **data,
) -> dict:
    """A webhook envelope shaped like MiniVoice's own example (CONTRACT.md §2)."""
    return {
        "event": event,
        "created_at": created_at if isinstance(created_at, str) else iso(created_at),
        "call": {
            "id": call_id,
            "status": call_status or CALL_STATUS_AT.get(event, "in_progress"),
            "direction": direction,
        },
        "variables": {},
        "data": {"call_id": call_id, **data},
    }


def answer_request_body(
    *,
    call_id: str,
    created_at: datetime,
    variables: dict | None = None,
    from_number: str = "+15550100",
    to_number: str = "+15550199",
    direction: str = "inbound",
) -> dict:
    """The JSON body MiniVoice POSTs to the answer_url (CONTRACT.md §1)."""
    return {
        "call": {
            "id": call_id,
            "status": "in_progress",
            "direction": direction,
            "from": from_number,
            "to": to_number,
        },
        "variables": dict(variables or {}),
        "created_at": iso(created_at),
    }


def encode(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def signed_json_headers(*, body: bytes, secret: str, webhook_id: str) -> dict[str, str]:
    """Every header of a signed MiniVoice POST: Standard Webhooks, signed now."""
    headers = signed_headers(body=body, secret=secret, webhook_id=webhook_id)
    return {**headers, "Content-Type": "application/json", "User-Agent": "MiniVoice-Emulator/1"}
