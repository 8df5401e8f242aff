"""The calls app's rows: a call and its problems (`calls.models.calls`), everything said
with MiniVoice about it (`calls.models.logs`), and the call flows staff publish
(`calls.models.flows`)."""

from calls.models.calls import Call, CallProblem
from calls.models.flows import REVISION_ROW, Flow, FlowsRevision, FlowStep, FlowVersion
from calls.models.logs import (
    FIRST_RETRY_DELAY,
    LONGEST_RETRY_DELAY,
    AnswerExchange,
    WebhookEvent,
    retry_delay,
)

__all__ = [
    "FIRST_RETRY_DELAY",
    "LONGEST_RETRY_DELAY",
    "REVISION_ROW",
    "AnswerExchange",
    "Call",
    "CallProblem",
    "Flow",
    "FlowStep",
    "FlowVersion",
    "FlowsRevision",
    "WebhookEvent",
    "retry_delay",
]
