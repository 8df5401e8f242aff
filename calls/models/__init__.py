"""The calls app's rows: a call and everything MiniVoice said about it (`calls.models.calls`),
the call flows staff publish (`calls.models.flows`) and the dashboard's last counts
(`calls.models.dashboard`)."""

from calls.models.calls import (
    FIRST_RETRY_DELAY,
    LONGEST_RETRY_DELAY,
    AnswerExchange,
    Call,
    CallProblem,
    WebhookEvent,
    retry_delay,
)
from calls.models.dashboard import DASHBOARD_KEY, DashboardSnapshot
from calls.models.flows import REVISION_ROW, Flow, FlowsRevision, FlowStep, FlowVersion

__all__ = [
    "DASHBOARD_KEY",
    "FIRST_RETRY_DELAY",
    "LONGEST_RETRY_DELAY",
    "REVISION_ROW",
    "AnswerExchange",
    "Call",
    "CallProblem",
    "DashboardSnapshot",
    "Flow",
    "FlowStep",
    "FlowVersion",
    "FlowsRevision",
    "WebhookEvent",
    "retry_delay",
]
