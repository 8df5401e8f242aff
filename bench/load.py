"""One load run: a fresh pool of signed requests, wrk on it, and what wrk measured."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import signing
from bench.cpu import process_tree_cpu_seconds

LUA_SCRIPT = Path(__file__).with_name("signed.lua")
RESULT_PREFIX = "BENCH_RESULT "
WRK_THREADS = 2


class HarnessError(RuntimeError):
    """The harness itself failed (not a missed target): `make bench` exits non-zero."""


@dataclass(frozen=True)
class LoadResult:
    endpoint: str
    connections: int
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non2xx: int
    non2xx_share: float
    first_bad_status: int
    socket_errors: int
    timeouts: int
    wrk_cpu_share: float  # of one core, over the run
    server_cpu_share: float  # gunicorn's processes, in cores, over the run

    def as_dict(self) -> dict:
        return asdict(self)


def parse_wrk_output(stdout: str) -> dict:
    """The JSON line signed.lua's done() prints; HarnessError if there is none."""
    for line in stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line.removeprefix(RESULT_PREFIX))
    raise HarnessError(f"wrk printed no result line:\n{stdout[-2000:]}")


def pool_size(*, seconds: float, connections: int, ceiling_rps: int) -> int:
    """Enough requests that no thread runs out: the ceiling rate for the whole run,
    plus a margin for each connection's request in flight."""
    return int(seconds * ceiling_rps) + 4 * connections + 100


def run_load(
    *,
    url: str,
    endpoint: str,
    kind: str,
    secret: str,
    run_id: str,
    connections: int,
    seconds: float,
    ceiling_rps: int,
    server_pid: int,
    delay_ms: float = 0,
    workdir: Path,
    calls: Sequence[signing.OpenCall] = (),
) -> LoadResult:
    """Load `url` with `connections` for `seconds`, each request signed and unique."""
    count = pool_size(seconds=seconds, connections=connections, ceiling_rps=ceiling_rps)
    with tempfile.NamedTemporaryFile(dir=workdir, suffix=".pool", delete=False) as handle:
        pool = Path(handle.name)
    try:
        signing.write_pool(
            pool,
            signing.signed_requests(kind=kind, count=count, secret=secret, run=run_id, calls=calls),
        )
        command = [
            "wrk", "--latency", "--threads", str(min(WRK_THREADS, connections)),
            "--connections", str(connections), "--duration", f"{max(1, round(seconds))}s",
            "--timeout", "10s", "--script", str(LUA_SCRIPT), url,
            "--", str(pool), str(min(WRK_THREADS, connections)),
        ]  # fmt: skip
        env = {**os.environ, "BENCH_DELAY_MS": str(max(0, round(delay_ms)))}
        server_before = process_tree_cpu_seconds(server_pid)
        children_before = _children_cpu_seconds()
        started = time.monotonic()
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True
        )
        try:
            stdout, _ = process.communicate(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise HarnessError(f"wrk did not finish within {seconds + 60:.0f}s") from None
        wall = time.monotonic() - started
        server_cpu = process_tree_cpu_seconds(server_pid) - server_before
        # wrk is the only child reaped meanwhile, so the children's total grew by its CPU.
        wrk_cpu = _children_cpu_seconds() - children_before
    finally:
        pool.unlink(missing_ok=True)
    if process.returncode != 0:
        raise HarnessError(f"wrk exited {process.returncode}:\n{stdout[-2000:]}")
    raw = parse_wrk_output(stdout)
    if raw["exhausted"]:
        raise HarnessError(
            f"the pool of {count} signed requests ran out ({endpoint}, {connections} "
            "connections): raise --ceiling-rps"
        )
    duration = raw["duration_us"] / 1e6
    requests = raw["requests"]
    return LoadResult(
        endpoint=endpoint,
        connections=connections,
        seconds=round(duration, 3),
        requests=requests,
        rps=round(requests / duration, 1) if duration else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        non2xx=raw["non2xx"],
        non2xx_share=raw["non2xx"] / requests if requests else 0.0,
        first_bad_status=raw["first_bad_status"],
        socket_errors=raw["socket_errors"],
        timeouts=raw["timeouts"],
        wrk_cpu_share=round(wrk_cpu / wall, 3) if wall else 0.0,
        server_cpu_share=round(server_cpu / wall, 3) if wall else 0.0,
    )


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
