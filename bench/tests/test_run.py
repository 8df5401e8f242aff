"""The harness's command line and its summary of rounds."""

from __future__ import annotations

import shutil

import pytest

from bench import processes
from bench.load import HarnessError
from bench.phases import WAKE_FLAG, calibrate_delay
from bench.run import main, summarise
from calls.dispatch import WAKE_FLAG as APP_WAKE_FLAG


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--connections", "eight"], "whole numbers separated by commas"),
        (["--connections", "0"], "at least one count of 1 or more"),
        (["--seconds", "0"], "--seconds must be at least 1"),
        (["--rounds", "0"], "--rounds and --worker-concurrency must be 1 or more"),
        (["--ceiling-rps", "5"], "--ceiling-rps 100+"),
        (["--seconds", "soon"], "invalid float value"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_and_start_nothing(args, message, capsys):
    with pytest.raises(SystemExit) as exited:
        main(args)

    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def _run(endpoint, connections, round_number, rps, p99, non2xx=0):
    return {
        "endpoint": endpoint, "connections": connections, "round": round_number, "rps": rps,
        "p50_ms": p99 / 2, "p99_ms": p99, "requests": int(rps * 10), "non2xx": non2xx,
        "socket_errors": 0, "timeouts": 0, "wrk_cpu_share": 0.1,
    }  # fmt: skip


def test_summary_gives_median_figures_and_median_per_round_ratios():
    runs = [
        _run("reference", 32, 1, 1000, 20), _run("webhook", 32, 1, 500, 60),
        _run("answer", 32, 1, 400, 80),
        _run("reference", 32, 2, 500, 40), _run("webhook", 32, 2, 400, 80),
        _run("answer", 32, 2, 200, 90, non2xx=40),
        _run("reference", 32, 3, 1000, 20), _run("webhook", 32, 3, 600, 40),
        _run("answer", 32, 3, 300, 60),
    ]  # fmt: skip

    summary = summarise(runs, [32])

    assert summary["reference@32"]["rps"] == 1000
    assert "rps_ratio" not in summary["reference@32"]
    webhook = summary["webhook@32"]
    assert webhook["rps"] == 500
    assert webhook["rps_ratios"] == [0.5, 0.8, 0.6]
    assert webhook["rps_ratio"] == pytest.approx(0.6)
    assert webhook["p99_ratio"] == pytest.approx(2.0)
    assert webhook["non2xx_share"] == 0
    assert summary["answer@32"]["non2xx_share"] == pytest.approx(40 / 9000)
    assert summary["reference@32"]["rps_spread"] == pytest.approx(0.5)


@pytest.mark.skipif(
    shutil.which("wrk") is None or shutil.which("redis-server") is None,
    reason="wrk and redis-server are needed before the harness starts anything",
)
def test_a_database_server_that_is_not_there_fails_the_harness_with_exit_1(
    monkeypatch, tmp_path, capsys
):
    monkeypatch.setattr(processes, "ADMIN_DSN", "postgres://postgres@127.0.0.1:1/postgres")

    code = main(["--quick", "--output", str(tmp_path)])

    assert code == 1
    assert "cannot create a database" in capsys.readouterr().out
    assert not list(tmp_path.glob("*.json"))


def test_calibration_finds_the_pause_that_holds_the_target_rate():
    latency_ms = 20.0  # what each request takes, on top of the pause

    class Trial:
        def __init__(self, rps):
            self.rps = rps

    def fake_load(endpoint, connections, seconds, *, delay_ms, ceiling_rps):
        return Trial(1000 * connections / (delay_ms + latency_ms))

    delay = calibrate_delay(fake_load, target=200, connections=16)

    assert 1000 * 16 / (delay + latency_ms) == pytest.approx(200, rel=0.01)


def test_calibration_against_a_server_that_answers_nothing_fails_the_harness():
    class Trial:
        rps = 0.0

    with pytest.raises(HarnessError, match="answered nothing"):
        calibrate_delay(lambda *a, **k: Trial(), target=200, connections=16)


def test_the_harness_clears_the_wake_flag_the_app_sets():
    # The harness keeps its own copy of the name, so that it need not load the app.
    assert WAKE_FLAG == APP_WAKE_FLAG
