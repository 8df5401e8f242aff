"""The calls app's rows: a call and everything MiniVoice said about it (`calls.models.calls`),
and the call flows staff publish (`calls.models.flows`)."""

from calls.models.calls import (
    FIRST_RETRY_DELAY,
    LONGEST_RETRY_DELAY,
    AnswerExchange,
    Call,
    CallProblem,
    WebhookEvent,
    retry_delay,
)
from calls.models.flows import REVISION_ROW, Flow, FlowsRevision, FlowStep, FlowVersion

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
