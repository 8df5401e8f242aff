"""Where the harness's commands print and save: one console, one results folder."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import processes

ARTIFACTS = processes.ROOT / "artifacts"

# Wide enough for the tables in CI logs, where there is no terminal to measure.
console = Console(width=None if sys.stdout.isatty() else 160)


def utc_stamp(moment: datetime | None = None) -> str:
    """A results file's time stamp, e.g. 20261125T040435Z."""
    return (moment or datetime.now(tz=UTC)).strftime("%Y%m%dT%H%M%SZ")


def save_results(results: dict, *, folder: Path, name: str) -> Path:
    """Write `results` as `folder/name` in JSON, say where, and return the path."""
    path = folder / name
    path.write_text(json.dumps(results, indent=2, default=str))
    console.print(f"Results: {path}")
    return path


def measure_and_save(
    measure: Callable[[str], dict],
    *,
    command: str,
    folder: Path,
    show: Callable[[dict], None],
    failures: tuple[type[Exception], ...],
    interrupted: str,
) -> int:
    """Run `measure` (given the run's time stamp), show its results and save them as
    `folder/<command>-<stamp>.json`; the exit code: 0, 1 when it failed with one of
    `failures` (one line says why), 130 when interrupted (`interrupted` says what was
    cleaned up)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = utc_stamp()
    try:
        results = measure(stamp)
    except failures as exc:
        console.print(f"[red]{command} failed:[/] {exc}")
        return 1
    except KeyboardInterrupt:
        console.print(f"[yellow]Interrupted; {interrupted}.[/]")
        return 130
    show(results)
    save_results(results, folder=folder, name=f"{command}-{stamp}.json")
    return 0


def _ms(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def _ratio(value) -> str:
    return "-" if value is None else f"{value:.2f}x"


def print_table(results: dict) -> None:
    table = Table(title="MiniVoice benchmark (median of rounds; ratios: median of per-round)")
    for column in ("figure", "conns", "req/s", "p50 ms", "p99 ms", "non-2xx",
                   "req/s vs ref", "p99 vs ref", "spread", "wrk CPU"):  # fmt: skip
        table.add_column(column, justify="left" if column == "figure" else "right")
    for key, figure in results["summary"].items():
        endpoint, connections = key.split("@")
        table.add_row(
            endpoint,
            connections,
            f"{figure['rps']:.0f}",
            _ms(figure["p50_ms"]),
            _ms(figure["p99_ms"]),
            f"{figure['non2xx_share']:.2%}"
            + (f" +{figure['socket_errors']} socket errors" if figure["socket_errors"] else ""),
            _ratio(figure.get("rps_ratio")),
            _ratio(figure.get("p99_ratio")),
            "-" if figure["rps_spread"] is None else f"{figure['rps_spread']:.0%}",
            f"{figure['wrk_cpu_share_max']:.0%}",
        )
    work = results["processing"]
    table.add_section()
    table.add_row(
        "processing: events/s, one worker", "", _ms(work["events_per_second"]), "", "", "",
        "", "", "", "",
    )  # fmt: skip
    lag = work["lag"]
    run = work["lag_run"]
    table.add_row(
        f"receipt→processed lag at {run['rps']:.0f} req/s (target {work['target_rps']:.0f}), "
        f"{run['seconds']:.0f}s",
        str(run["connections"]),
        f"{run['rps']:.0f}",
        _ms(lag["p50_ms"]),
        _ms(lag["p99_ms"]),
        f"{run['non2xx_share']:.2%}",
        "",
        "",
        "",
        f"{run['wrk_cpu_share']:.0%}",
    )
    table.add_row(
        f"backlog grows: {'YES' if work['backlog_grows'] else 'no'} "
        f"({work['backlog_slope_per_s']:+.1f} events/s); unprocessed after the wait: "
        f"{lag['unprocessed']} (their lag so far is counted: a lower bound)",
        "", "", "", "", "", "", "", "", "",
    )  # fmt: skip
    console.print(table)


def print_profile(found: dict) -> None:
    """Share of py-spy's samples inside each suspect, per endpoint: wall (busy threads,
    waiting on PostgreSQL included) and GIL (Python's own CPU)."""
    table = Table(title="Where gunicorn's workers spend their time (share of samples)")
    table.add_column("inside", justify="left")
    names = list(found)
    for name in names:
        table.add_column(name, justify="right")
    for suspect in next(iter(found.values()))["suspects"]:
        table.add_row(suspect, *(f"{found[n]['suspects'][suspect]:.0%}" for n in names))
    table.add_row("samples", *(str(found[n]["samples"]) for n in names))
    table.add_row("req/s while sampled", *(f"{found[n]['rps_while_profiled']:.0f}" for n in names))
    console.print(table)
