"""The shapes of a call's story: plain data shared by the admin page, `call_timeline`
and the JSON export. Built by `calls.timeline.build_timeline`; nothing here queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from calls.models import AnswerExchange, Call, CallProblem, WebhookEvent
    from calls.recordings_port import RecordingRow

EntryKind = Literal["answer_url", "webhook", "recording", "status"]
Severity = Literal["info", "warning", "error"]


@dataclass(frozen=True)
class Entry:
    """One line of a call's timeline, in time order with the others."""

    kind: EntryKind
    at: datetime  # by MiniVoice's clock where it said, else when we received it
    offset_seconds: float | None  # `at` relative to the call's start (Timeline.origin)
    title: str  # short: "start_recording → say → stop_recording", "recording.started"
    summary: str  # a sentence for support, in plain words
    severity: Severity = "info"
    state: str = ""  # an event's processing state, a recording's or call's status
    received_at: datetime | None = None  # when it reached us (webhooks, answer_url)
    deliveries: int = 1  # a webhook MiniVoice sent more than once is folded into one
    out_of_order: bool = False  # arrived after an event that happened later
    latency_ms: float | None = None  # how long we took to answer (answer_url)
    exchange: AnswerExchange | None = None
    event: WebhookEvent | None = None
    recording: RecordingRow | None = None


@dataclass(frozen=True)
class Timeline:
    """Everything support needs to read one call's story."""

    call_id: str
    call: Call | None  # None while none of its events has been applied yet
    origin: datetime | None  # the call's start: offsets are counted from here
    story: str  # one or two plain sentences: who called, how far they got, how it ended
    problems: list[CallProblem] = field(default_factory=list)
    recordings: list[RecordingRow] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    hidden_entries: int = 0  # events left out between the first and last ones shown
