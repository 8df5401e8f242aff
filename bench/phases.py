"""`make bench`'s processing phase: one worker's rate on the backlog the load runs left,
then the receipt→processed lag with intake at half its maximum beside the worker."""

from __future__ import annotations

import socket
import time

import psycopg

from bench import processes, processing, profile, stats
from bench.load import HarnessError
from bench.output import console


def measure_processing(
    options, *, env, logs, database_url, broker_url, load, summary
) -> dict:  # fmt: skip
    """One worker drains the backlog the load runs left (rate), then intake runs at half
    its maximum while the worker keeps up, or not (lag, backlog)."""
    result: dict = {"worker_concurrency": options.worker_concurrency}
    with psycopg.connect(database_url, autocommit=True) as conn:
        backlog = processing.pending_count(conn)
        result["backlog_before"] = backlog
        console.print(f"Starting one Celery worker; {backlog} events wait for it…")
        with processes.celery_worker(
            env=env, workdir=logs, concurrency=options.worker_concurrency
        ) as worker:
            since = processing.now(conn)
            if options.profile:
                # The worker drains the backlog meanwhile: the profile is the rate's.
                result["profile"] = profile.profile_process(
                    pid=worker.pid,
                    seconds=int(options.processing_seconds),
                    output=logs.parent / f"{logs.name}-profile-worker.txt",
                )
            else:
                time.sleep(options.processing_seconds)
            times = processing.processed_times(conn, since=since)
            result["events_processed"] = len(times)
            result["events_per_second"] = stats.events_per_second(times)
            result["drained"] = processing.pending_count(conn) == 0
            # The rest of that backlog is not this phase's: set it aside (and drop any
            # queued messages), so the lag below measures only what arrives during it.
            result["set_aside"] = processing.set_aside_backlog(conn)
            _drop_queued_messages(broker_url)

            top = max(
                (k for k in summary if k.startswith("webhook@")),
                key=lambda k: int(k.split("@")[1]),
            )
            maximum = summary[top]["rps"]
            target = maximum / 2
            delay_ms = calibrate_delay(load, target=target, connections=LAG_CONNECTIONS)
            result.update(target_rps=round(target, 1), measured_max_from=top, delay_ms=delay_ms)
            console.print(
                f"Intake at half its maximum ({target:.0f} req/s) for "
                f"{options.lag_seconds:.0f}s with the worker running…"
            )
            start = processing.now(conn)
            sampler = processing.BacklogSampler(database_url, since=start)
            sampler.start()
            try:
                # A pool sized for this rate, not the ceiling: made in a second, so the
                # load starts right after the sampler does.
                run = load(
                    "webhook",
                    LAG_CONNECTIONS,
                    options.lag_seconds,
                    delay_ms=delay_ms,
                    ceiling_rps=int(target * 2) + 100,
                )
            finally:
                sampler.stop()
            if sampler.error:
                raise HarnessError(f"sampling the backlog failed: {sampler.error}")
            end = processing.now(conn)
            result["lag_run"] = run.as_dict()
            result["backlog_samples"] = sampler.samples
            result["backlog_slope_per_s"] = round(stats.slope(sampler.samples), 2)
            result["backlog_grows"] = stats.backlog_grows(sampler.samples, intake_rate=run.rps)
            # Bounded wait for the last events, so lag counts them (or says they are late).
            deadline = time.monotonic() + max(10, options.lag_seconds / 2)
            while time.monotonic() < deadline and processing.pending_count(conn, since=start):
                time.sleep(0.5)
            lags = processing.lags_ms(conn, since=start, until=end)
            result["lag"] = processing.summarise_lag(lags)
            result["lag"]["unprocessed"] = processing.pending_count(conn, since=start)
        result["states"] = processing.state_counts(conn)
    return result


LAG_CONNECTIONS = 16


def calibrate_delay(load, *, target: float, connections: int, trials: int = 2) -> float:
    """The pause per connection between requests that makes `connections` send about
    `target` requests/s, with the worker running. wrk has no fixed-rate mode, so: guess,
    try for 2 s, and correct by the time per request each connection actually took;
    twice, since one trial on a shared machine can be off."""
    cycle_ms = 1000 * connections / target  # each connection's time per request
    delay_ms = cycle_ms * 0.9
    for _ in range(trials):
        trial = load(
            "webhook", connections, 2, delay_ms=delay_ms, ceiling_rps=int(target * 2) + 100
        )
        if trial.rps <= 0:
            raise HarnessError("a calibration run answered nothing")
        delay_ms = max(0.0, delay_ms + cycle_ms - 1000 * connections / trial.rps)
    return delay_ms


# calls.dispatch.WAKE_FLAG (not imported: the harness does not load the app's settings).
WAKE_FLAG = "minivoice:drain-requested"


def _drop_queued_messages(broker_url: str, *, queue: str = "celery") -> int:
    """Empty Celery's queue (a Redis list named after it) and return how many messages
    it held. Only that key: FLUSHDB would also drop kombu's exchange bindings, and the
    app's publisher, which declared the queue once, would then publish into nothing.

    The wake-up flag goes too: it says a drain task is on its way, and the one it meant
    was just dropped, so the next delivery must publish another.
    """
    host_port, db = broker_url.removeprefix("redis://").split("/")
    host, port = host_port.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(f"SELECT {db}\r\nDEL {queue}\r\nDEL {WAKE_FLAG}\r\n".encode())
        answer = b""
        while answer.count(b"\r\n") < 3:
            chunk = conn.recv(64)
            if not chunk:
                break
            answer += chunk
    selected, deleted, flag = [*answer.split(b"\r\n"), b"", b""][:3]
    if selected != b"+OK" or not deleted.startswith(b":") or not flag.startswith(b":"):
        raise HarnessError(f"could not empty the benchmark's Celery queue: {answer!r}")
    return int(deleted[1:].strip() or 0)
