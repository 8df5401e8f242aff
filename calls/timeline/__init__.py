"""A call's timeline, story and problems: plain functions over its records, usable
without a request, shared by the admin's call page, `call_timeline` and the export.

A read model: nothing here writes a row or sends anything (an import-linter contract
says so). Problems are read as stored, or worked out by the checks for a call that has
no row yet."""

from __future__ import annotations

from django.utils import timezone

from calls.models import CallProblem
from calls.problems.checks import find_problems
from calls.records import CallRecords, call_records, first_at, say_offset
from calls.timeline.entries import build_entries
from calls.timeline.export import dumps, timeline_json
from calls.timeline.merged import (
    TimelineEntry,
    call_last_step_before,
    call_timeline,
    calls_timelines,
)
from calls.timeline.story import call_story
from calls.timeline.types import Entry, Timeline

__all__ = [
    "Entry",
    "Timeline",
    "TimelineEntry",
    "build_timeline",
    "call_last_step_before",
    "call_records",
    "call_story",
    "call_timeline",
    "calls_timelines",
    "dumps",
    "say_offset",
    "timeline_json",
]


def build_timeline(*, call_id: str, max_events: int = 200) -> Timeline:
    """Everything support reads about one call, in a fixed number of queries.

    Works for a call known only from stored events (no Call row yet): its problems are
    then worked out from those events rather than read from stored rows.
    """
    records = call_records(call_id=call_id, max_events=max(max_events, 2))
    origin = _origin(records)
    if records.call is not None:
        problems = records.problems
    else:
        problems = [
            CallProblem(code=found.code, severity=found.severity, message=found.message)
            for found in find_problems(records=records, now=timezone.now())
        ]
    return Timeline(
        call_id=call_id,
        call=records.call,
        origin=origin,
        story=call_story(records, origin) if not records.is_empty else "",
        problems=problems,
        recordings=records.recordings,
        entries=build_entries(records, origin),
        hidden_entries=records.hidden_events,
    )


def _origin(records: CallRecords):
    """The call's start by MiniVoice's clock, else the first thing we heard of it."""
    if records.call is not None and records.call.started_at is not None:
        return records.call.started_at
    return first_at(
        *(exchange.at for exchange in records.exchanges), *(event.at for event in records.events)
    )
