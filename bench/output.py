"""Where the harness's commands print and save: one console, one results folder."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

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
