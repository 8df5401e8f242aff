"""Single-row INSERTs as intake does them, into each table in turn.

Intake stores a delivery with one INSERT … RETURNING id in autocommit (one statement,
one transaction, no savepoint: see calls.intake.events._insert_once), over Django's
client-side parameter binding. Here `connections` processes, each with one connection,
insert rows of ~390-byte bodies with unique webhook ids and received_at = now (the
newest month's partition) in a loop for `seconds`; the modes take turns (A B C A B C…),
since this machine is shared and only ratios within one run are worth comparing.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from datetime import UTC, datetime

import psycopg

from bench.partitioning import Advance, schema
from bench.rows import EVENT_COLUMNS, event_row

_VALUES = ", ".join(["%s"] * len(EVENT_COLUMNS))
_COLUMNS = ", ".join(EVENT_COLUMNS)
# In a SELECT list (unlike VALUES) a quoted literal is text, and text is not assigned to
# a timestamptz, integer or jsonb column without a cast.
_CASTS = {"occurred_at": "timestamptz", "received_at": "timestamptz", "queued_at": "timestamptz",
          "processed_at": "timestamptz", "deliveries": "integer", "attempts": "integer",
          "headers": "jsonb", "payload": "jsonb"}  # fmt: skip
_SELECTED = ", ".join(f"%s::{_CASTS.get(column, 'text')}" for column in EVENT_COLUMNS)

# What each mode runs for one delivery; its dedupe guarantee is in DEDUPE.
MODES = {
    "plain": f"INSERT INTO {schema.PLAIN} ({_COLUMNS}) VALUES ({_VALUES}) RETURNING id",
    "monthly": f"INSERT INTO {schema.MONTHLY} ({_COLUMNS}) VALUES ({_VALUES}) RETURNING id",
    # One statement, so still one round trip and one transaction: the dedupe table
    # decides (its primary key is webhook_id alone), and the event row is written only
    # when the id is new. It keeps received_at, which names the original's partition.
    "monthly + dedupe table": (
        f"WITH seen AS (INSERT INTO {schema.SEEN} (webhook_id, received_at) "
        "VALUES (%s, %s::timestamptz) ON CONFLICT DO NOTHING RETURNING webhook_id) "
        f"INSERT INTO {schema.MONTHLY} ({_COLUMNS}) SELECT {_SELECTED} FROM seen RETURNING id"
    ),
}
DEDUPE = {
    "plain": "unique webhook_id: a retry is refused",
    "monthly": "unique (webhook_id, received_at) only: a retry is stored again",
    "monthly + dedupe table": "webhook_id unique in the dedupe table, for its window",
}


def delivery(webhook_id: str, *, now: datetime) -> list[str]:
    """One delivery's values, in EVENT_COLUMNS' order (as COPY text, which PostgreSQL
    casts on the way in just as it does Django's bound parameters)."""
    fields = event_row(7, 1, created=now, webhook_id=webhook_id).rstrip("\n").split("\t")
    return [None if value == r"\N" else value for value in fields]


def params(mode: str, values: list) -> list:
    if mode == "monthly + dedupe table":
        return [values[0], values[EVENT_COLUMNS.index("received_at")], *values]
    return values


def insert_loop(dsn: str, mode: str, prefix: str, seconds: float) -> list[float]:
    """Insert for `seconds`; return each insert's latency in ms."""
    latencies = []
    sql = MODES[mode]
    with psycopg.connect(dsn, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        deadline = time.monotonic() + seconds
        n = 0
        while time.monotonic() < deadline:
            values = delivery(f"{prefix}_{n}", now=datetime.now(tz=UTC))
            started = time.perf_counter()
            conn.execute(sql, params(mode, values)).fetchone()
            latencies.append((time.perf_counter() - started) * 1000)
            n += 1
    return latencies


def measure(dsn: str, *, connections: int, seconds: float, rounds: int, advance: Advance) -> dict:
    """Each mode `rounds` times in turn; the median round's rate and latencies."""
    runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
    context = multiprocessing.get_context("spawn")
    with context.Pool(connections) as pool:
        for round_ in range(rounds):
            for index, mode in enumerate(MODES):
                jobs = [
                    (dsn, mode, f"msg_ins{round_}_{index}_{worker}", seconds)
                    for worker in range(connections)
                ]
                latencies = [ms for one in pool.starmap(insert_loop, jobs) for ms in one]
                runs[mode].append(_summary(latencies, seconds))
                advance(1)
    return {
        mode: {
            "rows_per_second": statistics.median(r["rows_per_second"] for r in found),
            "p50_ms": statistics.median(r["p50_ms"] for r in found),
            "p99_ms": statistics.median(r["p99_ms"] for r in found),
            "rounds": found,
            "dedupe": DEDUPE[mode],
        }
        for mode, found in runs.items()
    }


def _summary(latencies: list[float], seconds: float) -> dict:
    ordered = sorted(latencies)
    return {
        "rows": len(ordered),
        "rows_per_second": round(len(ordered) / seconds),
        "p50_ms": round(ordered[len(ordered) // 2], 2) if ordered else None,
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2)
        if ordered
        else None,
    }


def duplicate_stored(dsn: str, mode: str, *, webhook_id: str) -> bool:
    """Deliver `webhook_id` again, now: True when the table took a second row for it
    (dedupe failed), False when it refused (a unique violation or nothing inserted)."""
    values = delivery(webhook_id, now=datetime.now(tz=UTC))
    with psycopg.connect(dsn, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        try:
            return conn.execute(MODES[mode], params(mode, values)).fetchone() is not None
        except psycopg.errors.UniqueViolation:
            return False
