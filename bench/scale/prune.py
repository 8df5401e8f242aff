"""`prune_events` timed while wrk loads webhook intake, and intake's p99 alone and during."""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import threading
import time

import psycopg

from bench import processes
from bench.load import HarnessError, run_load

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
