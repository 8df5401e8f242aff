"""The admin's look-ups, the prune of the oldest month, and the tables' sizes."""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timedelta

import psycopg

from bench.partitioning import fill, schema
from bench.rows import call_id

PRUNE_BATCH = 1000  # prune_events' default --batch-size


def lookups(*, rows: int, now: datetime) -> dict[str, tuple[str, list]]:
    """The queries the admin and intake run on the events table, with values that find
    rows (a call, an id and a webhook id from the middle of the fill, a day a month
    back). `{table}` is each table in turn."""
    middle = rows // 2
    day = (now - timedelta(days=min(30, fill.span_for(rows).days // 2))).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return {
        "events of one call (its page)": (
            "SELECT id, event_type, received_at, state FROM {table} "
            "WHERE call_minivoice_id = %s ORDER BY received_at",
            [call_id(fill.call_number(middle))],
        ),
        "newest 100 (event list)": (
            "SELECT id, webhook_id, event_type, call_minivoice_id, received_at, state "
            "FROM {table} ORDER BY received_at DESC LIMIT 100",
            [],
        ),
        "newest 100 in a state": (
            "SELECT id, event_type, received_at FROM {table} WHERE state = %s "
            "ORDER BY received_at DESC LIMIT 100",
            ["processed"],
        ),
        "one day, newest 100": (
            "SELECT id, event_type, received_at FROM {table} WHERE received_at >= %s "
            "AND received_at < %s ORDER BY received_at DESC LIMIT 100",
            [day, day + timedelta(days=1)],
        ),
        "one event by id (its page)": ("SELECT * FROM {table} WHERE id = %s", [middle + 1]),
        "by webhook_id (a retry's look-up)": (
            "SELECT id, state FROM {table} WHERE webhook_id = %s",
            [fill.webhook_id(middle)],
        ),
    }


def time_lookups(dsn: str, queries: dict, *, repeats: int) -> dict:
    """Each query on each table: warmed once, then timed `repeats` times (median, max)
    over one connection, with the rows it found (a fast query must find something)."""
    found: dict[str, dict] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name, (sql, args) in queries.items():
            found[name] = {}
            for label, table in (("plain", schema.PLAIN), ("monthly", schema.MONTHLY)):
                query = sql.format(table=table)
                rows = len(conn.execute(query, args).fetchall())
                times = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    conn.execute(query, args).fetchall()
                    times.append((time.perf_counter() - started) * 1000)
                found[name][label] = {
                    "median_ms": round(statistics.median(times), 2),
                    "max_ms": round(max(times), 2),
                    "rows": rows,
                }
    return found


def prune_plain(dsn: str, *, before: datetime) -> dict:
    """prune_events' way: batches of 1000 picked by received_at (oldest first, resuming
    at the last batch's time), each deleted by id in its own transaction; then the
    VACUUM that autovacuum would run later to make the space reusable."""
    unfinished = ", ".join(f"'{state}'" for state in schema.UNFINISHED_STATES)
    pick = (
        f"SELECT id, received_at FROM {schema.PLAIN} WHERE received_at < %s "
        f"AND state NOT IN ({unfinished}) AND received_at >= %s ORDER BY received_at LIMIT %s"
    )
    deleted, batches = 0, 0
    started = time.monotonic()
    with psycopg.connect(dsn, autocommit=True) as conn:
        resume_at = datetime.min.replace(tzinfo=before.tzinfo)
        while picked := conn.execute(pick, [before, resume_at, PRUNE_BATCH]).fetchall():
            with conn.transaction():
                cursor = conn.execute(
                    f"DELETE FROM {schema.PLAIN} WHERE id = ANY(%s)", [[pk for pk, _ in picked]]
                )
                deleted += cursor.rowcount
            resume_at = picked[-1][1]
            batches += 1
        deleted_seconds = time.monotonic() - started
        started = time.monotonic()
        conn.execute(f"VACUUM {schema.PLAIN}")
        vacuum_seconds = time.monotonic() - started
    return {
        "method": f"DELETE in batches of {PRUNE_BATCH} by received_at (prune_events)",
        "rows": deleted,
        "batches": batches,
        "seconds": round(deleted_seconds, 1),
        "vacuum_seconds": round(vacuum_seconds, 1),
    }


def prune_monthly(dsn: str) -> dict:
    """The oldest partition goes whole: DETACH … CONCURRENTLY (intake keeps writing to
    the other partitions meanwhile), then DROP. Refused while it holds events still
    waiting for work, which prune_events keeps whatever their age."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        oldest = schema.partitions(conn)[0]
        started = time.monotonic()
        unfinished = conn.execute(
            f"SELECT count(*) FROM {oldest} WHERE state = ANY(%s)",
            [list(schema.UNFINISHED_STATES)],
        ).fetchone()[0]
        if unfinished:
            return {"method": "refused", "partition": oldest, "unfinished": unfinished}
        rows = conn.execute(f"SELECT count(*) FROM {oldest}").fetchone()[0]
        counted = time.monotonic()
        conn.execute(f"ALTER TABLE {schema.MONTHLY} DETACH PARTITION {oldest} CONCURRENTLY")
        detached = time.monotonic()
        conn.execute(f"DROP TABLE {oldest}")
        dropped = time.monotonic()
    return {
        "method": "DETACH PARTITION CONCURRENTLY, then DROP TABLE",
        "partition": oldest,
        "rows": rows,
        "check_seconds": round(counted - started, 2),
        "detach_seconds": round(detached - counted, 2),
        "drop_seconds": round(dropped - detached, 2),
        "seconds": round(dropped - counted, 2),
    }


def oldest_partition_end(dsn: str) -> datetime:
    """Where the oldest partition ends: the plain table is pruned up to the same time."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        oldest = schema.partitions(conn)[0]
        bound = conn.execute(
            "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE oid = %s::regclass",
            [oldest],
        ).fetchone()[0]
        # FOR VALUES FROM ('…') TO ('…')
        return conn.execute("SELECT %s::timestamptz", [bound.split("'")[3]]).fetchone()[0]


# The tables holding rows: a plain table itself, a partitioned one's partitions.
_LEAVES = """
    SELECT c.oid, c.reltoastrelid, c.reltuples FROM pg_class c
    WHERE c.oid = %(table)s::regclass AND c.relkind = 'r'
    UNION ALL
    SELECT c.oid, c.reltoastrelid, c.reltuples
    FROM pg_partition_tree(%(table)s::regclass) t JOIN pg_class c ON c.oid = t.relid
    WHERE t.isleaf"""


def sizes(dsn: str) -> dict:
    """Each table's heap, TOAST and index bytes (a partitioned table: its partitions')."""
    query = f"""
        SELECT coalesce(sum(pg_relation_size(oid)), 0),
               coalesce(sum(pg_total_relation_size(nullif(reltoastrelid, 0))), 0),
               coalesce(sum(pg_indexes_size(oid)), 0), count(*),
               coalesce(sum(greatest(reltuples, 0)), 0)
        FROM ({_LEAVES}) leaves"""
    found = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for label, table in (
            ("plain", schema.PLAIN),
            ("monthly", schema.MONTHLY),
            ("seen", schema.SEEN),
        ):
            heap, toast, indexes, leaves, rows = conn.execute(query, {"table": table}).fetchone()
            found[label] = {
                "heap_mb": _mb(heap),
                "toast_mb": _mb(toast),
                "indexes_mb": _mb(indexes),
                "total_mb": _mb(heap + toast + indexes),
                "tables": leaves,
                "rows_estimate": round(float(rows)),
            }
    return found


def _mb(size: int) -> float:
    return round(int(size) / 2**20, 1)
