"""Which actions we return on a call: from the call flows staff publish.

`actions_for_call` is the one door the answer_url uses; the flows' rows are in
`calls.models.flows`, the document's shape in `document`, what is checked before
publishing in `checks`, the per-process copy of what callers get in `live`, and the step
tokens of follow-up URLs in `tokens`.
"""

from __future__ import annotations

from collections.abc import Mapping

from calls.flows.answering import FALLBACK_FLOW, FALLBACK_PAYLOAD, Position, answer_for
from calls.flows.live import revision_now
from calls.flows.seed import DEFAULT_FLOW
from calls.models import Call

__all__ = [
    "DEFAULT_FLOW",
    "FALLBACK_FLOW",
    "FALLBACK_PAYLOAD",
    "Position",
    "actions_for_call",
    "revision_now",
]


def actions_for_call(
    *,
    call: Call,
    variables: Mapping,
    step_token: str = "",
    answer_url: str = "",
    revision: int | None = None,
) -> tuple[Position, dict]:
    """Where in which flow this request of the call is, and the action payload for it.

    `step_token` is the signed token of a follow-up's URL; `answer_url` the absolute URL
    follow-ups come back to; `revision` the database's flows revision, when the caller
    read it (the kept copy of the live flows is reloaded if it is older).
    """
    return answer_for(
        call=call,
        variables=variables,
        step_token=step_token,
        answer_url=answer_url,
        revision=revision,
    )
