"""The fill: N calls over 90 days (most of them in the last 7, as the dashboard's week
is measured at), their problems and recordings, ten events each and one big call's, by
COPY through psycopg 3, with a progress bar."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import psycopg
from rich.progress import Progress

from bench.load import HarnessError
from bench.output import console
from bench.rows import (
    CALL_COLUMNS,
    EVENT_COLUMNS,
    PROBLEM_COLUMNS,
    RECORDING_COLUMNS,
    call_problems,
    call_recording,
    call_row,
    event_row,
    problem_row,
    recording_row,
)

EVENTS_PER_CALL = 10
CHUNK_ROWS = 20_000
SPAN = timedelta(days=90)
# The front page is timed at 600,000 calls of 1,000,000 in its 7-day window.
# An even spread over the 90 days is 7/90 (0.078).
LAST_WEEK = timedelta(days=7)
LAST_WEEK_SHARE = 0.6

FILL_ORDERS = ("oldest-first", "newest-first")


def call_numbers(calls: int, *, order: str = "oldest-first") -> range:
    """The calls in the order their rows are written (call 0 is the newest).

    Oldest first, as rows arriving one by one: ids follow time, which is what pruning
    and "newest first" lists walk in production. Newest first puts ids against time, as
    a bulk import or a restore can (the order prune_events once crawled through).
    """
    if order not in FILL_ORDERS:
        raise ValueError(f"fill order must be one of {FILL_ORDERS}, not {order!r}")
    return range(calls) if order == "newest-first" else range(calls - 1, -1, -1)


def created_at(
    n: int, *, calls: int, now: datetime, last_week_share: float = LAST_WEEK_SHARE
) -> datetime:
    """Call n's time: call 0 now; the newest `last_week_share` of the calls spread evenly
    over the last 7 days, the rest evenly over the 83 days before."""
    if not 0 < last_week_share < 1:
        raise ValueError(f"the last week's share must be between 0 and 1, not {last_week_share}")
    recent = calls * last_week_share
    if n < recent:
        return now - LAST_WEEK * (n / recent)
    return now - LAST_WEEK - (SPAN - LAST_WEEK) * ((n - recent) / (calls - recent))


def fill(
    dsn: str,
    *,
    calls: int,
    big_call_events: int,
    now: datetime,
    order: str = "oldest-first",
    last_week_share: float = LAST_WEEK_SHARE,
) -> dict:
    """COPY the calls, their problems and recordings, their events and the big call's;
    ANALYZE; return what was made."""
    numbers = call_numbers(calls, order=order)

    def when(n: int) -> datetime:
        return created_at(n, calls=calls, now=now, last_week_share=last_week_share)

    total_events = calls * EVENTS_PER_CALL + big_call_events
    started = time.monotonic()
    with psycopg.connect(dsn) as conn, Progress(console=console) as progress:
        task = progress.add_task("calls", total=calls)
        with conn.cursor().copy(f"COPY calls_call ({', '.join(CALL_COLUMNS)}) FROM STDIN") as copy:
            for start in range(0, calls, CHUNK_ROWS):
                chunk = numbers[start : start + CHUNK_ROWS]
                copy.write("".join(call_row(n, created=when(n)) for n in chunk))
                progress.update(task, completed=start + len(chunk))
        first_pk = _first_call_pk(conn, calls=calls)
        problems = 0
        with conn.cursor().copy(
            f"COPY calls_callproblem ({', '.join(PROBLEM_COLUMNS)}) FROM STDIN"
        ) as copy:
            for lines in _problem_chunks(numbers, first_pk=first_pk, when=when):
                copy.write(lines)
                problems += lines.count("\n")
        recordings = 0
        with conn.cursor().copy(
            f"COPY recordings_recording ({', '.join(RECORDING_COLUMNS)}) FROM STDIN"
        ) as copy:
            for lines in _recording_chunks(numbers, first_pk=first_pk, when=when):
                copy.write(lines)
                recordings += lines.count("\n")
        task = progress.add_task("events", total=total_events)
        columns = ", ".join(EVENT_COLUMNS)
        with conn.cursor().copy(f"COPY calls_webhookevent ({columns}) FROM STDIN") as copy:
            # The big call (call 0, the newest) goes with the newest rows: last when
            # oldest first, first when newest first.
            parts = [
                _big_call_chunks(big_call_events, now=now),
                _call_event_chunks(numbers, when),
            ]
            done = 0
            for lines in itertools.chain(*(parts if order == "newest-first" else parts[::-1])):
                copy.write(lines)
                done += lines.count("\n")
                progress.update(task, completed=done)
        conn.commit()
    filled = time.monotonic() - started
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in (
            "calls_call", "calls_callproblem", "recordings_recording", "calls_webhookevent"
        ):  # fmt: skip
            conn.execute(f"VACUUM ANALYZE {table}")
    return {
        "calls": calls,
        "last_week": sum(1 for n in range(calls) if now - when(n) < LAST_WEEK),
        "problems": problems,
        "recordings": recordings,
        "events": total_events,
        "order": order,
        "last_week_share": last_week_share,
        "fill_seconds": round(filled, 1),
        "rows_per_second": round((calls + problems + recordings + total_events) / filled),
    }


def _first_call_pk(conn: psycopg.Connection, *, calls: int) -> int:
    """The id of the first call written: COPY took one id per row, in order, from the
    table's own sequence, so call number k of the writing order has first + k."""
    first, last, count = conn.execute(
        "SELECT min(id), max(id), count(*) FROM calls_call"
    ).fetchone()
    if count != calls or last - first + 1 != calls:
        raise HarnessError(
            f"expected {calls} calls with consecutive ids, found {count} in {first}..{last}"
        )
    return first


def _problem_chunks(
    numbers: range, *, first_pk: int, when: Callable[[int], datetime]
) -> Iterator[str]:
    """The problem rows of every call that has some, CHUNK_ROWS calls at a time."""
    for start in range(0, len(numbers), CHUNK_ROWS):
        yield "".join(
            problem_row(first_pk + start + offset, code, created=when(n))
            for offset, n in enumerate(numbers[start : start + CHUNK_ROWS])
            for code in call_problems(n)
        )


def _recording_chunks(
    numbers: range, *, first_pk: int, when: Callable[[int], datetime]
) -> Iterator[str]:
    """The recording of every call that has one, CHUNK_ROWS calls at a time."""
    for start in range(0, len(numbers), CHUNK_ROWS):
        yield "".join(
            recording_row(first_pk + start + offset, n, status, created=when(n))
            for offset, n in enumerate(numbers[start : start + CHUNK_ROWS])
            if (status := call_recording(n)) is not None
        )


def _call_event_chunks(numbers: range, when: Callable[[int], datetime]) -> Iterator[str]:
    """Ten events per call, in the calls' order, CHUNK_ROWS lines at a time."""
    per_chunk = CHUNK_ROWS // EVENTS_PER_CALL
    for start in range(0, len(numbers), per_chunk):
        lines = []
        for n in numbers[start : start + per_chunk]:
            created = when(n)
            lines.extend(
                event_row(n, k, created=created, webhook_id=f"msg_s{n:09d}_{k}")
                for k in range(EVENTS_PER_CALL)
            )
        yield "".join(lines)


def _big_call_chunks(count: int, *, now: datetime) -> Iterator[str]:
    for first in range(0, count, CHUNK_ROWS):
        yield "".join(
            event_row(0, k, created=now, webhook_id=f"msg_big_{k:07d}")
            for k in range(first, min(count, first + CHUNK_ROWS))
        )
