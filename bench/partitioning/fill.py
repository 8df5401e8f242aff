"""Filling both events tables with the same rows, then indexing them the same way."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import psycopg

from bench.partitioning import Advance, schema
from bench.rows import EVENT_COLUMNS, event_row

ROWS_PER_DAY = 100_000
CHUNK_ROWS = 20_000
EVENTS_PER_CALL = 10


def span_for(rows: int) -> timedelta:
    """The fill's time span: ~rows/100k days, as the brief's 10M over ~100 days."""
    return timedelta(days=rows / ROWS_PER_DAY)


def webhook_id(i: int) -> str:
    return f"msg_p{i:010d}"


def call_number(i: int) -> int:
    return i // EVENTS_PER_CALL


def row_time(i: int, *, rows: int, now: datetime) -> datetime:
    """When row i's call started (its events follow a second apart, by bench.rows)."""
    span = span_for(rows)
    first_of_call = call_number(i) * EVENTS_PER_CALL
    return now - span + span * (first_of_call / rows)


def chunks(rows: int, *, now: datetime, seen_since: datetime) -> Iterator[tuple[str, str, int]]:
    """(event lines, dedupe-table lines, how many events), oldest first, so ids follow
    received_at as they do for rows that arrive one by one."""
    for start in range(0, rows, CHUNK_ROWS):
        events, seen = [], []
        for i in range(start, min(rows, start + CHUNK_ROWS)):
            created = row_time(i, rows=rows, now=now)
            k = i % EVENTS_PER_CALL
            events.append(event_row(call_number(i), k, created=created, webhook_id=webhook_id(i)))
            received = created + timedelta(seconds=k)
            if received >= seen_since:
                seen.append(f"{webhook_id(i)}\t{received.isoformat()}\n")
        yield "".join(events), "".join(seen), len(events)


def fill(dsn: str, *, rows: int, now: datetime, seen_since: datetime, advance: Advance) -> dict:
    """COPY the same rows into the plain table, the partitioned one (PostgreSQL routes
    each row to its month) and, for the dedupe window, the dedupe table: one pass that
    writes each generated chunk to the three COPYs, each on a connection of its own."""
    columns = ", ".join(EVENT_COLUMNS)
    started = time.monotonic()
    with (
        psycopg.connect(dsn) as plain_conn,
        psycopg.connect(dsn) as monthly_conn,
        psycopg.connect(dsn) as seen_conn,
        plain_conn.cursor().copy(f"COPY {schema.PLAIN} ({columns}) FROM STDIN") as plain,
        monthly_conn.cursor().copy(f"COPY {schema.MONTHLY} ({columns}) FROM STDIN") as monthly,
        seen_conn.cursor().copy(f"COPY {schema.SEEN} (webhook_id, received_at) FROM STDIN") as seen,
    ):
        for events, seen_lines, count in chunks(rows, now=now, seen_since=seen_since):
            plain.write(events)
            monthly.write(events)
            if seen_lines:
                seen.write(seen_lines)
            advance(count)
    return {
        "rows": rows,
        "days": round(span_for(rows).total_seconds() / 86400, 1),
        "copy_seconds": round(time.monotonic() - started, 1),
    }


def build_indexes(dsn: str, *, advance: Advance) -> dict:
    """Build each table's indexes (timed per table), then VACUUM ANALYZE all three."""
    seconds = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        # The same memory for every build; the server's default (64 MB) spills to disk.
        conn.execute("SET maintenance_work_mem = '256MB'")
        for table, statements in (
            ("plain", schema.index_statements(schema.PLAIN)),
            ("monthly", schema.index_statements(schema.MONTHLY)),
            ("seen", schema.seen_index_statements()),
        ):
            started = time.monotonic()
            for statement in statements:
                conn.execute(statement)
                advance(1)
            seconds[table] = round(time.monotonic() - started, 1)
        for table in (schema.PLAIN, schema.MONTHLY, schema.SEEN):
            conn.execute(f"VACUUM ANALYZE {table}")
    return seconds


def index_count() -> int:
    """How many statements build_indexes runs (for a progress bar's total)."""
    return (
        len(schema.index_statements(schema.PLAIN))
        + len(schema.index_statements(schema.MONTHLY))
        + len(schema.seen_index_statements())
    )
