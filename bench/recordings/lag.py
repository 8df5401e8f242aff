"""Event processing's lag while recordings are fetched and transcribed.

Each round loads webhook intake at one fixed rate twice, with `make bench`'s pieces (wrk
on signed pools, the events worker, lag read from the app's rows): first with the events
worker alone, then while a recordings worker (production's command, `-Q recordings`,
transcripts on) fetches and transcribes recordings of the shipped prompts. Its model is
loaded and its first recording under way before the load starts, and it is given enough
recordings to stay busy past the phase's end; the rows say what it did meanwhile.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from datetime import datetime

import psycopg

from bench import processes, processing
from bench.cpu import machine_busy_ticks, process_tree_cpu_seconds
from bench.load import HarnessError, LoadResult, run_load
from bench.output import console
from bench.phases import LAG_CONNECTIONS, calibrate_delay
from bench.recordings import calls
from bench.recordings.calls import RecordedCall
from bench.recordings.phases import Parts

WEBHOOKS = "/minivoice/webhooks/"
BUSY_MARGIN_SECONDS = 15  # work beyond the phase: start-up, and a slower machine
MAX_BUSY_RECORDINGS = 40


class Intake:
    """`make bench`'s load, as its `calibrate_delay` calls it: signed webhooks, wrk."""

    def __init__(self, parts: Parts, *, session: str, ceiling_rps: int) -> None:
        self.parts, self.session, self.ceiling_rps = parts, session, ceiling_rps
        self._counter = itertools.count()

    def __call__(
        self, endpoint: str, connections: int, seconds: float, *, ceiling_rps=None, **extra
    ) -> LoadResult:
        return run_load(
            url=self.parts.base_url + WEBHOOKS,
            endpoint=endpoint,
            kind="webhook",
            secret=self.parts.secret,
            run_id=f"{self.session}l{next(self._counter):03d}",
            connections=connections,
            seconds=seconds,
            ceiling_rps=ceiling_rps or self.ceiling_rps,
            server_pid=self.parts.server_pid,
            workdir=self.parts.pools,
            **extra,
        )


def busy_recordings_needed(*, seconds: float, work_seconds_each: float) -> int:
    """How many recordings keep one worker busy for `seconds` and a margin."""
    each = max(0.5, work_seconds_each)
    return max(2, min(MAX_BUSY_RECORDINGS, math.ceil((seconds + BUSY_MARGIN_SECONDS) / each)))


def drain(conn, *, timeout: float) -> int:
    """Wait (bounded) until no event is pending; how many still are."""
    deadline = time.monotonic() + timeout
    while (pending := processing.pending_count(conn)) and time.monotonic() < deadline:
        time.sleep(0.25)
    return pending


def lag_phase(
    parts: Parts, load: Intake, *, seconds: float, rate: float, delay_ms: float, watch: dict
) -> dict:
    """Intake at the round's pause for `seconds`; the lag of what it sent, and the cores
    each process in `watch` ({name: pid}) and the whole machine were busy meanwhile."""
    conn = parts.conn
    drain(conn, timeout=30)
    cpu_before = {name: process_tree_cpu_seconds(pid) for name, pid in watch.items()}
    busy_before, wall_before = machine_busy_ticks(), time.monotonic()
    start = processing.now(conn)
    run = load(
        "webhook", LAG_CONNECTIONS, seconds, delay_ms=delay_ms, ceiling_rps=int(rate * 2) + 100
    )
    end = processing.now(conn)
    wall = time.monotonic() - wall_before
    busy, total = (a - b for a, b in zip(machine_busy_ticks(), busy_before, strict=True))
    cores = {
        name: round((process_tree_cpu_seconds(pid) - cpu_before[name]) / wall, 2)
        for name, pid in watch.items()
    }
    deadline = time.monotonic() + max(10, seconds / 2)
    while time.monotonic() < deadline and processing.pending_count(conn, since=start):
        time.sleep(0.25)
    lag = processing.summarise_lag(processing.lags_ms(conn, since=start, until=end))
    lag["unprocessed"] = processing.pending_count(conn, since=start)
    return {
        "run": run.as_dict(),
        "delay_ms": round(delay_ms, 2),
        "lag": lag,
        "cores": cores,
        "machine_busy_share": round(busy / total, 3) if total else None,
        "start": start,
        "end": end,
    }


def work_done(rows: dict[str, dict], *, start: datetime, end: datetime) -> dict:
    """What the recordings worker did between `start` and `end`, from the rows."""

    def within(moment) -> bool:
        return moment is not None and start <= moment < end

    fetched = [r for r in rows.values() if within(r["audio_stored_at"])]
    transcribed = [r for r in rows.values() if within(r["transcribed_at"])]
    return {
        "fetched": len(fetched),
        "transcribed": len(transcribed),
        "fetched_mb": round(sum(r["audio_size_bytes"] or 0 for r in fetched) / 1e6, 1),
        "transcribed_audio_seconds": sum(r["duration_seconds"] or 0 for r in transcribed),
        # Work still waiting or under way at the end: it was busy all along.
        "busy_throughout": any(
            r["transcribed_at"] is None or r["transcribed_at"] >= end for r in rows.values()
        ),
    }


