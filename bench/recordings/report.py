"""The figures from what the phases measured, against issue 17's targets, and the table.

Nothing here is asserted: a missed target is printed as missed, and the run still exits 0.
"""

from __future__ import annotations

import statistics

from rich.table import Table

from bench import stats
from bench.output import console
from bench.recordings.memory import kb_to_mb

MEMORY_GROWTH_MB = 20  # the worker's resident memory may grow by less than this
WER_TARGET = 0.10  # at most, on the shipped flows' prompts
LAG_RATIO_TARGET = 1.2  # lag p99 with recordings work ÷ alone: "unchanged"
# Phases whose intake rates are further apart than this compare lags at different loads.
RATES_APART = 0.15


def summarise(results: dict) -> dict:
    """The headline figures and whether each target was met."""
    memory = results["fetch"]["memory"]
    growth_mb = kb_to_mb(memory["growth_kb"])
    transcription = results["transcription"]
    rounds = results["lag"]["rounds"]
    alone = [r["alone"]["lag"]["p99_ms"] for r in rounds]
    beside = [r["with_recordings"]["lag"]["p99_ms"] for r in rounds]
    complete = all(v is not None for v in alone + beside)
    ratio = stats.median_ratio(beside, alone) if complete else None
    wer = transcription["wer"]
    return {
        "memory_growth_mb": round(growth_mb, 2),
        "memory_target_met": growth_mb < MEMORY_GROWTH_MB,
        "download_mb_per_second": results["download"]["median_mb_per_second"],
        "fetch_mb_per_second": results["fetch"]["fetch"]["mb_per_second"],
        "fetch_intact": results["fetch"]["fetch"]["size_matches"]
        and results["fetch"]["fetch"]["sha256_matches"],
        "rtf_cpu": transcription["rtf_cpu"],
        "rtf_wall": transcription["rtf_wall"],
        "wer": wer,
        "wer_target_met": wer is not None and wer <= WER_TARGET,
        "lag_p99_alone_ms": statistics.median(alone) if complete else None,
        "lag_p99_with_recordings_ms": statistics.median(beside) if complete else None,
        "lag_p99_ratios": stats.ratios(beside, alone) if complete else [],
        "lag_p99_ratio": ratio,
        "lag_target_met": ratio is not None and ratio <= LAG_RATIO_TARGET,
        "recordings_busy_throughout": all(
            r["with_recordings"]["recordings"]["busy_throughout"] for r in rounds
        ),
        "lag_rates_rps": [
            r[phase]["run"]["rps"] for r in rounds for phase in ("alone", "with_recordings")
        ],
        "recordings_worker_cores": _median_of(
            [r["with_recordings"].get("cores", {}).get("recordings worker") for r in rounds]
        ),
    }


def _median_of(values: list) -> float | None:
    found = [v for v in values if v is not None]
    return statistics.median(found) if found else None


def verdict(met: bool) -> str:
    return "[green]met[/]" if met else "[red]missed[/]"


def _ms(value) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def rows(results: dict) -> list[tuple[str, str, str, str]]:
    """(figure, measured, target, verdict) for each line of the table."""
    summary = results["summary"]
    fetch = results["fetch"]
    memory = fetch["memory"]
    long = fetch["fetch"]
    transcription = results["transcription"]
    lag = results["lag"]
    rounds = lag["rounds"]
    rates = summary["lag_rates_rps"]
    apart = max(rates) / min(rates) - 1 if min(rates) > 0 else None
    work = [r["with_recordings"]["recordings"] for r in rounds]
    wer = summary["wer"]
    return [
        (
            f"fetch of a {long['duration_seconds'] / 3600:g}-hour recording "
            f"({long['size_bytes'] / 1e6:.1f} MB): the recordings worker's memory growth",
            f"{summary['memory_growth_mb']:.1f} MB ({kb_to_mb(memory['baseline_kb']):.0f} → "
            f"{kb_to_mb(memory['peak_kb']):.0f} MB)",
            f"< {MEMORY_GROWTH_MB} MB",
            verdict(summary["memory_target_met"]),
        ),
        (
            "download from the emulator on loopback (plain HTTP GET, median of "
            f"{len(results['download']['mb_per_second'])})",
            f"{summary['download_mb_per_second']:.0f} MB/s",
            "",
            "",
        ),
        (
            "fetch into storage by the worker (metadata, download, SHA-256, save)",
            f"{summary['fetch_mb_per_second'] or 0:.0f} MB/s ({long['seconds']:.1f} s)",
            "size and SHA-256 match",
            verdict(summary["fetch_intact"]),
        ),
        (
            f"transcription, default model (tiny.en), {transcription['audio_seconds']} s of "
            "speech: real-time factor per core (CPU s ÷ audio s; wall)",
            f"{summary['rtf_cpu']:.3f} (wall {summary['rtf_wall']:.3f})",
            "",
            "",
        ),
        (
            f"word error rate on the shipped flows' prompts ({transcription['words_said']} "
            "words said)",
            "-"
            if wer is None
            else f"{wer:.1%} ({transcription['substitutions']} sub, "
            f"{transcription['deletions']} del, {transcription['insertions']} ins)",
            f"≤ {WER_TARGET:.0%}",
            verdict(summary["wer_target_met"]),
        ),
        (
            f"receipt→processed lag p99, events worker alone (median of {len(rounds)})",
            _ms(summary["lag_p99_alone_ms"]),
            "",
            "",
        ),
        (
            "… while a recordings worker fetches and transcribes "
            f"({sum(w['fetched'] for w in work)} fetched, "
            f"{sum(w['transcribed'] for w in work)} transcribed"
            + (
                ""
                if summary["recordings_worker_cores"] is None
                else f", {summary['recordings_worker_cores']:.2f} cores"
            )
            + ("" if summary["recordings_busy_throughout"] else "; it ran out of work")
            + ")",
            _ms(summary["lag_p99_with_recordings_ms"]),
            "",
            "",
        ),
        (
            f"lag p99 ratio, with ÷ alone (median per round), intake at "
            f"{min(rates):.0f} to {max(rates):.0f} req/s"
            + (
                f" (rates {apart:.0%} apart: compare with care)"
                if apart is None or apart > RATES_APART
                else ""
            ),
            "-" if summary["lag_p99_ratio"] is None else f"{summary['lag_p99_ratio']:.2f}x",
            f"≤ {LAG_RATIO_TARGET}x (unchanged)",
            verdict(summary["lag_target_met"]),
        ),
    ]


def print_table(results: dict) -> None:
    table = Table(title="Recordings benchmark (issue 17): memory, throughput, transcripts, lag")
    for column in ("figure", "measured", "target", ""):
        table.add_column(column, justify="left" if column in ("figure", "target") else "right")
    for row in rows(results):
        table.add_row(*row)
    console.print(table)
    transcription = results["transcription"]
    if transcription["edits"]:
        said = "; ".join(f"{a or '∅'} → {b or '∅'}" for a, b in transcription["edits"][:12])
        console.print(f"Words heard wrong (said → heard): {said}")
    machine = results.get("machine")
    if machine:
        start, end = machine["load_average_at_start"][0], machine["load_average_at_end"][0]
        console.print(
            f"Machine: {machine['cpus']} CPUs, load average {start:.1f} at the start and "
            f"{end:.1f} at the end (other work on it makes every figure noisier)."
        )
