"""`manage.py call_timeline`: one call's story for an operator, as text or as JSON."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.timezone import get_current_timezone_name, localtime

from calls.models import Call
from calls.timeline import Entry, Timeline, build_timeline, dumps, say_offset, timeline_json

_MARKS = {"info": " ", "warning": "!", "error": "✗"}


class Command(BaseCommand):
    help = (
        "Show one call's story: its problems, a plain summary, then its recordings and in "
        "time order every answer_url exchange, webhook event, recording and change of "
        "status, each with its offset from the call's start."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("call_id", help="MiniVoice's call id, for example call_123.")
        parser.add_argument(
            "--json",
            action="store_true",
            dest="as_json",
            help="Print one JSON object (call, story, problems, recordings, entries) "
            "instead of text: the same document as the admin's export.",
        )
        parser.add_argument(
            "--max-events",
            type=int,
            default=200,
            help="Show at most this many webhook events: the first and the last ones "
            "(default 200).",
        )

    def handle(self, *args, call_id: str, as_json: bool, max_events: int, **options) -> None:
        if not call_id.isprintable():
            raise CommandError(f"{call_id!r} is not a call id: it has unprintable characters.")
        if max_events < 2:
            raise CommandError("--max-events must be at least 2 (the first and the last).")
        timeline = build_timeline(call_id=call_id, max_events=max_events)
        if timeline.call is None and not timeline.entries:
            raise CommandError(
                f"No call with MiniVoice id {call_id!r}. "
                "Check the id, or look for it in the admin under Calls."
            )
        if as_json:
            self.stdout.write(dumps(timeline_json(timeline)))
        else:
            self._print_text(timeline)

    def _print_text(self, timeline: Timeline) -> None:
        self._print_problems(timeline)
        self.stdout.write(timeline.story)
        if timeline.call is None:
            # Events are stored but none has been applied yet (pending, failed, ignored).
            heading = f"Call {timeline.call_id}: no call record yet"
            self.stdout.write(self.style.MIGRATE_HEADING(heading))
            self.stdout.write("  None of its events has been applied; their states are below.")
        else:
            self._print_call(timeline.call)
        self._print_recordings(timeline.recordings)
        self.stdout.write(self.style.MIGRATE_HEADING(f"Timeline ({get_current_timezone_name()})"))
        hidden_after = _hidden_after(timeline)
        for index, entry in enumerate(timeline.entries):
            self.stdout.write(_line(entry, timeline))
            if index == hidden_after:
                self.stdout.write(
                    f"  … {timeline.hidden_entries} more event(s) not shown "
                    "(--max-events, or --json for the document)"
                )
        if not timeline.entries:
            self.stdout.write("  (nothing yet)")

    def _print_problems(self, timeline: Timeline) -> None:
        if not timeline.problems:
            return
        self.stdout.write(self.style.ERROR(f"Problems ({len(timeline.problems)})"))
        for problem in timeline.problems:
            self.stdout.write(f"  {problem.severity.upper():7}  {problem.code}: {problem.message}")
        self.stdout.write("")

    def _print_call(self, call: Call) -> None:
        status = call.get_status_display()
        if call.final_status:
            status += f" ({call.get_final_status_display().lower()})"
        self.stdout.write(self.style.MIGRATE_HEADING(f"Call {call.minivoice_id}: {status}"))
        people = " → ".join(part for part in (call.from_number, call.to_number) if part)
        if people or call.direction:
            self.stdout.write(f"  {call.direction or 'direction unknown'}  {people}".rstrip())
        self.stdout.write(f"  Last step: {call.last_step or '(none yet)'}")
        if call.flow_position:
            self.stdout.write(f"  Flow step: {call.flow_position}")

    def _print_recordings(self, recordings: list) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING("Recordings"))
        for recording in recordings:
            details = [recording.get_status_display()]
            if recording.duration_seconds is not None:
                details.append(f"{recording.duration_seconds}s")
            if recording.status == recording.Status.FAILED and recording.failure_reason:
                details.append(f"reason: {recording.failure_reason}")
            if recording.status == recording.Status.COMPLETED:
                details.append(_audio(recording))
            self.stdout.write(f"  {recording}: {', '.join(details)}")
        if not recordings:
            self.stdout.write("  (none)")


def _audio(recording) -> str:
    """The audio as support reads it (the port's audio fields)."""
    if recording.audio_state == "stored":
        return f"audio stored ({recording.audio_size_bytes} bytes, sha256 {recording.audio_sha256})"
    if recording.audio_state == "unavailable":
        return f"audio unavailable: {recording.audio_error}"
    return f"audio {recording.audio_state}"


def _line(entry: Entry, timeline: Timeline) -> str:
    when = f"{localtime(entry.at):%Y-%m-%d %H:%M:%S %Z}"
    offset = say_offset(entry.at, timeline.origin)
    line = f"{_MARKS[entry.severity]} {offset:>10}  {when}  {entry.kind:<10}  {entry.title}"
    if entry.event is not None:
        line += f"  [{entry.event.state}]  webhook-id {entry.event.webhook_id}"
    elif entry.exchange is not None:
        line += f"  ({entry.exchange.method} → {entry.exchange.response_status})"
    return f"{line}\n{' ' * 14}{entry.summary}"


def _hidden_after(timeline: Timeline) -> int | None:
    """The index of the last entry before the events left out, if any were."""
    if not timeline.hidden_entries:
        return None
    events = [index for index, entry in enumerate(timeline.entries) if entry.event is not None]
    return events[len(events) - len(events) // 2 - 1] if events else None