def with_recordings(
    parts: Parts,
    load: Intake,
    *,
    round_number: int,
    warm: RecordedCall,
    busy: list[RecordedCall],
    seconds: float,
    rate: float,
    delay_ms: float,
    nice: int,
) -> dict:
    """The lag phase while a recordings worker fetches and transcribes `busy`."""
    parts.work.purge()  # what an earlier round left is not this round's work
    with processes.celery_worker(
        env=parts.worker_env(transcribe=True), workdir=parts.logs, concurrency=1,
        queues=calls.QUEUE, log_name=f"recordings-worker-lag-{round_number}.log", nice=nice,
    ) as worker:  # fmt: skip
        # Its first transcript loads the model; then the busy ones start.
        parts.work.fetch([calls.rows(parts.conn, [warm])[warm.recording_id]["id"]])
        calls.wait_for_rows(
            parts.conn, [warm], until=calls.transcribed, what="the warm-up transcript",
            timeout=180,
        )  # fmt: skip
        feeder = Feeder(parts, busy)
        feeder.start()
        try:
            calls.wait_for_rows(
                parts.conn, busy[:1], until=calls.stored, what="the first busy recording's fetch",
                timeout=120,
            )  # fmt: skip
            phase = lag_phase(
                parts, load, seconds=seconds, rate=rate, delay_ms=delay_ms,
                watch={"events worker": parts.events_pid, "recordings worker": worker.pid},
            )  # fmt: skip
        finally:
            feeder.stop()
        if feeder.error:
            raise HarnessError(f"feeding the recordings worker failed: {feeder.error}")
        phase["recordings"] = work_done(
            calls.rows(parts.conn, busy[: feeder.sent]), start=phase["start"], end=phase["end"]
        )
        phase["recordings"] |= {"offered": len(busy), "sent": feeder.sent}
        parts.work.purge()
    return phase


class Feeder(threading.Thread):
    """Asks for the next recording's fetch as soon as the one before is transcribed, as
    recordings arriving one after another would keep the worker busy: fetch, transcribe,
    fetch… (Sent all at once, the queue would hold every fetch before any transcript.)"""

    def __init__(self, parts: Parts, busy: list[RecordedCall], *, every: float = 0.1) -> None:
        super().__init__(daemon=True, name="recordings-feeder")
        self.parts, self.busy, self.every = parts, busy, every
        self.sent = 0
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            with psycopg.connect(self.parts.dsn, autocommit=True) as conn:
                pks = {r["minivoice_id"]: r["id"] for r in calls.rows(conn, self.busy).values()}
                while not self._halt.is_set() and self.sent < len(self.busy):
                    found = calls.rows(conn, self.busy[: self.sent]).values()
                    if all(r["transcript_state"] in ("done", "failed") for r in found):
                        self.parts.work.fetch([pks[self.busy[self.sent].recording_id]])
                        self.sent += 1
                    self._halt.wait(self.every)
        except BaseException as exc:  # reported by the harness, not lost in a thread
            self.error = exc

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


def measure_lag(
    parts: Parts,
    *,
    rounds: int,
    seconds: float,
    rate: float,
    warm: list[RecordedCall],
    busy: list[list[RecordedCall]],
    session: str,
    nice: int = 0,
) -> dict:
    """`rounds` rounds of (events worker alone, then with recordings work), at `rate`."""
    load = Intake(parts, session=session, ceiling_rps=int(rate * 2) + 100)
    if drain(parts.conn, timeout=60):
        raise HarnessError("the events worker did not process the recordings' webhooks")
    result: dict = {"target_rps": rate, "recordings_worker_nice": nice, "rounds": []}
    for number in range(1, rounds + 1):
        # One pause for both phases of a round, calibrated with the events worker alone:
        # the same pacing, so a slower server under recordings work gets, if anything,
        # fewer requests. Calibrated under that work, a trial on a saturated machine
        # would ask for no pause at all, and the phase would measure an overload.
        drain(parts.conn, timeout=30)
        delay_ms = calibrate_delay(load, target=rate, connections=LAG_CONNECTIONS)
        console.print(f"  round {number}: intake at {rate:.0f} req/s for {seconds:.0f}s, alone…")
        alone = lag_phase(
            parts, load, seconds=seconds, rate=rate, delay_ms=delay_ms,
            watch={"events worker": parts.events_pid},
        )  # fmt: skip
        console.print(
            f"  round {number}: the same while up to {len(busy[number - 1])} recordings are "
            "fetched and transcribed…"
        )
        beside = with_recordings(
            parts, load, round_number=number, warm=warm[number - 1], busy=busy[number - 1],
            seconds=seconds, rate=rate, delay_ms=delay_ms, nice=nice,
        )  # fmt: skip
        for phase in (alone, beside):
            phase["start"], phase["end"] = phase["start"].isoformat(), phase["end"].isoformat()
        result["rounds"].append({"round": number, "alone": alone, "with_recordings": beside})
        console.print(
            f"    lag p99 alone {alone['lag']['p99_ms'] or 0:.0f} ms at "
            f"{alone['run']['rps']:.0f} req/s; with recordings "
            f"{beside['lag']['p99_ms'] or 0:.0f} ms at {beside['run']['rps']:.0f} req/s"
        )
    return result
