"""Standard Webhooks signatures on MiniVoice's requests (webhooks and answer_url).

The `standardwebhooks` package does the cryptography and the replay window (5 minutes).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
_WHOLE_SECONDS = re.compile(r"[0-9]{1,12}")


class SignatureError(Exception):
    """The request is not signed by any of our secrets; the message says why."""


@lru_cache(maxsize=8)
def _verifiers(secrets: tuple[str, ...]) -> tuple[Webhook, ...]:
    return tuple(Webhook(secret) for secret in secrets)


def verify_signature(*, body: bytes, headers: Mapping[str, str], secrets: Sequence[str]) -> None:
    """Return if one of `secrets` signed `body` with these headers; else SignatureError.

    Any secret may match, so that MiniVoice can rotate its secret without downtime.
    """
    if not secrets:
        raise SignatureError("No webhook secret is configured.")
    wanted = {name: headers.get(name, "") for name in SIGNATURE_HEADERS}
    if not all(wanted.values()):
        raise SignatureError(
            "The webhook-id, webhook-timestamp and webhook-signature headers are required."
        )
    if not _WHOLE_SECONDS.fullmatch(wanted["webhook-timestamp"]):
        # The library reads "T.9" as a float and verifies a signature made over "T".
        raise SignatureError("The webhook-timestamp header must be whole Unix seconds.")
    wanted["webhook-signature"] = _well_formed_signatures(wanted["webhook-signature"])
    if not wanted["webhook-signature"]:
        raise SignatureError(
            "The webhook-signature header is malformed: it has no 'v1,<base64>' entry."
        )
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise SignatureError(
            "The body is not UTF-8 text, so its signature cannot be checked."
        ) from None

    reason = "The signature does not match."
    for verifier in _verifiers(tuple(secrets)):
        try:
            # Not parsed here: the caller judges the body, and parses it once.
            verifier.verify(text, wanted, json_parse=False)
        except WebhookVerificationError as exc:
            # "Message timestamp too old", "No matching signature found", ...
            reason = f"Signature check failed: {exc}."
        else:
            return
    raise SignatureError(reason)


def _well_formed_signatures(header: str) -> str:
    """The header's `version,base64` entries, less any garbled one.

    The library stops at the first entry it cannot split or decode, so one garbled entry
    beside a valid signature would otherwise refuse a properly signed request.
    """
    kept = []
    for entry in header.split():
        version, _, signature = entry.partition(",")
        try:
            if version and base64.b64decode(signature, validate=True):
                kept.append(entry)
        except binascii.Error:
            continue
    return " ".join(kept)


def signed_headers(
    *, body: bytes, secret: str, webhook_id: str, timestamp: datetime | None = None
) -> dict[str, str]:
    """The headers MiniVoice would send with `body`: for our tests and local tools."""
    # Webhook.sign reads the clock fields as UTC (it replaces tzinfo), so convert first.
    timestamp = (timestamp or datetime.now(tz=UTC)).astimezone(UTC)
    signature = Webhook(secret).sign(msg_id=webhook_id, timestamp=timestamp, data=body.decode())
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }
