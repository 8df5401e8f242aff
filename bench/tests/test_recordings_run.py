"""`python -m bench.recordings`, run for real in its shortest form (~35 s): every part
starts, every figure is measured and saved, and everything stops. Once, on PostgreSQL's
suite: the harness makes a PostgreSQL database of its own whatever the suite's."""

from __future__ import annotations

import json
import shutil

import pytest
from django.db import connection

from bench.recordings import command, report
from bench.recordings.wer import normalise

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="runs once, in the PostgreSQL suite"
    ),
    pytest.mark.skipif(
        not all(shutil.which(tool) for tool in command.TOOLS),
        reason=f"needs {', '.join(command.TOOLS)} (make test installs them)",
    ),
]


def test_a_short_run_measures_every_figure_and_saves_them(tmp_path, capsys):
    code = command.main(
        ["--quick", "--hours", "0.1", "--lag-seconds", "5", "--output", str(tmp_path)]
    )

    printed = capsys.readouterr().out
    assert code == 0, printed
    [saved] = tmp_path.glob("bench-recordings-*.json")
    results = json.loads(saved.read_text())
    assert "Recordings benchmark" in printed and str(saved) in printed

    fetch = results["fetch"]
    assert fetch["fetch"]["size_bytes"] == 44 + 16000 * 360
    assert fetch["fetch"]["size_matches"] and fetch["fetch"]["sha256_matches"]
    assert fetch["memory"]["peak_from"] == "VmHWM after a reset"
    assert fetch["memory"]["cpu_seconds"] > 0  # the process sampled is the one that fetched
    assert results["download"]["median_mb_per_second"] > 0

    transcription = results["transcription"]
    assert transcription["words_said"] == len(normalise(transcription["said"])) > 40
    assert transcription["heard"]
    assert 0 < transcription["rtf_cpu"] < 1
    assert transcription["first_with_model_load"]["state"] == "done"

    [lag_round] = results["lag"]["rounds"]
    for phase in ("alone", "with_recordings"):
        assert lag_round[phase]["lag"]["events"] > 100
        assert lag_round[phase]["lag"]["unprocessed"] == 0
        assert lag_round[phase]["run"]["non2xx"] == 0
    assert lag_round["with_recordings"]["recordings"]["transcribed"] >= 1

    assert results["summary"] == report.summarise(results)
    logs = tmp_path / f"{saved.stem}-logs"
    for log in ("gunicorn.log", "emulator.log", "events-worker.log",
                "recordings-worker-fetch.log", "recordings-worker-lag-1.log"):  # fmt: skip
        assert (logs / log).is_file(), log
