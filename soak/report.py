"""What the soak prints: a progress line while it runs, one table at the end."""

from __future__ import annotations

from rich.table import Table

from bench.output import console


def progress_line(
    *, elapsed: float, started: int, calls: int, backlog: tuple[int, int] | None, faults: list
) -> None:
    done = ", ".join(f.name for f in faults if f.done_at is not None) or "none yet"
    waiting = (
        "database away"
        if backlog is None
        else f"{backlog[0]} events and {backlog[1]} recordings' audio to do"
    )
    console.print(
        f"  {elapsed:6.0f}s  calls started {started}/{calls}  ·  {waiting}  ·  faults: {done}",
        highlight=False,
    )


def print_table(results: dict) -> None:
    found = results["findings"]
    calls = results["calls"]
    table = Table(title="Soak with faults", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("calls played", str(calls["played"]))
    table.add_row("verdicts that hold", f"{calls['played'] - calls['verdicts_failed']}")
    table.add_row("verdicts that differ", str(calls["verdicts_failed"]))
    table.add_row("webhook deliveries (distinct)", str(found["webhooks_sent"]))
    table.add_row("deliveries sent, retries and copies included", str(calls["deliveries_sent"]))
    table.add_row("retries and copies", str(calls["deliveries_sent"] - found["webhooks_sent"]))
    table.add_row("answer_url requests", str(calls["answer_url_requests"]))
    table.add_row("events stored / not processed", f"{found['events_stored']} / "
                  f"{found['stored_not_processed']}")  # fmt: skip
    table.add_row(
        "recordings completed / audio stored, SHA-256 matching",
        f"{found['recordings_completed']} / "
        f"{found['audio_stored'] - len(found['audio_mismatched'])}",
    )
    faults = results["faults"]
    injected = [f for f in faults if not f["error"] and f["seconds"] is not None]
    table.add_row(
        "faults injected",
        f"{len(injected)} of {len(faults)}: "
        + "; ".join(f"{f['name']} ({f['seconds']:.1f}s)" for f in injected),
    )
    table.add_row("lost", str(found["lost"]))
    table.add_row("duplicated effects", str(found["duplicated"]))
    drain = results["drain_seconds_after_last_fault"]
    table.add_row("time to drain after the last fault", "-" if drain is None else f"{drain:.1f}s")
    table.add_row("whole run", f"{results['seconds']:.0f}s")
    console.print(table)
    for fault in faults:
        if fault["error"]:
            console.print(f"[red]Fault not injected:[/] {fault['name']}: {fault['error']}")
    for what, count in found["duplicates"].items():
        if count:
            console.print(f"[red]Duplicated:[/] {count} {what}")
    if found["audio_files"] > found["audio_stored"]:
        console.print(
            f"[red]Duplicated:[/] {found['audio_files']} audio files for "
            f"{found['audio_stored']} stored recordings"
        )
    for what in ("never_acknowledged", "acknowledged_not_stored", "stored_not_processed"):
        if found[what]:
            console.print(f"[red]Lost:[/] {found[what]} {what.replace('_', ' ')}")
    if found["recordings_completed"] > found["audio_stored"]:
        console.print(
            f"[red]Lost:[/] {found['recordings_completed'] - found['audio_stored']} completed "
            "recordings without stored audio"
        )
    if found["audio_mismatched"]:
        shown = ", ".join(found["audio_mismatched"][:10])
        console.print(f"[red]Audio differs from what was served:[/] {shown}")
    for line in calls["mismatches"][:10]:
        console.print(f"[red]Verdict differs:[/] {line}", highlight=False)
    verdict = "[green]PASSED[/]" if results["passed"] else "[red]FAILED[/]"
    console.print(f"Soak {verdict}: {results['summary']}")
