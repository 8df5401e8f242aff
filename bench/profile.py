"""Where gunicorn's workers spend their time under load: py-spy, sampling live.

py-spy attaches to the running master with --subprocesses (all workers) and
--nonblocking (it never pauses them), records collapsed stacks, and the summary below
says which share of samples passes through each function of interest.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from bench.load import HarnessError

PROFILE_SECONDS = 8


def parse_collapsed(text: str) -> Counter:
    """Collapsed stacks ("a;b;c 12" per line) as a Counter of stack tuples."""
    stacks: Counter = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def inclusive_shares(stacks: Counter, *, top: int = 40) -> list[tuple[str, float]]:
    """Each frame's share of all samples whose stack passes through it (counted once per
    stack, however deep the recursion), largest first."""
    total = sum(stacks.values())
    through: Counter = Counter()
    for stack, count in stacks.items():
        for frame in set(stack):
            through[frame] += count
    return [(frame, count / total) for frame, count in through.most_common(top)] if total else []


def self_shares(stacks: Counter, *, top: int = 25) -> list[tuple[str, float]]:
    """Each leaf frame's share: where the CPU actually was."""
    total = sum(stacks.values())
    leaves: Counter = Counter()
    for stack, count in stacks.items():
        leaves[stack[-1]] += count
    return [(frame, count / total) for frame, count in leaves.most_common(top)] if total else []


# The suspects and the request path's stages, as frame-name prefixes in py-spy's
# "function (file:line)" frames: the share of samples spent inside each.
SUSPECTS = {
    "whole view (APIView.dispatch)": "APIView.dispatch ",
    "DRF's request wrapping (initialize_request)": "APIView.initialize_request ",
    "read_inbound": "read_inbound ",
    "signature check": "verify_signature ",
    "event_ingest": "event_ingest ",
    "row INSERT (insert_row)": "insert_row ",
    "new call and exchange (call_and_exchange_insert)": "call_and_exchange_insert ",
    "known call (call_create_or_lock)": "call_create_or_lock ",
    "preparing row values (_insert_params)": "_insert_params ",
    "waking the workers (send_events)": "send_events ",
    "transaction.atomic (enter/exit)": "Atomic.__",
    "JSON parsing (json.loads)": "loads ",
    "answer_call": "answer_call ",
    "action validation (ensure_valid)": "ensure_valid ",
    "connection health check (is_usable)": "DatabaseWrapper.is_usable ",
    "waiting on PostgreSQL (Connection.wait)": "Connection.wait ",
    "Django middleware and handler": "BaseHandler.get_response ",
}


def suspect_shares(stacks: Counter, suspects: dict[str, str] = SUSPECTS) -> dict[str, float]:
    """For each suspect, the share of samples with a frame starting with its prefix."""
    total = sum(stacks.values())
    if not total:
        return dict.fromkeys(suspects, 0.0)
    shares = {}
    for name, prefix in suspects.items():
        inside = sum(
            count
            for stack, count in stacks.items()
            if any(frame.startswith(prefix) for frame in stack)
        )
        shares[name] = inside / total
    return shares


def record(*, pid: int, seconds: int, output: Path, gil: bool) -> Counter:
    """Sample every worker of `pid`. Without `gil`: wall time of busy threads (waiting on
    PostgreSQL or Redis included); with it: only the thread holding the GIL, i.e. where
    Python itself spends the CPU."""
    py_spy = Path(sys.executable).with_name("py-spy")
    command = [
        str(py_spy), "record", "--pid", str(pid), "--subprocesses", "--nonblocking",
        "--duration", str(seconds), "--format", "raw", "--output", str(output),
    ]  # fmt: skip
    if gil:
        command.append("--gil")
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if result.returncode != 0 or not output.exists():
        raise HarnessError(f"py-spy failed ({result.returncode}): {result.stderr[-1500:]}")
    return parse_collapsed(output.read_text())


def profile_endpoints(*, load, server_pid: int, output: Path, stamp: str) -> dict:
    """Load each project endpoint at 32 connections while py-spy samples the workers."""
    found = {}
    endpoints = ("webhook", "answer", "follow_up", "reference")
    for endpoint, gil in [(e, g) for e in endpoints for g in (0, 1)]:
        name = f"{endpoint}-{'gil' if gil else 'wall'}"
        path = output / f"{stamp}-profile-{name}.txt"
        holder: dict = {}

        def sample(path: Path = path, holder: dict = holder, gil: bool = bool(gil)) -> None:
            try:
                holder["stacks"] = record(
                    pid=server_pid, seconds=PROFILE_SECONDS, output=path, gil=gil
                )
            except BaseException as exc:
                holder["error"] = exc

        sampler = threading.Thread(target=sample)
        sampler.start()
        result = load(endpoint, 32, PROFILE_SECONDS + 2)
        sampler.join()
        if "error" in holder:
            raise HarnessError(str(holder["error"]))
        stacks = holder["stacks"]
        found[name] = {
            "file": str(path),
            "samples": sum(stacks.values()),
            "rps_while_profiled": result.rps,
            "suspects": suspect_shares(stacks),
            "inclusive": inclusive_shares(stacks),
            "self": self_shares(stacks),
        }
    return found


def profile_process(*, pid: int, seconds: int, output: Path) -> dict:
    """Sample `pid` and its children (wall) for `seconds`: the Celery worker at work."""
    stacks = record(pid=pid, seconds=seconds, output=output, gil=False)
    return {
        "file": str(output),
        "samples": sum(stacks.values()),
        "suspects": suspect_shares(stacks, WORKER_SUSPECTS),
        "inclusive": inclusive_shares(stacks),
        "self": self_shares(stacks),
    }


WORKER_SUSPECTS = {
    "events_drain": "events_drain ",
    "claiming a batch (the drain's SELECT … SKIP LOCKED)": "ModelIterable.__iter__ ",
    "event_apply": "event_apply ",
    "locking the batch's calls and recordings": "_calls_locked ",
    "writing calls and recordings (update_row)": "update_row ",
    "call_last_step_before": "call_last_step_before ",
    "problem checks (calls_problems_refresh)": "calls_problems_refresh ",
    "waiting on PostgreSQL (Connection.wait)": "Connection.wait ",
    "Celery/kombu: fetching messages": "Channel._brpop_read ",
    "logging": "Logger._log ",
}
