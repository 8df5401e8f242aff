"""`make soak` (`python -m soak [--calls N]`): many calls with faults injected, then
nothing lost and nothing twice.

Starts its own PostgreSQL cluster and Redis on free loopback ports (so it may restart
them), the emulator's API, gunicorn as production runs it (`minivoice_site.wsgi` with
gunicorn.conf.py), a Celery worker for events, one for recordings' audio, and beat.
Then `simulate_call --chaos` plays the shipped consent IVR every way a caller goes
through it, while the broker is restarted, the events worker is killed with `kill -9`
(and replaced, as a supervisor would) and PostgreSQL is restarted. Once everything has
drained it checks, in SQL and on the stored audio, that no delivery was lost, no effect
happened twice, every call's verdict holds and every recording's audio is the bytes
served. Exit status: 0 all held, 1 something did not (or the harness failed), 2 bad
arguments, 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from bench import processes
from bench.cli import OneLineParser, sigterm_as_interrupt
from bench.load import HarnessError
from bench.output import ARTIFACTS, console, utc_stamp
from bench.recordings.emulator import emulator
from bench.signing import new_secret
from soak import checks, mix, servers
from soak.faults import Fault, Injector
from soak.report import print_table, progress_line

FLOW_FILE = processes.ROOT / "calls" / "flows" / "examples" / "consent-ivr.json"
FAULT_SHARES = (0.25, 0.50, 0.75)
PROGRESS_SECONDS = 5.0


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m soak",
        description="Soak with faults: simulate_call --chaos plays CALLS calls of the shipped "
        "consent IVR against gunicorn, two Celery workers and beat on a PostgreSQL and a "
        "Redis of the soak's own; meanwhile the broker is restarted, a worker killed with "
        "kill -9 and PostgreSQL restarted. Prints one table (nothing lost, nothing twice, "
        "every verdict holds) and saves JSON in artifacts/.",
    )
    parser.add_argument(
        "--calls", type=int, default=2000, help="calls to play (default 2000; CI: 100)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help="calls played at once (default 16)"
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=10,
        help="calls play in real time divided by this (default 10: a 23-second call takes "
        "2.3 s), so that each fault falls in the middle of calls",
    )
    parser.add_argument("--seed", type=int, default=18, help="seed for --chaos (default 18)")
    parser.add_argument(
        "--transcribe",
        action="store_true",
        help="also transcribe each recording, as production does by default (off: on a "
        "small machine the model takes the CPU the soak is about)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=600,
        help="seconds to wait, after the calls, for every event and recording's audio "
        "to be done (default 600)",
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
    if not 10 <= options.calls <= 100_000:
        parser.error("--calls must be from 10 to 100000 (the faults fall at 25%, 50%, 75%)")
    if not 5 <= options.concurrency <= 64:
        parser.error("--concurrency must be from 5 (one per kind of call) to 64")
    if not 1 <= options.speed <= 1000:
        parser.error("--speed must be from 1 (real time) to 1000")
    if not 10 <= options.drain_timeout <= 3600:
        parser.error("--drain-timeout must be from 10 to 3600 seconds")
    missing = servers.missing_programs()
    if missing:
        console.print(f"[red]The soak needs {', '.join(missing)}.[/]")
        return 1
    with sigterm_as_interrupt():
        return _run(options)


def _run(options) -> int:
    stamp = utc_stamp()
    options.output.mkdir(parents=True, exist_ok=True)
    logs = (options.output / f"soak-{stamp}-logs").resolve()
    logs.mkdir()
    try:
        results = soak(options, logs=logs)
    except HarnessError as exc:
        console.print(f"[red]The soak harness failed:[/] {exc}")
        console.print(f"Logs: {logs}")
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]Interrupted; everything started was stopped.[/]")
        return 130
    print_table(results)
    path = options.output / f"soak-{stamp}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    (options.output / "soak-latest.json").write_text(path.read_text())
    console.print(f"Results: {path}   Logs: {logs}")
    return 0 if results["passed"] else 1


def soak(options, *, logs: Path) -> dict:
    began = time.monotonic()
    started_at = datetime.now(tz=UTC)
    with contextlib.ExitStack() as stack:
        console.print("Starting PostgreSQL and Redis of the soak's own, the emulator, gunicorn…")
        postgres = stack.enter_context(servers.postgres(logs))
        redis = stack.enter_context(servers.redis(logs))
        media_root = logs / "media"
        api_key = secrets.token_hex(16)  # never starting with "-", which reads as an option
        env = processes.app_environment(
            database_url=postgres.url, broker_url=redis.url, secret=new_secret()
        )
        # No TLS proxy in front on loopback: MiniVoice (simulate_call) speaks plain HTTP
        # to gunicorn, so the redirect to https, the proxy's job, is off.
        env.update(
            MEDIA_ROOT=str(media_root),
            MINIVOICE_API_KEY=api_key,
            SECURE_SSL_REDIRECT="false",
            MINIVOICE_TRANSCRIBE="true" if options.transcribe else "false",
        )
        api_url = stack.enter_context(emulator(env=env, workdir=logs, api_key=api_key))
        env["MINIVOICE_API_URL"] = api_url
        processes.manage("migrate", "--noinput", env=env)
        processes.manage("flows", "import", str(FLOW_FILE), "--publish", env=env)
        server = stack.enter_context(
            processes.gunicorn(env=env, workdir=logs, app="minivoice_site.wsgi")
        )
        console.print("Starting the events worker, the recordings worker and beat…")
        events_worker = [
            stack.enter_context(
                processes.celery_worker(
                    env=env, workdir=logs, concurrency=2, log_name="worker-events-0.log"
                )
            )
        ]
        stack.enter_context(
            processes.celery_worker(
                env=env, workdir=logs, concurrency=2, queues="recordings",
                log_name="worker-recordings.log",
            )
        )  # fmt: skip
        stack.enter_context(_beat(env=env, logs=logs))

        def kill_worker() -> str:
            victim = events_worker[-1]
            os.killpg(victim.pid, signal.SIGKILL)  # the worker and its pool, as an OOM kill
            victim.wait()
            replaced = time.monotonic()
            log_name = f"worker-events-{len(events_worker)}.log"
            replacement = processes.celery_worker(
                env=env, workdir=logs, concurrency=2, log_name=log_name
            )
            events_worker.append(stack.enter_context(replacement))
            took = time.monotonic() - replaced
            return f"pid {victim.pid} killed; a replacement ready in {took:.1f}s"

        faults = [
            Fault("broker restarted", FAULT_SHARES[0], lambda: f"away {redis.restart():.1f}s"),
            Fault("events worker killed with kill -9", FAULT_SHARES[1], kill_worker),
            Fault(
                "PostgreSQL restarted", FAULT_SHARES[2], lambda: f"away {postgres.restart():.1f}s"
            ),
        ]
        injector = Injector(faults=faults, database_url=postgres.url, calls=options.calls)
        plan = mix.planned(options.calls, options.concurrency)
        console.print(
            f"Playing {options.calls} calls, {options.concurrency} at once, with chaos: "
            + "; ".join(f"{count} {part.name}" for part, count, _ in plan)
        )
        injector.start()
        try:
            parts = _play(
                plan, env=env, logs=logs, base_url=server.base_url, api_url=api_url,
                api_key=api_key, seed=options.seed, speed=options.speed, injector=injector,
                began=began,
                database_url=postgres.url,
            )  # fmt: skip
            _wait_for_faults(injector, began=began)
        finally:
            injector.stop()
        drained_at = _drain(postgres.url, timeout=options.drain_timeout, began=began)
        with psycopg.connect(postgres.url, autocommit=True) as conn:
            findings = checks.examine(
                conn,
                webhooks_sent=sum(p["summary"]["webhooks"] for p in parts),
                never_acknowledged=sum(p["summary"]["lost_deliveries"] for p in parts),
                media_root=media_root,
                api_url=api_url,
                api_key=api_key,
            )
    return _results(
        options, parts=parts, faults=faults, findings=findings, drained_at=drained_at,
        began=began, started_at=started_at, gunicorn=" ".join(server.command),
    )  # fmt: skip


@contextlib.contextmanager
def _beat(*, env: dict, logs: Path):
    log = logs / "beat.log"
    command = [
        sys.executable, "-m", "celery", "-A", "minivoice_site", "beat", "--loglevel", "INFO",
        "--schedule", str(logs / "beat-schedule"),
    ]  # fmt: skip
    with processes.started(command, env=env, log=log, name="beat") as process:
        processes.wait_for(
            lambda: "beat: Starting" in log.read_text(errors="replace"),
            process=process,
            log=log,
            what="celery beat",
        )
        yield process


def _play(
    plan, *, env, logs, base_url, api_url, api_key, seed, speed, injector, began, database_url
) -> list[dict]:
    """Each part's `simulate_call --json` at once; their documents once all are done."""
    calls = sum(count for _, count, _ in plan)
    running = []
    for index, (part, count, concurrency) in enumerate(plan):
        command = [
            sys.executable, "manage.py", "simulate_call", "--base-url", base_url,
            "--api-url", api_url, "--api-key", api_key, "--flow", mix.FLOW, "--chaos",
            "--seed", str(seed * 100 + index), "--calls", str(count),
            "--concurrency", str(concurrency), "--speed", str(speed), "--json",
            *part.arguments,
        ]  # fmt: skip
        out, err = logs / f"calls-{index}.json", logs / f"calls-{index}.log"
        with out.open("w") as stdout, err.open("w") as stderr:
            process = subprocess.Popen(
                command, cwd=processes.ROOT, env=env, stdout=stdout, stderr=stderr,
                start_new_session=True,
            )  # fmt: skip
        running.append((part, process, out, err))
    try:
        while any(process.poll() is None for _, process, _, _ in running):
            time.sleep(PROGRESS_SECONDS)
            progress_line(
                elapsed=time.monotonic() - began,
                started=injector.started_count,
                calls=calls,
                backlog=_backlog(database_url),
                faults=injector.faults,
            )
    finally:
        for _, process, _, _ in running:
            processes.stop(process)
    documents = []
    for part, process, out, err in running:
        if process.returncode not in (0, 1):  # 1: some verdict differs, reported
            raise HarnessError(
                f"simulate_call ({part.name}) exited {process.returncode}:\n"
                + err.read_text(errors="replace")[-3000:]
            )
        try:
            document = json.loads(out.read_text())
        except ValueError:
            raise HarnessError(f"simulate_call ({part.name}) printed no JSON; see {err}") from None
        documents.append({"part": part.name, **document})
    return documents


