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


def record(*, pid: int, seconds: int, output: Path) -> Counter:
    py_spy = Path(sys.executable).with_name("py-spy")
    command = [
        str(py_spy), "record", "--pid", str(pid), "--subprocesses", "--nonblocking",
        "--duration", str(seconds), "--format", "raw", "--output", str(output),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if result.returncode != 0 or not output.exists():
        raise HarnessError(f"py-spy failed ({result.returncode}): {result.stderr[-1500:]}")
    return parse_collapsed(output.read_text())


def profile_endpoints(*, load, server_pid: int, output: Path, stamp: str) -> dict:
    """Load each project endpoint at 32 connections while py-spy samples the workers."""
    found = {}
    for endpoint in ("webhook", "answer", "reference"):
        path = output / f"{stamp}-profile-{endpoint}.txt"
        holder: dict = {}

        def sample(path: Path = path, holder: dict = holder) -> None:
            try:
                holder["stacks"] = record(pid=server_pid, seconds=PROFILE_SECONDS, output=path)
            except BaseException as exc:
                holder["error"] = exc

        sampler = threading.Thread(target=sample)
        sampler.start()
        result = load(endpoint, 32, PROFILE_SECONDS + 2)
        sampler.join()
        if "error" in holder:
            raise HarnessError(str(holder["error"]))
        stacks = holder["stacks"]
        found[endpoint] = {
            "file": str(path),
            "samples": sum(stacks.values()),
            "rps_while_profiled": result.rps,
            "inclusive": inclusive_shares(stacks),
            "self": self_shares(stacks),
        }
    return found
