"""`make bench` / `make bench-quick`: start everything, measure, print one table, stop.

    python -m bench [--quick] [--profile] [--seconds S] [--rounds N] ...

Order of work: PostgreSQL database and Redis of our own, migrate, gunicorn (as
production runs it, serving the reference beside the app), then rounds of runs that
alternate reference and project; then one Celery worker for the processing figures.
Exits 1 when the harness itself fails (a part would not start, wrk failed, the pool ran
out), never because a target was missed: it reports what it measured.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import socket
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from rich.table import Table

from bench import follow_up, processes, profile, stats
from bench.cli import sigterm_as_interrupt
from bench.cpu import machine_busy_ticks
from bench.load import HarnessError, LoadResult, run_load
from bench.output import ARTIFACTS, console, print_profile, print_table, utc_stamp
from bench.phases import measure_processing
from bench.reference import _CREATE as REFERENCE_TABLE_SQL
from bench.signing import new_secret

ENDPOINTS = {
    # name: (path, kind of signed body)
    "reference": ("/bench/reference/", "webhook"),
    "webhook": ("/minivoice/webhooks/", "webhook"),
    "answer": ("/minivoice/answer/", "answer"),
    "follow_up": ("/minivoice/answer/", "follow_up"),  # each request: its call's collect url
}
PROJECT_ENDPOINTS = ("webhook", "answer", "follow_up")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark webhook intake, answer_url and event processing against a "
        "bare reference view, on PostgreSQL, Redis, gunicorn and a Celery worker started "
        "for the run on loopback and stopped after it.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few seconds per figure (CI: shows the harness works; figures are rough)",
    )
    parser.add_argument(
        "--seconds", type=float, help="length of each load run (default 10; quick: 3)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="alternated reference/project rounds; the ratio is their median (default 3; quick: 2)",
    )
    parser.add_argument(
        "--connections",
        default="8,32",
        help="comma-separated connection counts to load with (default 8,32)",
    )
    parser.add_argument(
        "--lag-seconds",
        type=float,
        help="how long intake runs at half its maximum for the lag figures (default 60; quick: 8)",
    )
    parser.add_argument(
        "--processing-seconds",
        type=float,
        help="how long one worker drains the backlog for the rate figure (default 20; quick: 5)",
    )
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=1,
        help="processes of the one Celery worker (default 1)",
    )
    parser.add_argument(
        "--ceiling-rps",
        type=int,
        default=5000,
        help="the most requests/s any run could make: sizes each run's pool of signed "
        "requests (default 5000)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile gunicorn's workers with py-spy under load, into artifacts/",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=ARTIFACTS,
        help="folder for the JSON results and logs (default artifacts/, git-ignored)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    options = parser.parse_args(argv)
    try:
        connections = [int(c) for c in options.connections.split(",") if c.strip()]
    except ValueError:
        parser.error("--connections takes whole numbers separated by commas, e.g. 8,32")
    if not connections or min(connections) < 1:
        parser.error("--connections needs at least one count of 1 or more")
    options.connections = connections
    quick = options.quick
    defaults = {
        "seconds": 3 if quick else 10,
        "rounds": 2 if quick else 3,
        "lag_seconds": 8 if quick else 60,
        "processing_seconds": 5 if quick else 20,
    }
    for name, default in defaults.items():
        if getattr(options, name) is None:
            setattr(options, name, default)
    for name in ("seconds", "lag_seconds", "processing_seconds"):
        if getattr(options, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if options.rounds < 1 or options.worker_concurrency < 1 or options.ceiling_rps < 100:
        parser.error("--rounds and --worker-concurrency must be 1 or more, --ceiling-rps 100+")
    for tool in ("wrk", "redis-server"):
        if not _on_path(tool):
            console.print(f"[red]{tool} is not installed (make bench installs wrk).[/]")
            return 1

    with sigterm_as_interrupt():
        return _run(options)


def _run(options) -> int:
    started = datetime.now(tz=UTC)
    stamp = utc_stamp(started)
    options.output.mkdir(parents=True, exist_ok=True)
    logs = options.output / f"bench-{stamp}-logs"
    logs.mkdir(exist_ok=True)
    try:
        results = measure(options, logs=logs)
    except HarnessError as exc:
        console.print(f"[red]The benchmark harness failed:[/] {exc}")
        console.print(f"Logs: {logs}")
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]Interrupted; everything started was stopped.[/]")
        return 130
    results["started_at"] = started.isoformat()
    results["finished_at"] = datetime.now(tz=UTC).isoformat()
    print_table(results)
    if "profile" in results:
        print_profile(results["profile"])
    if "profile" in results["processing"]:
        worker = results["processing"]["profile"]
        table = Table(title="Where the Celery worker spends its time (wall, share of samples)")
        table.add_column("inside", justify="left")
        table.add_column("worker", justify="right")
        for suspect, share in worker["suspects"].items():
            table.add_row(suspect, f"{share:.0%}")
        table.add_row("samples", str(worker["samples"]))
        console.print(table)
    path = options.output / f"bench-{stamp}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    (options.output / "bench-latest.json").write_text(path.read_text())
    console.print(f"Results: {path}   Logs: {logs}")
    return 0


def _on_path(tool: str) -> bool:
    return any(os.access(Path(folder) / tool, os.X_OK) for folder in os.environ["PATH"].split(":"))


def measure(options, *, logs: Path) -> dict:
    secret = new_secret()
    session = secrets.token_hex(3)
    results: dict = {
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(options).items()},
        "machine": {"cpus": os.cpu_count(), "host": socket.gethostname()},
        "runs": [],
    }
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as pools:
        console.print("Starting PostgreSQL database, Redis and gunicorn…")
        database_url = stack.enter_context(processes.postgres_database())
        broker_url = stack.enter_context(processes.redis_server(logs))
        env = processes.app_environment(
            database_url=database_url, broker_url=broker_url, secret=secret
        )
        processes.manage("migrate", "--noinput", env=env)
        processes.manage("flows", "import", str(follow_up.FLOW_FILE), "--publish", env=env)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(REFERENCE_TABLE_SQL["postgresql"])
        server = stack.enter_context(processes.gunicorn(env=env, workdir=logs))
        results["gunicorn_command"] = " ".join(server.command)
        results["gunicorn_conf"] = (processes.ROOT / "gunicorn.conf.py").exists()
        counter = iter(range(10_000))
        asked_again = follow_up.open_calls(base_url=server.base_url, secret=secret, run=session)

        def load(
            endpoint: str, connections: int, seconds: float, *, ceiling_rps=None, **extra
        ) -> LoadResult:
            path, kind = ENDPOINTS[endpoint]
            if kind == "follow_up":
                extra["calls"] = asked_again
            return run_load(
                url=server.base_url + path,
                endpoint=endpoint,
                kind=kind,
                secret=secret,
                run_id=f"{session}r{next(counter):03d}",
                connections=connections,
                seconds=seconds,
                ceiling_rps=ceiling_rps or options.ceiling_rps,
                server_pid=server.process.pid,
                workdir=Path(pools),
                **extra,
            )

        console.print("Warming up…")
        for endpoint in ENDPOINTS:
            load(endpoint, 8, 1 if options.quick else 2)

        for round_number in range(1, options.rounds + 1):
            for connections in options.connections:
                for endpoint in ("reference", *PROJECT_ENDPOINTS):
                    busy_before = machine_busy_ticks()
                    result = load(endpoint, connections, options.seconds)
                    run = result.as_dict() | {
                        "round": round_number,
                        "machine_busy_share": _busy_share(busy_before, machine_busy_ticks()),
                    }
                    results["runs"].append(run)
                    console.print(
                        f"  round {round_number} {endpoint:9} {connections:3} conns: "
                        f"{result.rps:8.1f} req/s  p50 {result.p50_ms:6.1f} ms  "
                        f"p99 {result.p99_ms:6.1f} ms  non-2xx {result.non2xx}  "
                        f"wrk CPU {result.wrk_cpu_share:.0%}  server CPU "
                        f"{result.server_cpu_share:.2f} cores"
                    )
        results["summary"] = summarise(results["runs"], options.connections)

        if options.profile:
            results["profile"] = profile.profile_endpoints(
                load=load, server_pid=server.process.pid, output=logs.parent, stamp=logs.name
            )

        results["processing"] = measure_processing(
            options, env=env, logs=logs, database_url=database_url, broker_url=broker_url,
            load=load, summary=results["summary"],
        )  # fmt: skip
    return results


def _busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    busy, total = after[0] - before[0], after[1] - before[1]
    return round(busy / total, 3) if total else 0.0


def summarise(runs: list[dict], connection_counts: list[int]) -> dict:
    """Per endpoint and connection count: median figures across rounds, and the median
    of each round's ratio to the reference."""
    summary: dict = {}
    for connections in connection_counts:
        here = [r for r in runs if r["connections"] == connections]
        by_endpoint = {e: [r for r in here if r["endpoint"] == e] for e in ENDPOINTS}
        reference = by_endpoint["reference"]
        for endpoint, found in by_endpoint.items():
            if not found:  # not measured in this run
                continue
            rps = [r["rps"] for r in found]
            p99 = [r["p99_ms"] for r in found]
            requests = sum(r["requests"] for r in found)
            figure = {
                "rounds": len(found),
                "rps": statistics.median(rps),
                "p50_ms": statistics.median(r["p50_ms"] for r in found),
                "p99_ms": statistics.median(p99),
                "non2xx_share": sum(r["non2xx"] for r in found) / requests if requests else 0,
                "socket_errors": sum(r["socket_errors"] + r["timeouts"] for r in found),
                "rps_spread": stats.spread(rps),
                "wrk_cpu_share_max": max(r["wrk_cpu_share"] for r in found),
            }
            if endpoint != "reference":
                figure["rps_ratios"] = stats.ratios(rps, [r["rps"] for r in reference])
                figure["rps_ratio"] = stats.median_ratio(rps, [r["rps"] for r in reference])
                figure["p99_ratio"] = stats.median_ratio(p99, [r["p99_ms"] for r in reference])
            summary[f"{endpoint}@{connections}"] = figure
    return summary