def _backlog(database_url: str) -> tuple[int, int] | None:
    try:
        with psycopg.connect(database_url, connect_timeout=2) as conn:
            return checks.backlog(conn)
    except psycopg.Error:
        return None


def _wait_for_faults(injector: Injector, *, began: float, timeout: float = 120) -> None:
    """The last fault may still be under way (a replacement worker starting)."""
    deadline = time.monotonic() + timeout
    while any(f.done_at is None for f in injector.faults) and time.monotonic() < deadline:
        time.sleep(0.5)


def _drain(database_url: str, *, timeout: float, began: float) -> float | None:
    """When every event was done and every completed recording's audio fetched
    (monotonic), or None if `timeout` passed first."""
    deadline = time.monotonic() + timeout
    last_said = 0.0
    while time.monotonic() < deadline:
        backlog = _backlog(database_url)
        if backlog == (0, 0):
            return time.monotonic()
        if time.monotonic() - last_said >= PROGRESS_SECONDS:
            console.print(
                f"  {time.monotonic() - began:6.0f}s  draining: "
                + ("database away" if backlog is None else
                   f"{backlog[0]} events and {backlog[1]} recordings' audio to do"),
                highlight=False,
            )  # fmt: skip
            last_said = time.monotonic()
        time.sleep(0.5)
    return None


