"""The command: options, the run in order, the table and the JSON."""

from __future__ import annotations

import argparse
import contextlib
import secrets
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from rich.table import Table

from bench import processes
from bench.load import HarnessError
from bench.output import ARTIFACTS, console, measure_and_save
from bench.rows import call_id
from bench.scale.fill import FILL_ORDERS, LAST_WEEK_SHARE, fill
from bench.scale.pages import DASHBOARD_TARGET_MS, StaffClient, pages, time_dashboard, time_pages
from bench.scale.prune import measure_prune
from bench.scale.queries import page_queries, queries_summary
from bench.scale.sizes import database_sizes
from bench.signing import new_secret

STAFF_USER = "bench-staff"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale",
        description="Fill a database of its own with N calls and 10·N events, then time the "
        "admin pages (the front page's dashboard among them) over real HTTP as a staff user "
        "and report the database's size.",
    )
    parser.add_argument(
        "--calls", type=int, default=1_000_000, help="calls to make (default 1,000,000)"
    )
    parser.add_argument(
        "--big-call-events",
        type=int,
        default=5000,
        help="events of the one call whose page is timed (default 5,000)",
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed requests per page (default 5)"
    )
    parser.add_argument(
        "--prune-older-than",
        metavar="AGE",
        help="also time `manage.py prune_events --older-than AGE` (e.g. 45d: half the "
        "90 days filled) while wrk loads webhook intake, and intake's p99 before and "
        "during it",
    )
    parser.add_argument(
        "--fill-order",
        choices=FILL_ORDERS,
        default="oldest-first",
        help="oldest-first (default): ids follow time, as rows arriving one by one; "
        "newest-first: ids against time, as after a bulk import or a restore",
    )
    parser.add_argument(
        "--last-week-share",
        type=float,
        default=LAST_WEEK_SHARE,
        metavar="SHARE",
        help=f"share of the calls made in the last 7 days, the dashboard's week (default "
        f"{LAST_WEEK_SHARE}: 600,000 of 1,000,000; 0.078 spreads them evenly over the 90 days)",
    )
    parser.add_argument(
        "--output", type=Path, default=ARTIFACTS, help="folder for the JSON results"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    options = parser.parse_args(argv)
    if options.calls < 100 or options.big_call_events < 1 or options.repeats < 1:
        parser.error("--calls must be 100 or more, --big-call-events and --repeats 1 or more")
    if not 0 < options.last_week_share < 1:
        parser.error("--last-week-share must be between 0 and 1 (0.6: 60 % of the calls)")
    return measure_and_save(
        lambda stamp: measure(options, stamp=stamp),
        command="bench-scale",
        folder=options.output,
        show=print_table,
        failures=(HarnessError,),
        interrupted="everything started was stopped",
    )


def measure(options, *, stamp: str) -> dict:
    now = datetime.now(tz=UTC)
    password = secrets.token_urlsafe(16)
    with contextlib.ExitStack() as stack:
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-scale-")))
        dsn = stack.enter_context(processes.postgres_database())
        # A broker, as in production: intake during the prune publishes (no worker runs,
        # so its messages wait), rather than processing each event in the request.
        broker_url = stack.enter_context(processes.redis_server(logs))
        secret = new_secret()
        env = processes.app_environment(database_url=dsn, broker_url=broker_url, secret=secret)
        console.print("Migrating, collecting static files, making a staff user…")
        processes.manage("migrate", "--noinput", env=env)
        processes.manage("collectstatic", "--noinput", "--verbosity", "0", env=env)
        processes.manage(
            "createsuperuser", "--noinput", "--username", STAFF_USER,
            "--email", "bench@example.com",
            env={**env, "DJANGO_SUPERUSER_PASSWORD": password},
        )  # fmt: skip
        console.print(
            f"Filling {options.calls:,} calls and their events with COPY, {options.fill_order}…"
        )
        made = fill(
            dsn, calls=options.calls, big_call_events=options.big_call_events, now=now,
            order=options.fill_order, last_week_share=options.last_week_share,
        )  # fmt: skip
        results = {"fill": made}
        results["sizes"] = database_sizes(dsn, events=results["fill"]["events"])
        urls = pages(now=now, calls=options.calls, **call_pks(dsn))
        server = stack.enter_context(processes.gunicorn(env=env, workdir=logs))
        client = StaffClient(server.base_url)
        client.login(STAFF_USER, password)
        results["pages"] = time_pages(client, urls, repeats=options.repeats)
        console.print("Timing the front page, counting its figures and reading them kept…")
        results["dashboard"] = time_dashboard(client, dsn, repeats=options.repeats)
        console.print("Counting each page's queries…")
        counted = page_queries(
            env=env, paths={name: path for name, (path, _) in urls.items()}, username=STAFF_USER
        )
        for name, page in results["pages"].items():
            page.update(counted[name])
        results["queries"] = queries_summary(results["pages"])
        results["gunicorn_command"] = " ".join(server.command)
        if options.prune_older_than:
            results["prune"] = measure_prune(
                dsn=dsn, env=env, server=server, secret=secret, workdir=logs,
                older_than=options.prune_older_than,
            )  # fmt: skip
    return results


def call_pks(dsn: str) -> dict[str, int]:
    """The ids of the call with the big timeline (call 0) and of one with 10 events."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        found = dict(
            conn.execute(
                "SELECT minivoice_id, id FROM calls_call WHERE minivoice_id IN (%s, %s)",
                [call_id(0), call_id(1)],
            ).fetchall()
        )
    return {"big_call_pk": found[call_id(0)], "small_call_pk": found[call_id(1)]}


def print_table(results: dict) -> None:
    fill_, sizes = results["fill"], results["sizes"]
    table = Table(
        title=f"Admin at {fill_['calls']:,} calls ({fill_['problems']:,} problems, "
        f"{fill_['recordings']:,} recordings) / {fill_['events']:,} events"
    )
    table.add_column("page or figure", justify="left")
    table.add_column("median", justify="right")
    table.add_column("max", justify="right")
    table.add_column("queries", justify="right")
    for name, page in results["pages"].items():
        table.add_row(
            name, f"{page['median_ms']:.0f} ms", f"{page['max_ms']:.0f} ms", str(page["queries"])
        )
    queries = results["queries"]
    call_page = queries["call_page"]
    dashboard = results["dashboard"]
    table.add_section()
    table.add_row(
        f"front page, its counts kept (beat) ({fill_['last_week']:,} calls in its week)",
        f"{dashboard['reading']['median_ms']:.0f} ms",
        f"{dashboard['reading']['max_ms']:.0f} ms",
        "",
    )
    table.add_row(
        "front page, counting itself (no kept counts)",
        f"{dashboard['counting']['median_ms']:.0f} ms",
        f"{dashboard['counting']['max_ms']:.0f} ms",
        "",
    )
    table.add_row(
        "  the counting alone (beat's refresh_dashboard), median",
        f"{dashboard['counting']['count_ms_median']:.0f} ms",
        "",
        "",
    )
    table.add_row(
        f"front page target: median under {DASHBOARD_TARGET_MS} ms",
        "[green]met[/]" if dashboard["met"] else "[red]MISSED[/]",
        "",
        "",
    )
    table.add_section()
    table.add_row(
        "call page's queries: 5,000 events / 10 events",
        f"{call_page['5000_events']} / {call_page['10_events']}",
        "same" if call_page["same"] else "[red]differ[/]",
        "",
    )
    table.add_row(
        "COUNT statements on these pages (unbounded); slowest",
        f"{queries['count_statements']} ({len(queries['unbounded_counts'])})",
        f"{queries['slowest_count_ms']:.0f} ms",
        "",
    )
    table.add_section()
    table.add_row(
        "fill (COPY)", f"{fill_['fill_seconds']:.0f} s", f"{fill_['rows_per_second']:,} rows/s"
    )
    table.add_row(
        "events table per million events", f"{sizes['events_table_mb_per_million']:.0f} MB", ""
    )
    table.add_row(
        "  heap / TOAST / indexes (whole table)",
        f"{sizes['events_heap_mb']:.0f} / {sizes['events_toast_mb']:.0f} / "
        f"{sizes['events_indexes_mb']:.0f} MB",
        "",
    )
    avg = sizes["avg_bytes"]
    table.add_row(
        "  bytes per row: raw body / payload / headers",
        f"{avg['raw_body']} / {avg['payload_jsonb']} / {avg['headers_jsonb']}",
        "",
    )
    prune = results.get("prune")
    if prune:
        table.add_section()
        during = prune["intake_during"]
        table.add_row(
            f"prune_events --older-than {prune['older_than']}: {prune['events_deleted']:,} events",
            f"{prune['prune_seconds']:.0f} s",
            "",
        )
        table.add_row(
            "  intake p99 alone / during the prune (worst 5-s run)",
            f"{prune['intake_alone']['p99_ms']:.0f} ms",
            f"{during['p99_ms_worst'] or 0:.0f} ms",
        )
        table.add_row(
            "  intake req/s alone / during (median); non-2xx during",
            f"{prune['intake_alone']['rps']:.0f}",
            f"{during['rps_median'] or 0:.0f}; {during['non2xx']}",
        )
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
