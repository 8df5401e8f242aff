"""A process's resident memory, read from /proc/PID/status while it works.

VmRSS is what the process holds now, VmHWM the most it has held (its "high water mark").
Writing 5 to /proc/PID/clear_refs resets VmHWM to VmRSS (Linux 4.0+, the process's owner
or root), so the peak of one piece of work is measured rather than the start-up's. A
thread samples VmRSS meanwhile: the peak between samples may be missed by it, never by
VmHWM, and the samples show the shape over time.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from bench.cpu import descendants

PROC = Path("/proc")
FIELDS = ("VmRSS", "VmHWM")


def parse_status(text: str) -> dict[str, int]:
    """VmRSS and VmHWM in kB from the text of /proc/PID/status (those present)."""
    found: dict[str, int] = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in FIELDS:
            amount, _, unit = value.strip().partition(" ")
            if unit.strip() != "kB":
                raise ValueError(f"unexpected unit in /proc status: {line!r}")
            found[name] = int(amount)
    return found


def read_status(pid: int) -> dict[str, int]:
    """The process's VmRSS and VmHWM in kB; {} once it is gone."""
    try:
        return parse_status((PROC / str(pid) / "status").read_text())
    except (FileNotFoundError, ProcessLookupError):
        return {}


def reset_peak(pid: int) -> bool:
    """Make VmHWM start again from VmRSS; False where the kernel does not allow it."""
    try:
        (PROC / str(pid) / "clear_refs").write_text("5")
    except OSError:
        return False
    status = read_status(pid)
    # An old kernel takes the write and ignores it: then the peak is not reset.
    return bool(status) and status["VmHWM"] <= status["VmRSS"] + 256


def only_child(pid: int, *, timeout: float = 30) -> int:
    """The one process below `pid` (a Celery worker's pool process, at concurrency 1)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        below = [p for p in descendants(pid) if p != pid]
        if len(below) == 1:
            return below[0]
        time.sleep(0.2)
    raise RuntimeError(f"process {pid} did not have exactly one child within {timeout:.0f}s")


class RssSampler(threading.Thread):
    """VmRSS of `pid` every `every` seconds, as (seconds since start, kB)."""

    def __init__(self, pid: int, *, every: float = 0.02) -> None:
        super().__init__(daemon=True, name=f"rss-sampler-{pid}")
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, int]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self._halt.is_set():
            status = read_status(self.pid)
            if not status:
                return
            self.samples.append((round(time.monotonic() - started, 3), status["VmRSS"]))
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def growth(*, baseline_kb: int, peak_kb: int, sampled_kb: list[int], reset: bool) -> dict:
    """What the work added to the process's memory, in kB: the peak (VmHWM after a reset,
    else the largest sample, since VmHWM would hold the start-up's peak) less the
    resident memory just before the work."""
    sampled_peak = max(sampled_kb, default=baseline_kb)
    peak = max(peak_kb, sampled_peak) if reset else sampled_peak
    return {
        "baseline_kb": baseline_kb,
        "peak_kb": peak,
        "sampled_peak_kb": sampled_peak,
        "growth_kb": max(0, peak - baseline_kb),
        "peak_from": "VmHWM after a reset" if reset else "VmRSS samples (VmHWM not reset)",
    }


def kb_to_mb(kb: float) -> float:
    """kB (KiB, as /proc counts) to MB (10^6 bytes, as the targets are written)."""
    return kb * 1024 / 1e6
