"""Where the harness's commands print and save: one console, one results folder."""

from __future__ import annotations

import json
import sys
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
