"""The calls app's rows: a call and its problems (`calls.models.calls`), everything said
with MiniVoice about it (`calls.models.logs`), the call flows staff publish
(`calls.models.flows`) and the dashboard's last counts (`calls.models.dashboard`)."""

from calls.models.calls import Call, CallProblem
from calls.models.dashboard import DASHBOARD_KEY, DashboardSnapshot
from calls.models.flows import REVISION_ROW, Flow, FlowsRevision, FlowStep, FlowVersion
from calls.models.logs import (
    FIRST_RETRY_DELAY,
    LONGEST_RETRY_DELAY,
    AnswerExchange,
    WebhookEvent,
    retry_delay,
)

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
