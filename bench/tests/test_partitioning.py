"""bench-partitioning's logic at small N: the tables' shape, the fill, the dedupe, the
prunes. On PostgreSQL only (partitioning and COPY are PostgreSQL's); CI's PostgreSQL pass
runs them."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection

from bench.partitioning import fill, inserts, measures, schema
from bench.partitioning.__main__ import main
from calls.tests.test_worker import _database_url

on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="partitioned tables and COPY need PostgreSQL"
)
# Ten minutes past a month's start: a small fill (0.01 day per 1,000 rows) spans two months.
NOW = datetime(2026, 12, 1, 0, 10, tzinfo=UTC)


@pytest.fixture
def dsn():
    url = _database_url()
    yield url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema.SCHEMA} CASCADE")


def filled(dsn: str, *, rows: int, now: datetime = NOW, seen_since: datetime | None = None):
    with psycopg.connect(dsn, autocommit=True) as conn:
        schema.create_tables(conn, months=schema.month_starts(now - fill.span_for(rows), now))
    fill.fill(dsn, rows=rows, now=now, seen_since=seen_since or now, advance=lambda _: None)
    fill.build_indexes(dsn, advance=lambda _: None)
    return psycopg.connect(dsn, autocommit=True)


def columns(conn, schema_name: str, table: str) -> list[tuple]:
    return conn.execute(
        """SELECT column_name, data_type, character_maximum_length, is_nullable
           FROM information_schema.columns WHERE table_schema = %s AND table_name = %s
           ORDER BY column_name""",
        [schema_name, table],
    ).fetchall()


def index_shapes(conn, table: str) -> set[tuple[bool, str]]:
    """(unique?, what the index holds) for each index, whatever its name and table."""
    rows = conn.execute(
        "SELECT indisunique, pg_get_indexdef(indexrelid) FROM pg_index "
        "WHERE indrelid = %s::regclass",
        [table],
    ).fetchall()
    return {(unique, definition.split(" USING ", 1)[1]) for unique, definition in rows}


def checks(conn, table: str) -> set[str]:
    rows = conn.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'c'",
        [table],
    ).fetchall()
    return {definition for (definition,) in rows}


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_plain_table_has_the_app_tables_columns_and_indexes(dsn):
    with filled(dsn, rows=1000) as conn:
        assert columns(conn, schema.SCHEMA, "events_plain") == columns(
            conn, "public", "calls_webhookevent"
        )
        assert index_shapes(conn, schema.PLAIN) == index_shapes(conn, "calls_webhookevent")
        assert checks(conn, schema.PLAIN) == checks(conn, "calls_webhookevent")


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_partitioned_table_differs_only_by_received_at_in_its_unique_keys(dsn):
    with filled(dsn, rows=1000) as conn:
        assert columns(conn, schema.SCHEMA, "events_monthly") == columns(
            conn, schema.SCHEMA, "events_plain"
        )
        plain, monthly = index_shapes(conn, schema.PLAIN), index_shapes(conn, schema.MONTHLY)
        assert {shape for shape in plain if not shape[0]} == {s for s in monthly if not s[0]}
        assert {shape for shape in monthly if shape[0]} == {
            (True, "btree (id, received_at)"),
            (True, "btree (webhook_id, received_at)"),
        }


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_fill_puts_the_same_rows_in_both_tables_split_by_month(dsn):
    with filled(dsn, rows=3000, seen_since=NOW - timedelta(minutes=5)) as conn:
        different = conn.execute(
            f"SELECT count(*) FROM (SELECT webhook_id, received_at, raw_body FROM {schema.PLAIN} "
            f"EXCEPT SELECT webhook_id, received_at, raw_body FROM {schema.MONTHLY}) d"
        ).fetchone()[0]
        november = conn.execute(f"SELECT count(*) FROM {schema.MONTHLY}_2026_11").fetchone()[0]
        december = conn.execute(f"SELECT count(*) FROM {schema.MONTHLY}_2026_12").fetchone()[0]
        seen_oldest = conn.execute(f"SELECT min(received_at) FROM {schema.SEEN}").fetchone()[0]
        by_id = conn.execute(f"SELECT received_at FROM {schema.PLAIN} ORDER BY id").fetchall()

    assert different == 0
    assert november > 0 and december > 0 and november + december == 3000
    # The dedupe table holds the window only.
    assert NOW - timedelta(minutes=5) <= seen_oldest
    # Ids follow time, as rows arriving one by one (a call's ten events span 9 s, so
    # neighbouring calls overlap by a second or so, as live calls do).
    times = [at for (at,) in by_id]
    assert (times[0], times[-1]) == (min(times), max(times))
    slack = timedelta(seconds=10)
    assert all(later >= earlier - slack for earlier, later in itertools.pairwise(times))


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_only_the_plain_key_or_the_dedupe_table_refuse_a_retry(dsn):
    # The original an hour back: rows hold whole seconds, so a retry within the same
    # second as its original would collide on (webhook_id, received_at) too.
    then = datetime.now(tz=UTC) - timedelta(hours=1)
    filled(dsn, rows=1000, now=then, seen_since=then - timedelta(days=1)).close()
    retried = fill.webhook_id(999)

    stored_again = {
        mode: inserts.duplicate_stored(dsn, mode, webhook_id=retried) for mode in inserts.MODES
    }
    stored_new = {
        mode: inserts.duplicate_stored(dsn, mode, webhook_id=f"new_{i}")
        for i, mode in enumerate(inserts.MODES)
    }

    assert stored_again == {"plain": False, "monthly": True, "monthly + dedupe table": False}
    assert all(stored_new.values())


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_insert_loop_stores_one_row_per_insert(dsn):
    now = datetime.now(tz=UTC)
    filled(dsn, rows=1000, now=now).close()

    timed = inserts.insert_loop(dsn, "monthly + dedupe table", "loop", 0.2)

    with psycopg.connect(dsn) as conn:
        stored = conn.execute(
            f"SELECT count(*) FROM {schema.MONTHLY} WHERE webhook_id LIKE 'loop_%%'"
        ).fetchone()[0]
        seen = conn.execute(
            f"SELECT count(*) FROM {schema.SEEN} WHERE webhook_id LIKE 'loop_%%'"
        ).fetchone()[0]
    assert len(timed) == stored == seen > 0


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_plain_prune_deletes_exactly_what_is_older_and_keeps_unfinished_events(dsn):
    with filled(dsn, rows=3000) as conn:
        cutoff = measures.oldest_partition_end(dsn)
        conn.execute(f"UPDATE {schema.PLAIN} SET state = 'pending' WHERE id IN (1, 2)")
        conn.execute(f"UPDATE {schema.PLAIN} SET state = 'failed' WHERE id = 3")
        due = conn.execute(
            f"SELECT count(*) FROM {schema.PLAIN} WHERE received_at < %s", [cutoff]
        ).fetchone()[0]

        pruned = measures.prune_plain(dsn, before=cutoff)

        left_old = conn.execute(
            f"SELECT id FROM {schema.PLAIN} WHERE received_at < %s ORDER BY id", [cutoff]
        ).fetchall()
        left = conn.execute(f"SELECT count(*) FROM {schema.PLAIN}").fetchone()[0]
    assert cutoff == datetime(2026, 12, 1, tzinfo=UTC)
    assert pruned["rows"] == due - 3 and pruned["batches"] == -(-(due - 3) // 1000)
    assert left_old == [(1,), (2,), (3,)]
    assert left == 3000 - pruned["rows"]


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_monthly_prune_drops_the_oldest_partition_unless_it_holds_unfinished_events(dsn):
    with filled(dsn, rows=3000) as conn:
        conn.execute(f"UPDATE {schema.MONTHLY} SET state = 'failed' WHERE id = 1")
        refused = measures.prune_monthly(dsn)
        conn.execute(f"UPDATE {schema.MONTHLY} SET state = 'processed' WHERE id = 1")
        november = conn.execute(f"SELECT count(*) FROM {schema.MONTHLY}_2026_11").fetchone()[0]

        dropped = measures.prune_monthly(dsn)

        left = conn.execute(f"SELECT min(received_at), count(*) FROM {schema.MONTHLY}").fetchone()
    assert (refused["method"], refused["unfinished"]) == ("refused", 1)
    assert dropped["partition"] == f"{schema.MONTHLY}_2026_11" and dropped["rows"] == november
    assert left[0] >= datetime(2026, 12, 1, tzinfo=UTC) and left[1] == 3000 - november


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_a_small_run_measures_everything_and_writes_its_json(dsn, tmp_path):
    code = main(
        ["--rows", "2000", "--insert-seconds", "0.3", "--rounds", "1", "--connections", "1",
         "--repeats", "1", "--database-url", dsn, "--output", str(tmp_path)]
    )  # fmt: skip

    assert code == 0
    (written,) = tmp_path.glob("bench-partitioning-*.json")
    results = json.loads(written.read_text())
    assert results["fill"]["rows"] == 2000
    assert set(results["inserts"]) == set(inserts.MODES)
    assert all(r["rows_per_second"] > 0 for r in results["inserts"].values())
    # Every look-up found rows in both tables, the same number.
    for found in results["lookups"].values():
        assert found["plain"]["rows"] == found["monthly"]["rows"] > 0
    assert results["prune"]["plain"]["rows"] > 0 and results["prune"]["monthly"]["rows"] > 0


def test_partitions_run_from_the_first_rows_month_to_two_months_past_the_last():
    bounds = schema.month_starts(
        datetime(2026, 8, 17, tzinfo=UTC), datetime(2026, 12, 25, tzinfo=UTC)
    )

    assert [(b.year, b.month) for b in bounds] == [
        (2026, 8), (2026, 9), (2026, 10), (2026, 11), (2026, 12), (2027, 1), (2027, 2),
    ]  # fmt: skip


def test_a_delivery_has_a_value_per_column_and_the_dedupe_mode_two_more():
    values = inserts.delivery("msg_x", now=NOW)

    assert len(values) == len(inserts.EVENT_COLUMNS)
    assert inserts.params("plain", values) == values
    assert inserts.params("monthly + dedupe table", values)[:2] == ["msg_x", values[4]]


@pytest.mark.parametrize(
    "args", [["--rows", "10"], ["--connections", "0"], ["--insert-seconds", "0"]]
)
def test_bad_arguments_exit_2(args, capsys):
    with pytest.raises(SystemExit) as exited:
        main(args)

    assert exited.value.code == 2
    assert "must be" in capsys.readouterr().err
