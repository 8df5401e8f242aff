"""Flows for the tests: the issue's consent IVR, and MiniVoice asking the answer_url
about a call the way it does, following the URLs our actions give it."""

from __future__ import annotations

import copy
import json

from django.test import Client

from calls.flows.document import read_document
from calls.flows.publishing import Imported, flow_import
from conftest import ANSWER_URL, signed

MAIN_LINE_NUMBER = "+15550199"
TEST_NUMBER = "+15550111"

# The "Flows as files" example, as a file would hold it.
MAIN_LINE = {
    "name": "Main line",
    "numbers": [MAIN_LINE_NUMBER],
    "default": False,
    "requires_consent": True,
    "first_step": "greeting",
    "test_numbers": [TEST_NUMBER],
    "steps": {
        "greeting": {
            "actions": [
                {
                    "say": {
                        "text": "This call may be recorded. Press 1 to agree, 2 to continue "
                        "without recording."
                    }
                },
                {"collect": {"max_digits": 1, "timeout_seconds": 5}},
            ],
            "next": {
                "1": "record",
                "2": "no_recording",
                "no_input": "greeting_again",
                "other": "greeting_again",
            },
        },
        "greeting_again": {
            "actions": [
                {"say": {"text": "Please press 1 or 2."}},
                {"collect": {"max_digits": 1, "timeout_seconds": 5}},
            ],
            "next": {"1": "record", "2": "no_recording", "no_input": "goodbye", "other": "goodbye"},
        },
        "record": {
            "consent": "given",
            "actions": [
                {"start_recording": {}},
                {"say": {"text": "Thank you. How can we help?"}},
                {"pause": {"seconds": 10}},
                {"stop_recording": {}},
                {"hangup": {}},
            ],
        },
        "no_recording": {
            "consent": "declined",
            "actions": [
                {"say": {"text": "This call will not be recorded."}},
                {"transfer": {"to": "+15550123"}},
            ],
        },
        "goodbye": {"actions": [{"say": {"text": "Goodbye."}}, {"hangup": {}}]},
    },
}


def main_line(**changes) -> dict:
    """The consent IVR's document, with top-level keys changed."""
    return {**copy.deepcopy(MAIN_LINE), **changes}


def main_line_published(**changes) -> Imported:
    return flow_import(document=read_document(main_line(**changes)), publish=True)


def ask(
    client: Client,
    *,
    call_id: str = "call_flow",
    url: str = ANSWER_URL,
    to: str = MAIN_LINE_NUMBER,
    from_: str = "+15550100",
    digits: str | None = None,
    at: str = "2026-05-29T12:00:00Z",
):
    """MiniVoice asking `url` (the answer_url, or a step URL we gave) about a call."""
    body = {
        "call": {
            "id": call_id,
            "status": "in_progress",
            "direction": "inbound",
            "from": from_,
            "to": to,
        },
        "variables": {} if digits is None else {"digits": digits},
        "created_at": at,
    }
    raw = json.dumps(body).encode()
    return client.post(url, data=raw, content_type="application/json", **signed(raw))


def collect_url(response) -> str:
    """The url of the answer's collect or redirect: where MiniVoice comes back."""
    for action in response.json()["actions"]:
        for name in ("collect", "redirect"):
            if name in action:
                return action[name]["url"]
    raise AssertionError(f"no collect or redirect in {response.json()}")
