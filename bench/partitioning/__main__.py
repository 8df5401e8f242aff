"""The command: options, the run in order, the table and the JSON."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from rich.progress import Progress
from rich.table import Table

from bench import processes
from bench.load import HarnessError
from bench.output import ARTIFACTS, console, measure_and_save
from bench.partitioning import fill, inserts, measures, schema


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.partitioning",
        description="Compare calls_webhookevent's shape as one plain table and as a table "
        "partitioned by month on received_at: fill both with the same N rows by COPY, then "
        "time single-row inserts as intake does them, the webhook_id dedupe, the prune of "
        "the oldest month, the admin's look-ups, and their sizes. Needs about 2.7 GB of "
        "disk per million rows while it runs; drops its database at the end.",
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=10_000_000,
        help="rows in each table, spread over rows/100,000 days (default 10,000,000)",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=8,
        help="processes inserting at once, one connection each (default 8)",
    )
    parser.add_argument(
        "--insert-seconds", type=float, default=10, help="length of each insert run (default 10)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="insert runs per table, taking turns (default 3)"
    )
    parser.add_argument(
        "--repeats", type=int, default=20, help="timed runs of each look-up (default 20)"
    )
    parser.add_argument(
        "--dedupe-days",
        type=float,
        default=7,
        help="the dedupe table's window: the webhook ids it holds (default 7)",
    )
    parser.add_argument(
        "--database-url",
        help="an existing PostgreSQL database to use (its schema "
        f"'{schema.SCHEMA}' is replaced and dropped); default: one of its own",
    )
    parser.add_argument(
        "--output", type=Path, default=ARTIFACTS, help="folder for the JSON results"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    options = parser.parse_args(argv)
    if options.rows < 1000 or options.connections < 1 or options.rounds < 1:
        parser.error("--rows must be 1000 or more, --connections and --rounds 1 or more")
    if options.insert_seconds <= 0 or options.repeats < 1 or options.dedupe_days <= 0:
        parser.error("--insert-seconds and --dedupe-days must be above 0, --repeats 1 or more")

    def measure(stamp: str) -> dict:
        with _database(options.database_url) as dsn:
            return run(dsn, options)

    return measure_and_save(
        measure,
        command="bench-partitioning",
        folder=options.output,
        show=print_table,
        failures=(HarnessError, psycopg.Error),
        interrupted="its database was dropped",
    )


@contextlib.contextmanager
def _database(url: str | None):
    if url is None:
        with processes.postgres_database() as dsn:
            yield dsn
        return
    try:
        yield url
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema.SCHEMA} CASCADE")


def run(dsn: str, options) -> dict:
    """Every step in order, on tables of the same N rows; returns the results."""
    now = datetime.now(tz=UTC)
    span = fill.span_for(options.rows)
    results: dict = {"started": now.isoformat(), "machine": _machine(dsn)}
    with psycopg.connect(dsn, autocommit=True) as conn:
        schema.create_tables(conn, months=schema.month_starts(now - span, now))
    with Progress(console=console) as progress:
        task = progress.add_task("COPY into both tables", total=options.rows)
        results["fill"] = fill.fill(
            dsn,
            rows=options.rows,
            now=now,
            seen_since=now - timedelta(days=options.dedupe_days),
            advance=lambda count: progress.advance(task, count),
        )
        task = progress.add_task("indexes, VACUUM ANALYZE", total=fill.index_count())
        results["index_seconds"] = fill.build_indexes(
            dsn, advance=lambda count: progress.advance(task, count)
        )
        results["sizes"] = measures.sizes(dsn)
        task = progress.add_task("single-row INSERTs", total=options.rounds * len(inserts.MODES))
        results["inserts"] = inserts.measure(
            dsn,
            connections=options.connections,
            seconds=options.insert_seconds,
            rounds=options.rounds,
            advance=lambda count: progress.advance(task, count),
        )
        results["duplicate_stored"] = {
            mode: inserts.duplicate_stored(dsn, mode, webhook_id=fill.webhook_id(options.rows - 1))
            for mode in inserts.MODES
        }
        task = progress.add_task("look-ups", total=1)
        results["lookups"] = measures.time_lookups(
            dsn, measures.lookups(rows=options.rows, now=now), repeats=options.repeats
        )
        progress.advance(task)
        task = progress.add_task("prune the oldest month", total=2)
        before = measures.oldest_partition_end(dsn)
        results["prune"] = {"before": before.isoformat()}
        results["prune"]["plain"] = measures.prune_plain(dsn, before=before)
        progress.advance(task)
        results["prune"]["monthly"] = measures.prune_monthly(dsn)
        progress.advance(task)
        results["sizes_after_prune"] = measures.sizes(dsn)
    results["machine"]["load_average_end"] = os.getloadavg()
    return results


def _machine(dsn: str) -> dict:
    with psycopg.connect(dsn, autocommit=True) as conn:
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("server_version", "shared_buffers", "max_wal_size", "work_mem")
        }
    return {"cpus": os.cpu_count(), "load_average_start": os.getloadavg(), **settings}


def print_table(results: dict) -> None:
    rows, ins = results["fill"]["rows"], results["inserts"]
    table = Table(
        title=f"events table: plain vs partitioned by month, {rows:,} rows each "
        f"over {results['fill']['days']:g} days"
    )
    for name in ("figure", "plain", "monthly", "monthly + dedupe table"):
        table.add_column(name, justify="left" if name == "figure" else "right")
    table.add_row("COPY, one pass into both", f"{results['fill']['copy_seconds']:.0f} s", "", "")
    idx = results["index_seconds"]
    table.add_row(
        "build the indexes",
        f"{idx['plain']:.0f} s",
        f"{idx['monthly']:.0f} s",
        f"+{idx['seen']:.0f} s",
    )
    table.add_section()
    modes = list(inserts.MODES)
    table.add_row(
        "INSERT rows/s (median round)", *(f"{ins[m]['rows_per_second']:,.0f}" for m in modes)
    )
    table.add_row(
        "  p50 / p99", *(f"{ins[m]['p50_ms']:.1f} / {ins[m]['p99_ms']:.1f} ms" for m in modes)
    )
    stored = results["duplicate_stored"]
    table.add_row("a retry stored twice?", *("yes" if stored[m] else "no" for m in modes))
    table.add_section()
    for name, found in results["lookups"].items():
        table.add_row(
            name,
            *(f"{found[t]['median_ms']:.1f} ms ({found[t]['rows']})" for t in ("plain", "monthly")),
            "",
        )
    table.add_section()
    plain, monthly = results["prune"]["plain"], results["prune"]["monthly"]
    table.add_row(
        f"prune the oldest month ({plain['rows']:,} rows)",
        f"{plain['seconds']:.1f} s + VACUUM {plain['vacuum_seconds']:.0f} s",
        f"{monthly.get('seconds', 0):.2f} s" if "rows" in monthly else "refused",
        "",
    )
    table.add_section()
    for label, found in (
        ("size", results["sizes"]),
        ("size after the prune", results["sizes_after_prune"]),
    ):
        table.add_row(
            f"{label}: total MB (heap+TOAST / indexes)",
            *(
                f"{found[t]['total_mb']:,.0f} ({found[t]['heap_mb'] + found[t]['toast_mb']:,.0f}"
                f" / {found[t]['indexes_mb']:,.0f})"
                for t in ("plain", "monthly")
            ),
            f"seen: {found['seen']['total_mb']:,.0f}",
        )
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
