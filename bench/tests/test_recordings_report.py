"""The recordings benchmark's figures against issue 17's targets, and its table."""

from __future__ import annotations

import pytest

from bench.output import console
from bench.recordings import report


def _phase(p99: float | None, rps: float = 200, **recordings) -> dict:
    phase = {"run": {"rps": rps}, "lag": {"p99_ms": p99}, "cores": {"events worker": 0.3}}
    if recordings:
        phase["recordings"] = {"busy_throughout": True, "fetched": 3, "transcribed": 2}
        phase["recordings"] |= recordings
        phase["cores"]["recordings worker"] = 0.9
    return phase


def _results(*, growth_kb=2048, wer=0.05, lag=((100, 110),), busy=True) -> dict:
    return {
        "fetch": {
            "memory": {
                "baseline_kb": 80_000, "peak_kb": 80_000 + growth_kb, "growth_kb": growth_kb,
            },
            "fetch": {
                "duration_seconds": 3600, "size_bytes": 57_600_044, "size_matches": True,
                "sha256_matches": True, "seconds": 0.5, "mb_per_second": 115.2,
            },
        },
        "download": {"median_mb_per_second": 900.0, "mb_per_second": [850.0, 900.0, 950.0]},
        "transcription": {
            "audio_seconds": 90, "rtf_cpu": 0.04, "rtf_wall": 0.06, "wer": wer,
            "words_said": 176, "substitutions": 4, "deletions": 5, "insertions": 0,
            "edits": [("press", ""), ("one", "pref1")],
        },
        "lag": {
            "rounds": [
                {"alone": _phase(alone), "with_recordings": _phase(beside, busy_throughout=busy)}
                for alone, beside in lag
            ]
        },
    }  # fmt: skip


def test_each_target_is_met_when_its_figure_is_within_it():
    summary = report.summarise(_results(growth_kb=2048, wer=0.05, lag=((100, 110),)))

    assert summary["memory_growth_mb"] == pytest.approx(2.1, abs=0.01)
    assert summary["memory_target_met"] is True
    assert summary["wer_target_met"] is True
    assert summary["lag_p99_ratio"] == pytest.approx(1.1)
    assert summary["lag_target_met"] is True
    assert summary["fetch_intact"] is True


def test_each_target_is_missed_when_its_figure_passes_it():
    summary = report.summarise(_results(growth_kb=20_000, wer=0.114, lag=((100, 130),)))

    assert summary["memory_growth_mb"] == pytest.approx(20.48)
    assert summary["memory_target_met"] is False
    assert summary["wer_target_met"] is False
    assert summary["lag_target_met"] is False


def test_the_ratio_is_the_median_of_each_rounds_ratio_not_of_the_medians():
    summary = report.summarise(_results(lag=((100, 300), (200, 220), (400, 360))))

    assert summary["lag_p99_ratios"] == pytest.approx([3.0, 1.1, 0.9])
    assert summary["lag_p99_ratio"] == pytest.approx(1.1)
    assert summary["lag_p99_alone_ms"] == 200
    assert summary["lag_p99_with_recordings_ms"] == 300


def test_rates_too_far_apart_are_said_beside_the_ratio():
    results = _results(lag=((100, 110),))
    results["lag"]["rounds"][0]["with_recordings"]["run"]["rps"] = 300
    results["summary"] = report.summarise(results)

    [ratio_row] = [row for row in report.rows(results) if row[0].startswith("lag p99 ratio")]

    assert "intake at 200 to 300 req/s (rates 50% apart: compare with care)" in ratio_row[0]
    assert "apart" not in report.rows(_with_summary(_results()))[-1][0]


def _with_summary(results: dict) -> dict:
    return results | {"summary": report.summarise(results)}


def test_a_phase_without_events_gives_no_ratio_and_misses_the_target():
    summary = report.summarise(_results(lag=((None, 110),)))

    assert summary["lag_p99_ratio"] is None
    assert summary["lag_target_met"] is False


def test_a_transcript_of_nothing_said_has_no_rate_and_misses_the_target():
    summary = report.summarise(_results(wer=None))

    assert summary["wer"] is None
    assert summary["wer_target_met"] is False


def test_the_table_shows_every_figure_its_target_and_whether_it_was_met():
    results = _results(wer=0.114, busy=False)
    results["summary"] = report.summarise(results)

    rows = report.rows(results)
    text = "\n".join(" | ".join(row) for row in rows)

    for shown in (
        "memory growth", "2.1 MB", "< 20 MB", "900 MB/s", "115 MB/s", "0.040 (wall 0.060)",
        "11.4%", "≤ 10%", "100 ms", "110 ms", "1.10x", "≤ 1.2x", "0.90 cores",
        "it ran out of work",
    ):  # fmt: skip
        assert shown in text, shown
    verdicts = [row[3] for row in rows if row[3]]
    assert verdicts == ["[green]met[/]", "[green]met[/]", "[red]missed[/]", "[green]met[/]"]


def test_the_printed_table_lists_the_words_heard_wrong():
    results = _results()
    results["summary"] = report.summarise(results)
    results["machine"] = {
        "cpus": 2, "load_average_at_start": [4.56, 3, 2], "load_average_at_end": [1.2, 2, 2]
    }  # fmt: skip

    with console.capture() as captured:
        report.print_table(results)

    assert "Recordings benchmark" in captured.get()
    assert "said → heard): press → ∅; one → pref1" in captured.get()
    assert "2 CPUs, load average 4.6 at the start and 1.2 at the end" in captured.get()