def _results(options, *, parts, faults, findings, drained_at, began, started_at, gunicorn) -> dict:
    summaries = [p["summary"] for p in parts]
    mismatches = [
        f"{call['call_id']} ({part['part']}): "
        + "; ".join(f"{m['what']}: expected {m['expected']}; recorded {m['recorded']}"
                    for m in call["mismatches"])
        for part in parts
        for call in part["calls"]
        if call["verdict"] != "ok"
    ]  # fmt: skip
    calls = {
        "played": sum(s["calls"] for s in summaries),
        "verdicts_failed": sum(s["verdicts_failed"] for s in summaries),
        "deliveries_sent": sum(s["deliveries_sent"] for s in summaries),
        "answer_url_requests": sum(s["answer_url_requests"] for s in summaries),
        "parts": [{"part": p["part"], **p["summary"]} for p in parts],
        "mismatches": mismatches,
    }
    done = [f.done_at for f in faults if f.done_at is not None]
    drain = round(drained_at - max(done), 1) if drained_at is not None and done else None
    injected = sum(1 for f in faults if f.done_at is not None and not f.error)
    found = findings.as_dict()
    passed = (
        found["lost"] == 0
        and found["duplicated"] == 0
        and calls["verdicts_failed"] == 0
        and calls["played"] == options.calls
        and injected == len(faults)
        and drained_at is not None
    )
    summary = (
        f"{calls['played']} calls, {injected} faults, {found['lost']} lost, "
        f"{found['duplicated']} duplicated, {calls['verdicts_failed']} verdicts differ"
        + ("" if drained_at is not None else ", did not drain in time")
    )
    return {
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(options).items()},
        "started_at": started_at.isoformat(),
        "seconds": round(time.monotonic() - began, 1),
        "machine": {"cpus": os.cpu_count()},
        "gunicorn_command": gunicorn,
        "calls": calls,
        "faults": [f.as_dict() for f in faults],
        "findings": found,
        "drain_seconds_after_last_fault": drain,
        "drained": drained_at is not None,
        "passed": passed,
        "summary": summary,
    }
