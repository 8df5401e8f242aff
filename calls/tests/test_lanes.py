"""The lane chart: a 20-second call and a 2-hour call both read well.

Built from plain data (no database): the lanes are a function of a Timeline.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from calls.console.charts import CHAR_WIDTH, lane_chart
from calls.models import Call
from calls.timeline.lanes import ANSWER_URL, RECORDINGS, STATUS, WEBHOOKS, build_lanes, offset_label
from calls.timeline.types import Entry, Timeline
from recordings.models import Recording

START = datetime(2026, 5, 29, 12, 0, 0, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def _entry(kind: str, seconds: float, title: str, severity: str = "info") -> Entry:
    return Entry(
        kind=kind,
        at=_at(seconds),
        offset_seconds=seconds,
        title=title,
        summary=f"{title} happened",
        severity=severity,
    )


def _timeline(*, call: Call, entries: list[Entry], recordings: list[Recording]) -> Timeline:
    return Timeline(
        call_id=call.minivoice_id,
        call=call,
        origin=START,
        story="",
        recordings=recordings,
        entries=entries,
    )


def short_call() -> Timeline:
    """20 seconds: answered, greeted, recorded, then the caller hung up mid-recording."""
    call = Call(
        minivoice_id="call_short",
        status=Call.Status.ENDED,
        final_status=Call.FinalStatus.COMPLETED,
        started_at=START,
        answered_at=_at(1),
        ended_at=_at(20),
    )
    recording = Recording(
        minivoice_id="rec_short", status=Recording.Status.STARTED, started_at=_at(2.1)
    )
    entries = [
        _entry("webhook", 0, "call.initiated"),
        _entry("webhook", 1, "call.answered"),
        _entry("answer_url", 1.2, "say → start_recording → pause → stop_recording"),
        _entry("webhook", 2.1, "recording.started"),
        _entry("webhook", 20, "call.completed"),
    ]
    return _timeline(call=call, entries=entries, recordings=[recording])


def long_call() -> Timeline:
    """2 hours, an event every 2 seconds, a recording that completed after 90 minutes."""
    call = Call(
        minivoice_id="call_long",
        status=Call.Status.ENDED,
        final_status=Call.FinalStatus.COMPLETED,
        started_at=START,
        answered_at=_at(5),
        ended_at=_at(7200),
    )
    recording = Recording(
        minivoice_id="rec_long",
        status=Recording.Status.COMPLETED,
        started_at=_at(10),
        completed_at=_at(5400),
        duration_seconds=5390,
    )
    entries = [_entry("answer_url", 5, "say → start_recording")]
    entries += [_entry("webhook", seconds, "dtmf.received") for seconds in range(0, 7201, 2)]
    return _timeline(call=call, entries=entries, recordings=[recording])


def _lane(lanes, key):
    return next(lane for lane in lanes.lanes if lane.key == key)


def test_a_20_second_call_has_ticks_every_5_seconds_and_one_mark_per_event():
    lanes = build_lanes(timeline=short_call(), now=_at(3600))

    assert (lanes.start, lanes.end) == (0, 20)
    assert [tick.label for tick in lanes.ticks] == ["+0 s", "+5 s", "+10 s", "+15 s", "+20 s"]
    assert [mark.label for mark in _lane(lanes, WEBHOOKS).marks] == [
        "call.initiated",
        "call.answered",
        "recording.started",
        "call.completed",
    ]
    [answer] = _lane(lanes, ANSWER_URL).marks
    assert answer.start == 1.2
    assert answer.label == "say → start_recording → pause → stop_recording"


def test_a_recording_that_never_completed_is_an_open_span_to_the_end_of_the_call():
    lanes = build_lanes(timeline=short_call(), now=_at(3600))

    [span] = _lane(lanes, RECORDINGS).marks
    assert (span.start, span.end) == (2.1, 20)
    assert span.open_ended
    assert span.severity == "warning"
    assert span.label == "started, never completed"


def test_the_status_lane_runs_from_initiated_through_in_progress_to_the_end():
    lanes = build_lanes(timeline=short_call(), now=_at(3600))

    marks = _lane(lanes, STATUS).marks
    assert [(m.label, m.start, m.end) for m in marks] == [
        ("initiated", 0, 1),
        ("in progress", 1, 20),
        ("ended: completed", 20, None),
    ]


def test_a_2_hour_call_has_a_few_round_ticks_and_merges_crowded_events():
    lanes = build_lanes(timeline=long_call(), now=_at(99999))

    assert (lanes.start, lanes.end) == (0, 7200)
    assert [tick.label for tick in lanes.ticks] == [
        "+0 s",
        "+15 min",
        "+30 min",
        "+45 min",
        "+1 h",
        "+1 h 15 min",
        "+1 h 30 min",
        "+1 h 45 min",
        "+2 h",
    ]
    events = _lane(lanes, WEBHOOKS).marks
    # 3,601 events become at most one mark per 1/60 of the axis, and none is lost.
    assert len(events) <= 61
    assert sum(mark.count for mark in events) == 3601
    assert events[0].label.endswith(" events")
    [recording] = _lane(lanes, RECORDINGS).marks
    assert (recording.start, recording.end, recording.open_ended) == (10, 5400, False)
    assert recording.label == "recorded 5390 s"


def test_a_call_in_progress_runs_its_axis_to_now():
    timeline = short_call()
    call = timeline.call
    call.status, call.final_status, call.ended_at = Call.Status.IN_PROGRESS, "", None
    timeline.entries.pop()  # no call.completed yet

    lanes = build_lanes(timeline=timeline, now=_at(30))

    assert lanes.end == 30
    in_progress = _lane(lanes, STATUS).marks[-1]
    assert (in_progress.label, in_progress.end, in_progress.open_ended) == ("in progress", 30, True)


def _labels(svg: str) -> list[str]:
    return re.findall(r'class="label[^"]*">([^<]*)<', svg)


def test_the_svg_of_a_short_call_labels_every_mark():
    svg = str(lane_chart(build_lanes(timeline=short_call(), now=_at(3600))))

    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "Our answers" in svg and "MiniVoice events" in svg
    assert "Recordings" in svg and "Call status" in svg
    assert _labels(svg) == [
        "say → start_recording → pause → stop_recording",
        "call.initiated",
        "call.answered",
        "recording.started",
        "call.completed",
        "started, never completed",
        "initiated",
        "in progress",
        "ended: completed",
    ]
    assert 'stroke-dasharray="4 3"' in svg  # the span that never got its end
    _assert_no_overlap(svg)


LABEL = re.compile(r'<text x="([\d.]+)" y="([\d.]+)" class="label[^"]*">([^<]*)<')


def _labels_by_lane(svg: str) -> dict[str, list[tuple[float, float, str]]]:
    """Each lane's labels as (row's y, x, text)."""
    lanes = re.findall(r'<g class="lane lane-(\w+)">(.*?)(?=<g class="lane |</svg>)', svg, re.S)
    return {
        key: [(float(y), float(x), html.unescape(text)) for x, y, text in LABEL.findall(body)]
        for key, body in lanes
    }


def _assert_no_overlap(svg: str) -> None:
    for labels in _labels_by_lane(svg).values():
        for (y, x, text), (next_y, next_x, _) in pairwise(sorted(labels)):
            if y == next_y:
                assert x + len(text) * CHAR_WIDTH <= next_x, (text, x, next_x)


def test_the_svg_of_a_long_call_stays_small_and_its_labels_never_overlap():
    svg = str(lane_chart(build_lanes(timeline=long_call(), now=_at(99999))))

    assert len(svg) < 120_000  # not one shape per event
    assert svg.count("<circle") <= 62
    by_lane = _labels_by_lane(svg)
    assert set(by_lane) == {ANSWER_URL, WEBHOOKS, RECORDINGS, STATUS}
    assert [text for _, _, text in by_lane[RECORDINGS]] == ["recorded 5390 s"]
    _assert_no_overlap(svg)


def test_marks_from_minivoice_are_escaped_in_the_svg():
    timeline = short_call()
    timeline.entries.append(_entry("webhook", 10, "<script>alert(1)</script>"))

    svg = str(lane_chart(build_lanes(timeline=timeline, now=_at(3600))))

    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg


def test_offset_labels_are_as_fine_as_the_axis_step():
    assert offset_label(12, step=5) == "+12 s"
    assert offset_label(150, step=30) == "+2 min 30 s"
    assert offset_label(5400, step=900) == "+1 h 30 min"
    assert offset_label(7200, step=1800) == "+2 h"
    assert offset_label(-3, step=1) == "-3 s"


def test_events_left_out_of_the_page_are_one_dashed_span_in_their_gap():
    timeline = long_call()
    shown = [
        e for e in timeline.entries if e.kind != "webhook" or not 100 <= e.offset_seconds < 7000
    ]
    timeline = replace(timeline, entries=shown, hidden_entries=3450)

    lanes = build_lanes(timeline=timeline, now=_at(99999), hidden_after=50)

    [gap] = [mark for mark in _lane(lanes, WEBHOOKS).marks if mark.end is not None]
    assert (gap.start, gap.end) == (98, 7000)  # the 50th event shown, then the 51st
    assert gap.label == "3450 more events, in the events list"
    assert gap.open_ended
