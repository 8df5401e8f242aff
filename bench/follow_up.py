"""The follow-up round's call: a flow with a `collect`, and one call that reached it.

With flows, most answer_url requests are a call's second or later: MiniVoice comes back
to the `collect`'s url with the digits (CONTRACT.md §1, "Step URLs"). Before the rounds,
the harness publishes a consent IVR (`consent_flow.json`, the issue's example) through
`manage.py flows import --publish`, as an operator would, and opens one call on it over
HTTP; its answer's `collect` url (a signed step token) is where every follow-up request
goes, each with its own webhook-id: the same call asked again, as in production when a
caller presses keys.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from bench import signing
from bench.load import HarnessError

FLOW_FILE = Path(__file__).with_name("consent_flow.json")
DIALLED = "+15550199"  # the flow's number, which the answer round's calls dial too


@dataclass(frozen=True)
class FollowUp:
    call_id: str
    path: str  # the collect's url, path and query: where MiniVoice comes back

    def url(self, base_url: str) -> str:
        return base_url + self.path


def open_call(*, base_url: str, secret: str, run: str) -> FollowUp:
    """Ask the answer_url for a new call's first actions; the collect's url in them.

    HarnessError when the answer has no collect (the flow was not published)."""
    call_id = f"call_{run}_follow"
    webhook_id = f"msg_{run}_open"
    now = datetime.now(tz=UTC)
    body = signing.answer_body(0, run=run, at=now).replace(
        f"call_{run}_0000000".encode(), call_id.encode()
    )
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
    return FollowUp(call_id=call_id, path=f"{url.path}?{url.query}")
