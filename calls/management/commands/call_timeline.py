from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.timezone import get_current_timezone_name, localtime

from calls.models import Call
from calls.selectors import TimelineEntry, call_timeline
from recordings.models import Recording


class Command(BaseCommand):
    help = (
        "Show one call's story: the call, its recordings, and in time order every "
        "answer_url exchange and webhook event MiniVoice sent about it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("call_id", help="MiniVoice's call id, for example call_123.")
        parser.add_argument(
            "--json",
            action="store_true",
            dest="as_json",
            help="Print one JSON object (call, recordings, entries) instead of text.",
        )

    def handle(self, *args, call_id: str, as_json: bool, **options) -> None:
        if not call_id.isprintable():
            raise CommandError(f"{call_id!r} is not a call id: it has unprintable characters.")
        call = Call.objects.filter(minivoice_id=call_id).first()
        entries = call_timeline(call_id=call_id)
        if call is None and not entries:
            raise CommandError(
                f"No call with MiniVoice id {call_id!r}. "
                "Check the id, or look for it in the admin under Calls."
            )
        recordings = list(call.recordings.order_by("created_at")) if call else []
        if as_json:
            self.stdout.write(_dumps(_as_json(call_id, call, recordings, entries)))
        else:
            self._print_text(call_id, call, recordings, entries)

    def _print_text(
        self, call_id: str, call: Call | None, recordings: list, entries: list[TimelineEntry]
    ) -> None:
        if call is None:
            # Events are stored but none has been applied yet (pending, failed, ignored).
            self.stdout.write(self.style.MIGRATE_HEADING(f"Call {call_id}: no call record yet"))
            self.stdout.write("  None of its events has been applied; their states are below.")
        else:
            self._print_call(call)
        self._print_recordings(recordings)
        self.stdout.write(self.style.MIGRATE_HEADING(f"Timeline ({get_current_timezone_name()})"))
        for entry in entries:
            self.stdout.write(f"  {localtime(entry.at):%Y-%m-%d %H:%M:%S}  {_describe(entry)}")
        if not entries:
            self.stdout.write("  (nothing yet)")

    def _print_call(self, call: Call) -> None:
        status = call.get_status_display()
        if call.final_status:
            status += f" ({call.get_final_status_display().lower()})"
        self.stdout.write(self.style.MIGRATE_HEADING(f"Call {call.minivoice_id}: {status}"))
        people = " → ".join(part for part in (call.from_number, call.to_number) if part)
        if people or call.direction:
            self.stdout.write(f"  {call.direction or 'direction unknown'}  {people}".rstrip())
        self.stdout.write(f"  Last step: {call.last_step or '(none yet)'}")

    def _print_recordings(self, recordings: list) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING("Recordings"))
        for recording in recordings:
            details = [recording.get_status_display()]
            if recording.duration_seconds is not None:
                details.append(f"{recording.duration_seconds}s")
            if recording.status == recording.Status.FAILED and recording.failure_reason:
                details.append(f"reason: {recording.failure_reason}")
            self.stdout.write(f"  {recording}: {', '.join(details)}")
        if not recordings:
            self.stdout.write("  (none)")


def _describe(entry: TimelineEntry) -> str:
    if entry.exchange is not None:
        exchange = entry.exchange
        line = f"answer_url  {exchange.method} → {exchange.response_status}"
        if exchange.flow:
            line += f"  flow {exchange.flow!r}"
        line += f"  ({exchange.duration_ms:.1f} ms)"
        return line + ("  ERROR while building the answer" if exchange.error else "")
    event = entry.event
    line = f"webhook     {event.event_type or '(no event type)'}  [{event.state}]"
    line += f"  webhook-id {event.webhook_id}"
    return line + (f"  error: {event.error.splitlines()[-1]}" if event.error else "")


def _as_json(
    call_id: str, call: Call | None, recordings: list, entries: list[TimelineEntry]
) -> dict:
    return {
        "call": _call_json(call) if call else _unrecorded_call_json(call_id),
        "recordings": [_recording_json(recording) for recording in recordings],
        "entries": [_entry_json(entry) for entry in entries],
    }


def _call_json(call: Call) -> dict:
    return {
        "id": call.minivoice_id,
        "recorded": True,
        "status": call.status,
        "final_status": call.final_status or None,
        "direction": call.direction,
        "from": call.from_number,
        "to": call.to_number,
        "last_step": call.last_step,
        "started_at": call.started_at,
        "answered_at": call.answered_at,
        "ended_at": call.ended_at,
        "duration_seconds": call.duration_seconds,
    }


def _unrecorded_call_json(call_id: str) -> dict:
    """A call known only from stored events, none of them applied yet."""
    return {"id": call_id, "recorded": False, "status": None, "last_step": None}


def _recording_json(recording: Recording) -> dict:
    return {
        "recording_id": recording.minivoice_id,
        "status": recording.status,
        "started_at": recording.started_at,
        "completed_at": recording.completed_at,
        "failed_at": recording.failed_at,
        "duration_seconds": recording.duration_seconds,
        "url": recording.url,
        "format": recording.format,
        "size_bytes": recording.size_bytes,
        "failure_reason": recording.failure_reason,
    }


def _entry_json(entry: TimelineEntry) -> dict:
    if entry.exchange is not None:
        exchange = entry.exchange
        return {
            "kind": entry.kind,
            "at": entry.at,
            "method": exchange.method,
            "response_status": exchange.response_status,
            "flow": exchange.flow,
            "response": json.loads(exchange.response_body),
            "duration_ms": exchange.duration_ms,
            "error": exchange.error,
        }
    event = entry.event
    return {
        "kind": entry.kind,
        "at": entry.at,
        "event": event.event_type,
        "webhook_id": event.webhook_id,
        "state": event.state,
        "received_at": event.received_at,
        "error": event.error,
    }


def _dumps(value: dict) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, indent=2)
