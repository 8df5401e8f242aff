"""What `simulate_call` prints: verdict and summary tables (rich), or one JSON document."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from minivoice_emulator.session import Session
from minivoice_emulator.verdict import Verdict


def _render(renderable) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None, soft_wrap=False)
    console.print(renderable)
    return console.file.getvalue()


def verdict_text(verdict: Verdict) -> str:
    table = Table(title=f"Verdict for {verdict.call_id} ({verdict.scenario})", title_justify="left")
    for column in ("", "expectation", "expected", "recorded"):
        table.add_column(column, overflow="fold")
    for expectation in verdict.expectations:
        mark = "ok" if expectation.ok else "DIFFERS"
        recorded = "(same)" if expectation.ok else expectation.recorded
        table.add_row(mark, expectation.what, expectation.expected, recorded)
    outcome = "every expectation matches" if verdict.ok else f"{len(verdict.mismatches)} differ"
    return _render(table) + f"Verdict: {outcome}.\n"


def summary_text(session: Session) -> str:
    summary = session.summary()
    table = Table(title="Summary", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in (
        "calls",
        "webhooks",
        "deliveries_sent",
        "lost_deliveries",
        "answer_url_requests",
        "verdicts_failed",
    ):
        table.add_row(key.replace("_", " "), str(summary[key]))
    for kind in ("answer_url_ms", "webhook_ms"):
        figures = summary[kind]
        shown = " / ".join("-" if figures[p] is None else f"{figures[p]:.1f}" for p in figures)
        table.add_row(f"{kind[:-3].replace('_', ' ')} latency p50/p95/p99 ms", shown)
    text = _render(table)
    failed = [r.verdict for r in session.results if r.verdict is not None and not r.verdict.ok]
    for verdict in failed[:10]:
        text += f"{verdict.call_id} ({verdict.scenario}):\n"
        for expectation in verdict.mismatches:
            text += (
                f"  {expectation.what}: expected {expectation.expected}; "
                f"recorded {expectation.recorded}\n"
            )
    if len(failed) > 10:
        text += f"…and {len(failed) - 10} more calls whose verdict differs.\n"
    return text


def session_json(session: Session) -> dict:
    return {
        "calls": [
            result.verdict.as_json()
            if result.verdict is not None
            else {
                "call_id": result.played.call_id,
                "scenario": result.played.scenario,
                "verdict": "not judged",
                "mismatches": [],
            }
            for result in session.results
        ],
        "summary": session.summary(),
    }
