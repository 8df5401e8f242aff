"""`python -m bench.recordings`: its options, refused in one line, and its defaults."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from bench import processes
from bench.recordings import command, lag


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hours", "0"], "--hours must be from 1/60 (a minute) to 4"),
        (["--hours", "5"], "--hours must be from 1/60 (a minute) to 4"),
        (["--hours", "0.001"], "--hours must be from 1/60 (a minute) to 4"),
        (["--hours", "an hour"], "argument --hours: invalid float value: 'an hour'"),
        (["--speech-repeats", "0"], "--speech-repeats must be from 1 to 20"),
        (["--lag-seconds", "1"], "--lag-seconds must be from 2 to 600"),
        (["--rounds", "0"], "--rounds must be from 1 to 10"),
        (["--rate", "5"], "--rate must be from 10 to 5000 requests/s"),
        (["--recordings-nice", "20"], "--recordings-nice must be from 0 to 19"),
        (["--seconds", "3"], "unrecognized arguments: --seconds 3"),
    ],
)
def test_a_bad_option_exits_2_with_one_line_and_starts_nothing(args, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exited:
        command.main([*args, "--output", str(tmp_path)])

    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err == f"python -m bench.recordings: {message} (see --help)\n"
    assert not list(tmp_path.iterdir())


def test_help_lists_every_option():
    done = subprocess.run(
        [sys.executable, "-m", "bench.recordings", "--help"],
        cwd=processes.ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0
    for option in ("--quick", "--hours", "--speech-repeats", "--lag-seconds", "--rounds",
                   "--rate", "--recordings-nice", "--output"):  # fmt: skip
        assert option in done.stdout


def test_quick_shortens_the_phases_and_given_values_win():
    quick = command.parse_options(["--quick"])
    full = command.parse_options([])
    chosen = command.parse_options(["--quick", "--rounds", "3", "--hours", "0.5"])

    assert (quick.speech_repeats, quick.lag_seconds, quick.rounds, quick.hours) == (1, 8, 1, 1)
    assert (full.speech_repeats, full.lag_seconds, full.rounds, full.rate) == (4, 30, 2, 200)
    assert (chosen.rounds, chosen.hours, chosen.lag_seconds) == (3, 0.5, 8)


def test_a_missing_tool_is_named_and_nothing_starts(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(command.shutil, "which", lambda tool: None if tool == "sox" else "/x")

    code = command.main(["--quick", "--output", str(tmp_path)])

    assert code == 1
    assert "Missing: sox (make audio-tools installs it)." in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("seconds", "each", "needed"),
    [(30, 10, 5), (8, 0.8, 29), (8, 0.01, 40), (600, 1000, 2)],
)
def test_enough_recordings_are_offered_to_keep_the_worker_busy_past_the_phase(
    seconds, each, needed
):
    assert lag.busy_recordings_needed(seconds=seconds, work_seconds_each=each) == needed


def test_the_work_done_counts_what_finished_within_the_phase():
    start = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    end = start + timedelta(seconds=30)

    def row(stored_s, transcribed_s):
        return {
            "audio_stored_at": None if stored_s is None else start + timedelta(seconds=stored_s),
            "transcribed_at": None
            if transcribed_s is None
            else start + timedelta(seconds=transcribed_s),
            "audio_size_bytes": 1_000_000,
            "duration_seconds": 60,
        }

    done = lag.work_done(
        {"a": row(-2, 5), "b": row(6, 20), "c": row(21, None)}, start=start, end=end
    )

    assert done == {
        "fetched": 2,
        "transcribed": 2,
        "fetched_mb": 2.0,
        "transcribed_audio_seconds": 120,
        "busy_throughout": True,
    }
    finished = lag.work_done({"a": row(1, 5), "b": row(6, 20)}, start=start, end=end)
    assert finished["busy_throughout"] is False
