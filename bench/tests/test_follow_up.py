"""The follow-up round sends what MiniVoice sends after a collect, and the app answers it
with the flow's next step: never the fallback (which is a 200 too, so wrk would count
a fallback as an answer)."""

from __future__ import annotations

import json
import urllib.request

import pytest
from django.core.management import call_command

from bench import follow_up, signing
from bench.load import HarnessError
from conftest import TEST_SECRET

pytestmark = pytest.mark.django_db(transaction=True)


def _post(base_url: str, request: signing.SignedRequest) -> dict:
    sent = urllib.request.Request(
        base_url + request.path,
        data=request.body,
        headers={
            "Content-Type": "application/json",
            "webhook-id": request.webhook_id,
            "webhook-timestamp": str(request.timestamp),
            "webhook-signature": request.signature,
        },
    )
    with urllib.request.urlopen(sent, timeout=10) as response:
        assert response.status == 200
        return json.load(response)


def test_every_pooled_follow_up_is_answered_with_the_step_its_digits_choose(live_server):
    call_command("flows", "import", str(follow_up.FLOW_FILE), "--publish", verbosity=0)
    opened = follow_up.open_calls(base_url=live_server.url, secret=TEST_SECRET, run="f1", count=3)
    pool = signing.signed_requests(
        kind="follow_up", count=6, secret=TEST_SECRET, run="f1", calls=opened
    )

    answers = [_post(live_server.url, request) for request in pool]

    record_step = json.loads(follow_up.FLOW_FILE.read_text())["steps"]["record"]["actions"]
    assert [answer["actions"] for answer in answers] == [record_step] * 6
    assert len({call.call_id for call in opened}) == 3


def test_without_the_flow_the_harness_fails_rather_than_measure_the_default_answer(live_server):
    with pytest.raises(HarnessError, match="no collect url"):
        follow_up.open_calls(base_url=live_server.url, secret=TEST_SECRET, run="f2", count=1)
