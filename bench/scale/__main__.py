"""`make bench-scale`: the admin and the database at a million calls.

    python -m bench.scale [--calls N] [--big-call-events E] [--repeats R]

Fills a PostgreSQL database of its own with N calls and 10·N webhook events (COPY through
psycopg 3, rows shaped like real deliveries), plus one call with E events; then serves the
app with gunicorn as production does and, logged in as a staff user over real HTTP, times
the admin pages support uses, and reports the database's size per million events. Drops
the database at the end. A baseline: the admin is being rebuilt (see bench/README.md).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import psycopg
from rich.progress import Progress
from rich.table import Table

from bench import processes
from bench.load import HarnessError, run_load
from bench.output import ARTIFACTS, console, save_results, utc_stamp
from bench.rows import CALL_COLUMNS, EVENT_COLUMNS, call_id, call_row, event_row
from bench.signing import new_secret

EVENTS_PER_CALL = 10
CHUNK_ROWS = 20_000
STAFF_USER = "bench-staff"

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


def fill(
    dsn: str, *, calls: int, big_call_events: int, now: datetime, order: str = "oldest-first"
) -> dict:
    """COPY the calls, their events and the big call's; ANALYZE; return what was made."""
    span = timedelta(days=90)
    numbers = call_numbers(calls, order=order)
    total_events = calls * EVENTS_PER_CALL + big_call_events
    started = time.monotonic()
    with psycopg.connect(dsn) as conn, Progress(console=console) as progress:
        task = progress.add_task("calls", total=calls)
        with conn.cursor().copy(f"COPY calls_call ({', '.join(CALL_COLUMNS)}) FROM STDIN") as copy:
            for start in range(0, calls, CHUNK_ROWS):
                chunk = numbers[start : start + CHUNK_ROWS]
                copy.write("".join(call_row(n, created=now - span * (n / calls)) for n in chunk))
                progress.update(task, completed=start + len(chunk))
        task = progress.add_task("events", total=total_events)
        columns = ", ".join(EVENT_COLUMNS)
        with conn.cursor().copy(f"COPY calls_webhookevent ({columns}) FROM STDIN") as copy:
            # The big call (call 0, the newest) goes with the newest rows: last when
            # oldest first, first when newest first.
            parts = [
                _big_call_chunks(big_call_events, now=now),
                _call_event_chunks(numbers, span, now),
            ]
            done = 0
            for lines in itertools.chain(*(parts if order == "newest-first" else parts[::-1])):
                copy.write(lines)
                done += lines.count("\n")
                progress.update(task, completed=done)
        conn.commit()
    filled = time.monotonic() - started
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE calls_call")
        conn.execute("VACUUM ANALYZE calls_webhookevent")
    return {
        "calls": calls,
        "events": total_events,
        "order": order,
        "fill_seconds": round(filled, 1),
        "rows_per_second": round((calls + total_events) / filled),
    }


def _call_event_chunks(numbers: range, span: timedelta, now: datetime) -> Iterator[str]:
    """Ten events per call, in the calls' order, CHUNK_ROWS lines at a time."""
    calls = len(numbers)
    per_chunk = CHUNK_ROWS // EVENTS_PER_CALL
    for start in range(0, calls, per_chunk):
        lines = []
        for n in numbers[start : start + per_chunk]:
            created = now - span * (n / calls)
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
    heap, indexes, toast, total, database = row
    per_million = 1_000_000 / events
    return {
        "events_table_mb": round(total / 2**20, 1),
        "events_heap_mb": round(heap / 2**20, 1),
        "events_indexes_mb": round(indexes / 2**20, 1),
        "events_toast_mb": round(toast / 2**20, 1),
        "database_mb": round(database / 2**20, 1),
        "events_table_mb_per_million": round(total / 2**20 * per_million, 1),
        "avg_bytes": {
            "raw_body": round(float(widths[0] or 0)),
            "payload_jsonb": round(float(widths[1] or 0)),
            "headers_jsonb": round(float(widths[2] or 0)),
        },
    }


