"""Which actions we return on a call.

For now every call gets the seed's test flow (start_recording, say, stop_recording).
Staff-edited call flows will replace `actions_for_call`; everything else asks here.
"""

from __future__ import annotations

from collections.abc import Mapping

from calls.models import Call

DEFAULT_FLOW = "default"

_DEFAULT_ACTIONS = (
    {"start_recording": {}},
    {"say": {"text": "Thank you for calling. This call is recorded for quality and training."}},
    {"stop_recording": {}},
)

# What MiniVoice gets when building the real answer failed: it must still be valid.
FALLBACK_FLOW = "fallback"
FALLBACK_PAYLOAD = {
    "actions": [
        {"say": {"text": "Sorry, we cannot take your call right now. Please try again later."}},
        {"hangup": {}},
    ]
}


def actions_for_call(*, call: Call, variables: Mapping) -> tuple[str, dict]:
    """The flow's name and the action payload for this request of the call."""
    return DEFAULT_FLOW, {"actions": [dict(action) for action in _DEFAULT_ACTIONS]}
