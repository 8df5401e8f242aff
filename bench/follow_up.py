"""The follow-up round's calls: a flow with a `collect`, and calls that reached it.

With flows, most answer_url requests are a call's second or later: MiniVoice comes back
to the `collect`'s url with the digits (CONTRACT.md §1, "Step URLs"). Before the rounds,
the harness publishes a consent IVR (`consent_flow.json`, the issue's example) through
`manage.py flows import --publish`, as an operator would, and opens `CALLS` calls on it
over HTTP; each answer's `collect` url (a signed step token) is where that call's
follow-up requests go, each with its own webhook-id. Many calls rather than one: in
production a busy line has many callers pressing keys at once, not one caller pressing
thousands of keys (which would measure the wait on one call's row lock).
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from bench import signing
from bench.load import HarnessError

FLOW_FILE = Path(__file__).with_name("consent_flow.json")
CALLS = 256  # open calls the follow-up requests take turns on


def open_calls(*, base_url: str, secret: str, run: str, count: int = CALLS) -> list:
    """Ask the answer_url for `count` new calls' first actions: their collects' urls.

    HarnessError when an answer has no collect (the flow was not published)."""
    now = datetime.now(tz=UTC)
    return [_open_call(base_url, secret, run, n, now) for n in range(count)]


def _open_call(base_url: str, secret: str, run: str, n: int, now: datetime) -> signing.OpenCall:
    body = signing.answer_body(n, run=f"{run}open", at=now)
    call_id = json.loads(body)["call"]["id"]
    webhook_id = f"msg_{run}_o{n:08d}"
    timestamp = int(now.timestamp())
    request = urllib.request.Request(
        base_url + "/minivoice/answer/",
        data=body,
        headers={
            "Content-Type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signing.sign(
                secret=secret, webhook_id=webhook_id, timestamp=timestamp, body=body
            ),
            "X-Forwarded-Proto": "https",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.load(response)
    actions = answer.get("actions", []) if isinstance(answer, dict) else []
    collects = [a["collect"] for a in actions if isinstance(a, dict) and "collect" in a]
    if not collects or "url" not in collects[0]:
        raise HarnessError(f"the follow-up round's call got no collect url: {answer!r}")
    url = urlsplit(collects[0]["url"])
    return signing.OpenCall(call_id=call_id, path=f"{url.path}?{url.query}")
