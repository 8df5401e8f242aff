"""A call's timeline laid out on four lanes over one time axis, for the lane chart.

Plain data in seconds from the call's start: what to draw, not how. The admin draws it as
SVG (calls/console/charts.py). Points closer together than the chart can tell apart are
merged into one mark with a count, so a 2-hour call with thousands of events stays as
legible as a 20-second one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from django.utils import timezone

from calls.timeline.types import Timeline

# The lanes, top to bottom.
ANSWER_URL, WEBHOOKS, RECORDINGS, STATUS = "answer_url", "webhooks", "recordings", "status"
LANE_TITLES = {
    ANSWER_URL: "Our answers",
    WEBHOOKS: "MiniVoice events",
    RECORDINGS: "Recordings",
    STATUS: "Call status",
}
# Round steps for the axis, in seconds: ticks fall on times a person would say.
TICK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400]


@dataclass(frozen=True)
class Mark:
    """A point (`end` is None) or a span on a lane, in seconds from the call's start."""

    start: float
    label: str  # short, drawn beside the mark when there is room
    detail: str  # everything, shown on hover
    end: float | None = None
    severity: str = "info"  # info, warning, error: the colour
    count: int = 1  # points merged into this one
    open_ended: bool = False  # a span whose end never came (drawn to the axis' end)


@dataclass(frozen=True)
class Lane:
    key: str
    title: str
    marks: list[Mark] = field(default_factory=list)


@dataclass(frozen=True)
class Tick:
    seconds: float
    label: str


@dataclass(frozen=True)
class Lanes:
    start: float  # seconds: 0, or earlier when something came before the call's start
    end: float
    lanes: list[Lane]
    ticks: list[Tick]

    @property
    def duration(self) -> float:
        return self.end - self.start


def build_lanes(
    *,
    timeline: Timeline,
    now: datetime | None = None,
    resolution: int = 60,
    hidden_after: int | None = None,
) -> Lanes:
    """The lanes of `timeline`; points within 1/`resolution` of the axis are merged.

    `hidden_after`: how many webhook entries come before the events the timeline left
    out (`Timeline.hidden_entries`); they are drawn as one dashed span in that gap.
    """
    now = now or timezone.now()
    call = timeline.call
    times = [entry.at for entry in timeline.entries]
    times += [t for r in timeline.recordings for t in (r.started_at, r.completed_at, r.failed_at)]
    if call is not None:
        times += [call.started_at, call.answered_at, call.ended_at]
    times = [t for t in times if t is not None]
    origin = timeline.origin or (min(times) if times else now)
    if call is not None and call.ended_at is None and call.status != call.Status.ENDED:
        times.append(max(now, *times) if times else now)  # still going: the axis runs to now

    def at(moment: datetime) -> float:
        return (moment - origin).total_seconds()

    start = min([0.0, *(at(t) for t in times)])
    end = max([start + 1.0, *(at(t) for t in times)])  # at least a second wide
    merge_within = (end - start) / resolution

    answers = [
        Mark(start=at(e.at), label=e.title, detail=_detail(e), severity=e.severity)
        for e in timeline.entries
        if e.kind == "answer_url"
    ]
    events = [
        Mark(start=at(e.at), label=e.title, detail=_detail(e), severity=e.severity)
        for e in timeline.entries
        if e.kind == "webhook"
    ]
    events = _merged(events, merge_within, "events")
    if timeline.hidden_entries and hidden_after:
        events += _hidden_span(timeline, at, hidden_after)
    lanes = [
        Lane(ANSWER_URL, LANE_TITLES[ANSWER_URL], _merged(answers, merge_within, "answers")),
        Lane(WEBHOOKS, LANE_TITLES[WEBHOOKS], sorted(events, key=lambda m: m.start)),
        Lane(RECORDINGS, LANE_TITLES[RECORDINGS], _recording_spans(timeline, at, end)),
        Lane(STATUS, LANE_TITLES[STATUS], _status_spans(timeline, at, end)),
    ]
    return Lanes(start=start, end=end, lanes=lanes, ticks=_ticks(start, end))


def _hidden_span(timeline: Timeline, at, hidden_after: int) -> list[Mark]:
    """The events left out of the page, as a dashed span between those around them."""
    webhooks = [entry for entry in timeline.entries if entry.kind == "webhook"]
    if not 0 < hidden_after < len(webhooks):
        return []
    start, end = at(webhooks[hidden_after - 1].at), at(webhooks[hidden_after].at)
    label = f"{timeline.hidden_entries} more events, in the events list"
    return [Mark(start=start, end=end, label=label, detail=label, severity="info", open_ended=True)]


