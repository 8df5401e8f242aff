"""The database's size per million events, and what each event row is made of."""

from __future__ import annotations

import psycopg


def database_sizes(dsn: str, *, events: int) -> dict:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            """SELECT pg_relation_size(c.oid), pg_indexes_size(c.oid),
                      coalesce(pg_total_relation_size(c.reltoastrelid), 0),
                      pg_total_relation_size(c.oid), pg_database_size(current_database())
               FROM pg_class c WHERE c.relname = 'calls_webhookevent'"""
        ).fetchone()
        widths = conn.execute(
            "SELECT avg(pg_column_size(raw_body)), avg(pg_column_size(payload)), "
            "avg(pg_column_size(headers)) FROM (SELECT * FROM calls_webhookevent LIMIT 10000) s"
        ).fetchone()
        # Each index apart: their sizes depend on the order rows came in (keys inserted
        # in descending order leave half-empty pages), not only on what they hold.
        each_index = conn.execute(
            "SELECT indexrelname, pg_relation_size(indexrelid) FROM pg_stat_user_indexes "
            "WHERE relname = 'calls_webhookevent' ORDER BY 2 DESC"
        ).fetchall()
    heap, indexes, toast, total, database = row
    per_million = 1_000_000 / events
    return {
        "events_table_mb": round(total / 2**20, 1),
        "events_heap_mb": round(heap / 2**20, 1),
        "events_indexes_mb": round(indexes / 2**20, 1),
        "events_toast_mb": round(toast / 2**20, 1),
        "events_index_mb": {name: round(size / 2**20, 1) for name, size in each_index},
        "database_mb": round(database / 2**20, 1),
        "events_table_mb_per_million": round(total / 2**20 * per_million, 1),
        "avg_bytes": {
            "raw_body": round(float(widths[0] or 0)),
            "payload_jsonb": round(float(widths[1] or 0)),
            "headers_jsonb": round(float(widths[2] or 0)),
        },
    }