class StaffClient:
    """A logged-in admin user over real HTTP, behind production's TLS proxy."""

    def __init__(self, base_url: str) -> None:
        self.host, port = base_url.removeprefix("http://").split(":")
        self.port = int(port)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, *, body: str | None = None, headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        sent = {
            "X-Forwarded-Proto": "https",
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            **(headers or {}),
        }
        try:
            started = time.perf_counter()
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            content = response.read()
            elapsed_ms = (time.perf_counter() - started) * 1000
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response.status, content, elapsed_ms

    def login(self, username: str, password: str) -> None:
        status, page, _ = self.request("GET", "/admin/login/")
        found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or not found:
            raise HarnessError(f"the admin login page answered {status}")
        form = urlencode(
            {
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": found.group(1).decode(),
                "next": "/admin/",
            }
        )
        status, _, _ = self.request(
            "POST",
            "/admin/login/",
            body=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": f"https://{self.host}:{self.port}/admin/login/",
            },
        )
        if status != 302 or "sessionid" not in self.cookies:
            raise HarnessError(f"logging in as {username} answered {status}, not a redirect")


def pages(*, now: datetime, big_call_pk: int, calls: int) -> dict[str, tuple[str, str]]:
    """Each page to time: (path, text its answer must hold, so that a fast page is one
    that found what was asked, not an empty list)."""
    day = (now - timedelta(days=30)).date()
    searched = call_id(calls // 2)
    paths = {
        "call list (default)": "/admin/calls/call/",
        "call list: search by call id": f"/admin/calls/call/?{urlencode({'q': searched})}",
        "call list: status in_progress": "/admin/calls/call/?status__exact=in_progress",
        "call list: created on one day": "/admin/calls/call/?"
        + urlencode({"created_at__gte": str(day), "created_at__lt": str(day + timedelta(days=1))}),
        "call page, 5,000 events": f"/admin/calls/call/{big_call_pk}/change/",
        "events of that call": "/admin/calls/webhookevent/?"
        + urlencode({"call_minivoice_id": call_id(0)}),
        "event list (default)": "/admin/calls/webhookevent/",
    }
    expected = {
        "call list (default)": call_id(0),  # the newest call comes first
        "call list: search by call id": searched,
        "call page, 5,000 events": call_id(0),
        "events of that call": call_id(0),
    }
    return {name: (path, expected.get(name, "")) for name, path in paths.items()}


def time_pages(client: StaffClient, urls: dict[str, tuple[str, str]], *, repeats: int) -> dict:
    found = {}
    for name, (path, expected) in urls.items():
        client.request("GET", path)  # warm: templates, connection, PostgreSQL's caches
        times, statuses = [], set()
        for _ in range(repeats):
            status, content, elapsed = client.request("GET", path)
            statuses.add(status)
            times.append(elapsed)
        if statuses != {200}:
            raise HarnessError(f"{name} ({path}) answered {sorted(statuses)}")
        if expected.encode() not in content:
            raise HarnessError(f"{name} ({path}) does not show {expected}")
        found[name] = {
            "path": path,
            "median_ms": round(statistics.median(times), 1),
            "max_ms": round(max(times), 1),
        }
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale",
        description="Fill a database of its own with N calls and 10·N events, then time the "
        "admin pages over real HTTP as a staff user and report the database's size.",
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
        "--output", type=Path, default=ARTIFACTS, help="folder for the JSON results"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    options = parser.parse_args(argv)
    if options.calls < 100 or options.big_call_events < 1 or options.repeats < 1:
        parser.error("--calls must be 100 or more, --big-call-events and --repeats 1 or more")
    options.output.mkdir(parents=True, exist_ok=True)
    stamp = utc_stamp()
    try:
        results = measure(options, stamp=stamp)
    except HarnessError as exc:
        console.print(f"[red]bench-scale failed:[/] {exc}")
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]Interrupted; everything started was stopped.[/]")
        return 130
    print_table(results)
    save_results(results, folder=options.output, name=f"bench-scale-{stamp}.json")
    return 0


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
            order=options.fill_order,
        )  # fmt: skip
        results = {"fill": made}
        results["sizes"] = database_sizes(dsn, events=results["fill"]["events"])
        with psycopg.connect(dsn, autocommit=True) as conn:
            big_pk = conn.execute(
                "SELECT id FROM calls_call WHERE minivoice_id = %s", [call_id(0)]
            ).fetchone()[0]
        server = stack.enter_context(processes.gunicorn(env=env, workdir=logs))
        client = StaffClient(server.base_url)
        client.login(STAFF_USER, password)
        results["pages"] = time_pages(
            client,
            pages(now=now, big_call_pk=big_pk, calls=options.calls),
            repeats=options.repeats,
        )
        results["gunicorn_command"] = " ".join(server.command)
        if options.prune_older_than:
            results["prune"] = measure_prune(
                dsn=dsn, env=env, server=server, secret=secret, workdir=logs,
                older_than=options.prune_older_than,
            )  # fmt: skip
    return results