def _detail(entry) -> str:
    when = f"+{entry.offset_seconds:.1f} s  " if entry.offset_seconds is not None else ""
    return f"{when}{entry.title}: {entry.summary}".strip()


def _merged(marks: list[Mark], within: float, noun: str) -> list[Mark]:
    """Neighbouring points closer than `within` become one mark that counts them."""
    merged: list[Mark] = []
    for mark in sorted(marks, key=lambda m: m.start):
        last = merged[-1] if merged else None
        if last is None or mark.start - last.start > within:
            merged.append(mark)
            continue
        count = last.count + mark.count
        details = last.detail.split("\n")
        if len(details) < 8:
            details.append(mark.detail)
        elif len(details) == 8:
            details.append("…")
        merged[-1] = replace(
            last,
            count=count,
            label=f"{count} {noun}",
            detail="\n".join(details),
            severity=_worst(last.severity, mark.severity),
        )
    return merged


def _worst(a: str, b: str) -> str:
    order = ["info", "warning", "error"]
    return max(a, b, key=lambda s: order.index(s) if s in order else 0)


def _recording_spans(timeline: Timeline, at, end: float) -> list[Mark]:
    marks = []
    for recording in timeline.recordings:
        name = recording.minivoice_id or "recording"
        began = recording.started_at or recording.failed_at or recording.completed_at
        if began is None:
            continue
        if recording.status == recording.Status.COMPLETED:
            finished, severity = recording.completed_at, "info"
            label = "recorded" + (
                f" {recording.duration_seconds} s" if recording.duration_seconds else ""
            )
        elif recording.status == recording.Status.FAILED:
            finished, severity = recording.failed_at, "error"
            label = "failed" + (f": {recording.failure_reason}" if recording.failure_reason else "")
        else:
            finished, severity, label = None, "warning", "started, never completed"
        stop = at(finished) if finished else end
        marks.append(
            Mark(
                start=at(began),
                end=max(stop, at(began)),
                label=label,
                detail=f"{name}: {label}",
                severity=severity,
                open_ended=finished is None,
            )
        )
    return marks


def _status_spans(timeline: Timeline, at, end: float) -> list[Mark]:
    """initiated → in progress → ended, from the call's own times."""
    call = timeline.call
    if call is None:
        return []
    steps = [
        (call.started_at, "initiated", "info"),
        (call.answered_at, "in progress", "info"),
    ]
    if call.ended_at is not None:
        final = call.get_final_status_display().lower() if call.final_status else "ended"
        bad = call.final_status not in ("", call.FinalStatus.COMPLETED)
        steps.append((call.ended_at, f"ended: {final}", "warning" if bad else "info"))
    steps = sorted((s for s in steps if s[0] is not None), key=lambda s: s[0])
    marks = []
    for index, (moment, label, severity) in enumerate(steps):
        last = index == len(steps) - 1
        if last and label.startswith("ended"):
            marks.append(Mark(start=at(moment), label=label, detail=label, severity=severity))
            continue
        stop = end if last else at(steps[index + 1][0])
        marks.append(Mark(start=at(moment), end=stop, label=label, detail=label, open_ended=last))
    return marks


def _ticks(start: float, end: float, most: int = 8) -> list[Tick]:
    span = end - start
    step = next((s for s in TICK_STEPS if span / s <= most), TICK_STEPS[-1])
    first = int(start // step) * step
    ticks, moment = [], float(first)
    while moment <= end + 1e-9:
        if moment >= start - 1e-9:
            ticks.append(Tick(seconds=moment, label=offset_label(moment, step=step)))
        moment += step
    return ticks


def offset_label(seconds: float, *, step: float = 1) -> str:
    """An axis label: `+15 s`, `+2 min 30 s`, `+1 h`, `+1 h 30 min`, as fine as `step`."""
    sign = "-" if seconds < 0 else "+"
    seconds = round(abs(seconds))
    if seconds < 60:
        return f"{sign}{seconds} s"
    if step < 60 and seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{sign}{minutes} min {rest} s" if rest else f"{sign}{minutes} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    if not hours:
        return f"{sign}{minutes} min"
    return f"{sign}{hours} h {minutes} min" if minutes else f"{sign}{hours} h"
