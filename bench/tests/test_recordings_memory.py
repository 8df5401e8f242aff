"""Resident memory read from /proc: the recordings benchmark's memory figure."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from bench.recordings import memory

STATUS = """Name:\tpython
VmPeak:\t  300000 kB
VmHWM:\t   90000 kB
VmRSS:\t   84000 kB
Threads:\t4
"""

# A process that waits for a line, then holds `MB` megabytes (written, so resident) for
# a moment, frees them, and says so.
HOLDER = """
import sys, time
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.readline()
held = b"x" * ({mb} * 1_000_000)
time.sleep({hold})
del held
sys.stdout.write("done\\n"); sys.stdout.flush()
sys.stdin.readline()
"""


def test_status_gives_rss_and_its_high_water_mark_in_kb():
    assert memory.parse_status(STATUS) == {"VmRSS": 84000, "VmHWM": 90000}


def test_an_unexpected_unit_is_refused_rather_than_misread():
    with pytest.raises(ValueError, match="unexpected unit"):
        memory.parse_status("VmRSS:\t84 MB\n")


def test_a_process_that_is_gone_has_no_status():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()

    assert memory.read_status(process.pid) == {}


def _holder(mb: int, hold: float) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER.format(mb=mb, hold=hold)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline() == "ready\n"
    return process


def _measure(process: subprocess.Popen) -> dict:
    baseline = memory.read_status(process.pid)
    reset = memory.reset_peak(process.pid)
    sampler = memory.RssSampler(process.pid)
    sampler.start()
    process.stdin.write("go\n")
    process.stdin.flush()
    assert process.stdout.readline() == "done\n"
    sampler.stop()
    after = memory.read_status(process.pid)
    process.stdin.write("bye\n")
    process.stdin.flush()
    process.wait(timeout=10)
    return memory.growth(
        baseline_kb=baseline["VmRSS"],
        peak_kb=after["VmHWM"],
        sampled_kb=[kb for _, kb in sampler.samples],
        reset=reset,
    )


def test_memory_held_for_a_while_shows_as_growth():
    grew = _measure(_holder(mb=30, hold=0.3))

    assert 28_000 <= grew["growth_kb"] <= 40_000
    assert grew["sampled_peak_kb"] - grew["baseline_kb"] >= 28_000


def test_a_peak_too_short_for_the_samples_is_still_caught_by_the_high_water_mark():
    grew = _measure(_holder(mb=30, hold=0))

    assert grew["peak_from"] == "VmHWM after a reset"
    assert grew["growth_kb"] >= 28_000


def test_the_peak_is_reset_so_what_came_before_the_work_does_not_count():
    # Before the measured work, the process once held 40 MB more than it does now.
    earlier = "held = b'x' * 40_000_000\ndel held\n"
    process = subprocess.Popen(
        [sys.executable, "-c", earlier + HOLDER.format(mb=1, hold=0)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline() == "ready\n"
    status = memory.read_status(process.pid)
    assert status["VmHWM"] - status["VmRSS"] > 30_000

    grew = _measure(process)

    assert grew["growth_kb"] < 10_000


def test_without_a_reset_the_samples_give_the_peak():
    grew = memory.growth(
        baseline_kb=80_000, peak_kb=200_000, sampled_kb=[80_000, 83_000], reset=False
    )

    assert grew["growth_kb"] == 3_000
    assert grew["peak_from"] == "VmRSS samples (VmHWM not reset)"


def test_the_one_child_of_a_process_is_found():
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys, time; "
         "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); "
         "print(c.pid, flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    child = int(parent.stdout.readline())
    try:
        assert memory.only_child(parent.pid, timeout=5) == child
    finally:
        os.kill(child, signal.SIGKILL)
        parent.kill()
        parent.wait()


def test_kb_are_counted_as_1024_bytes_and_mb_as_a_million():
    assert memory.kb_to_mb(1_000_000 / 1024) == pytest.approx(1.0)