PRUNE_TIME_LIMIT = 1800


def measure_prune(*, dsn, env, server, secret, workdir, older_than: str) -> dict:
    """Intake's p99 for 5 s alone, then in 5-s runs for as long as prune_events runs."""

    def intake(run_id: str):
        return run_load(
            url=server.base_url + "/minivoice/webhooks/", endpoint="webhook", kind="webhook",
            secret=secret, run_id=run_id, connections=8, seconds=5, ceiling_rps=3000,
            server_pid=server.process.pid, workdir=workdir,
        )  # fmt: skip

    with psycopg.connect(dsn, autocommit=True) as conn:
        before = conn.execute("SELECT count(*) FROM calls_webhookevent").fetchone()[0]
    alone = intake("pa")
    log = (workdir / "prune.log").open("w")
    command = [sys.executable, "manage.py", "prune_events", "--older-than", older_than]
    started = time.monotonic()
    prune = subprocess.Popen(
        command, cwd=processes.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    ended: list[float] = []
    waiter = threading.Thread(target=lambda: (prune.wait(), ended.append(time.monotonic())))
    waiter.start()
    during = []
    try:
        while not ended and time.monotonic() - started < PRUNE_TIME_LIMIT:
            during.append(intake(f"pd{len(during)}"))
    finally:
        if prune.poll() is None:
            processes.stop(prune)
        waiter.join()
        log.close()
    if prune.returncode != 0:
        raise HarnessError(
            f"prune_events exited {prune.returncode}: {(workdir / 'prune.log').read_text()[-1500:]}"
        )
    with psycopg.connect(dsn, autocommit=True) as conn:
        after = conn.execute("SELECT count(*) FROM calls_webhookevent").fetchone()[0]
    output = (workdir / "prune.log").read_text()
    # The command's own count: wrk counts completed requests only, so rows inserted by
    # requests still in flight at the end of each run would skew before - after.
    said = re.search(r"Deleted (\d+) webhook event", output)
    added = alone.requests + sum(r.requests for r in during)
    return {
        "older_than": older_than,
        "events_deleted": int(said.group(1)) if said else before + added - after,
        "prune_seconds": round(ended[0] - started, 1),
        "intake_alone": {"rps": alone.rps, "p99_ms": alone.p99_ms, "non2xx": alone.non2xx},
        "intake_during": {
            "runs": len(during),
            "rps_median": statistics.median(r.rps for r in during) if during else None,
            "p99_ms_worst": max((r.p99_ms for r in during), default=None),
            "p99_ms_median": statistics.median(r.p99_ms for r in during) if during else None,
            "non2xx": sum(r.non2xx for r in during),
        },
        "output": output[-500:],
    }


def print_table(results: dict) -> None:
    fill_, sizes = results["fill"], results["sizes"]
    table = Table(
        title=f"Admin at {fill_['calls']:,} calls / {fill_['events']:,} events "
        "(baseline: the admin is being rebuilt)"
    )
    table.add_column("page or figure", justify="left")
    table.add_column("median", justify="right")
    table.add_column("max", justify="right")
    for name, page in results["pages"].items():
        table.add_row(name, f"{page['median_ms']:.0f} ms", f"{page['max_ms']:.0f} ms")
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
