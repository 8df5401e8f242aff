"""The fill: N calls over 90 days, their problems, ten events each and one big call's,
by COPY through psycopg 3, with a progress bar."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import psycopg
from rich.progress import Progress

from bench.load import HarnessError
from bench.output import console
from bench.rows import (
    CALL_COLUMNS,
    EVENT_COLUMNS,
    PROBLEM_COLUMNS,
    call_problems,
    call_row,
    event_row,
    problem_row,
)

EVENTS_PER_CALL = 10
CHUNK_ROWS = 20_000
SPAN = timedelta(days=90)

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


def created_at(n: int, *, calls: int, now: datetime) -> datetime:
    """Call n's time: call 0 now, the others spread evenly over the 90 days before."""
    return now - SPAN * (n / calls)


def fill(
    dsn: str, *, calls: int, big_call_events: int, now: datetime, order: str = "oldest-first"
) -> dict:
    """COPY the calls, their problems, their events and the big call's; ANALYZE; return
    what was made."""
    numbers = call_numbers(calls, order=order)
    total_events = calls * EVENTS_PER_CALL + big_call_events
    started = time.monotonic()
    with psycopg.connect(dsn) as conn, Progress(console=console) as progress:
        task = progress.add_task("calls", total=calls)
        with conn.cursor().copy(f"COPY calls_call ({', '.join(CALL_COLUMNS)}) FROM STDIN") as copy:
            for start in range(0, calls, CHUNK_ROWS):
                chunk = numbers[start : start + CHUNK_ROWS]
                copy.write(
                    "".join(call_row(n, created=created_at(n, calls=calls, now=now)) for n in chunk)
                )
                progress.update(task, completed=start + len(chunk))
        first_pk = _first_call_pk(conn, calls=calls)
        problems = 0
        with conn.cursor().copy(
            f"COPY calls_callproblem ({', '.join(PROBLEM_COLUMNS)}) FROM STDIN"
        ) as copy:
            for lines in _problem_chunks(numbers, first_pk=first_pk, now=now):
                copy.write(lines)
                problems += lines.count("\n")
        task = progress.add_task("events", total=total_events)
        columns = ", ".join(EVENT_COLUMNS)
        with conn.cursor().copy(f"COPY calls_webhookevent ({columns}) FROM STDIN") as copy:
            # The big call (call 0, the newest) goes with the newest rows: last when
            # oldest first, first when newest first.
            parts = [
                _big_call_chunks(big_call_events, now=now),
                _call_event_chunks(numbers, now),
            ]
            done = 0
            for lines in itertools.chain(*(parts if order == "newest-first" else parts[::-1])):
                copy.write(lines)
                done += lines.count("\n")
                progress.update(task, completed=done)
        conn.commit()
    filled = time.monotonic() - started
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in ("calls_call", "calls_callproblem", "calls_webhookevent"):
            conn.execute(f"VACUUM ANALYZE {table}")
    return {
        "calls": calls,
        "problems": problems,
        "events": total_events,
        "order": order,
        "fill_seconds": round(filled, 1),
        "rows_per_second": round((calls + problems + total_events) / filled),
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


def _problem_chunks(numbers: range, *, first_pk: int, now: datetime) -> Iterator[str]:
    """The problem rows of every call that has some, CHUNK_ROWS calls at a time."""
    calls = len(numbers)
    for start in range(0, calls, CHUNK_ROWS):
        yield "".join(
            problem_row(
                first_pk + start + offset, code, created=created_at(n, calls=calls, now=now)
            )
            for offset, n in enumerate(numbers[start : start + CHUNK_ROWS])
            for code in call_problems(n)
        )


def _call_event_chunks(numbers: range, now: datetime) -> Iterator[str]:
    """Ten events per call, in the calls' order, CHUNK_ROWS lines at a time."""
    calls = len(numbers)
    per_chunk = CHUNK_ROWS // EVENTS_PER_CALL
    for start in range(0, calls, per_chunk):
        lines = []
        for n in numbers[start : start + per_chunk]:
            created = created_at(n, calls=calls, now=now)
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
