from __future__ import annotations

from collections import Counter

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from calls.management import arguments
from calls.management.progress import progress_bar
from recordings.fetching import (
    fetch_lease,
    recording_fetch_audio,
    recordings_fetch_again,
    recordings_for_fetch,
)
from recordings.models import AudioState, Recording
from recordings.work import audio_fetch_send


class Command(BaseCommand):
    help = (
        "Fetch completed recordings' audio from MiniVoice's API into storage again: those "
        "whose audio is pending or unavailable (stored and pruned audio is left alone). "
        "Each gets one try here; one that may succeed later is handed to the workers, who "
        "retry it with back-off. Choose with --id, --call, --state and --since (several "
        "narrow together); with none, every such recording up to --limit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--id",
            action="append",
            default=[],
            dest="ids",
            metavar="RECORDING_ID",
            help="A MiniVoice recording id; repeat for several.",
        )
        parser.add_argument("--call", default="", help="The recordings of this MiniVoice call id.")
        parser.add_argument(
            "--state",
            action="append",
            default=[],
            choices=[AudioState.PENDING, AudioState.UNAVAILABLE],
            help="Only recordings whose audio is in this state; repeat for several.",
        )
        parser.add_argument(
            "--since",
            help="Only recordings made since then: a date, a date-time or a span back from "
            "now such as 2h or 3d.",
        )
        parser.add_argument(
            "--limit", type=int, default=1000, help="At most this many (default 1000)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be fetched; change nothing."
        )

    def handle(self, *args, ids, call, state, since, limit, dry_run, **options) -> None:
        if not 1 <= limit <= 1_000_000:
            raise CommandError("--limit must be from 1 to 1000000.", returncode=2)
        ids = [value.strip() for value in ids]
        if any(not value for value in ids):
            raise CommandError("--id takes a MiniVoice recording id.", returncode=2)
        if unknown := sorted(
            set(ids)
            - set(
                Recording.objects.filter(minivoice_id__in=ids).values_list(
                    "minivoice_id", flat=True
                )
            )
        ):
            raise CommandError(
                f"No recording with id {', '.join(unknown)}; nothing fetched.", returncode=2
            )
        chosen = recordings_for_fetch(
            recording_ids=ids,
            call_id=call.strip(),
            states=state,
            since=arguments.moment(since, option="--since") if since else None,
        )[:limit]
        pks = list(chosen.values_list("pk", flat=True))
        if dry_run:
            self.stdout.write(
                f"Would fetch the audio of {len(pks)} recording(s). Nothing changed (--dry-run)."
            )
            return
        if not pks:
            self.stdout.write("Nothing to fetch: no chosen recording's audio is missing.")
            return
        pks = recordings_fetch_again(recordings=Recording.objects.filter(pk__in=pks))
        with progress_bar("Fetching", disable=len(pks) < 2) as progress:
            task = progress.add_task("fetch", total=len(pks))
            for pk in pks:
                if recording_fetch_audio(recording_pk=pk).retryable:
                    audio_fetch_send([pk])  # the workers own the retries and their back-off
                progress.advance(task)
        self._report(pks)

    def _report(self, pks: list[int]) -> None:
        rows = Recording.objects.filter(pk__in=pks).order_by("pk")
        states = Counter(rows.values_list("audio_state", flat=True))
        said = {
            AudioState.STORED: "stored",
            AudioState.UNAVAILABLE: "audio unavailable",
            AudioState.PENDING: "still pending (the workers retry them)",
        }
        summary = ", ".join(
            f"{count} {said.get(state, state)}" for state, count in sorted(states.items())
        )
        self.stdout.write(f"Fetched {len(pks)} recording(s): {summary}.")
        for recording in rows.exclude(audio_state=AudioState.STORED)[:20]:
            self.stdout.write(f"  {recording.minivoice_id}: {self._why(recording)}")

    @staticmethod
    def _why(recording: Recording) -> str:
        held = recording.audio_fetching_since
        if recording.audio_state == AudioState.PENDING and held is not None:
            until = timezone.localtime(held + fetch_lease())
            # A worker's claim (or a dead worker's, until it runs out) on the download.
            return (
                f"another worker has been fetching it since {timezone.localtime(held):%H:%M:%S}; "
                f"it can be tried again from {until:%H:%M:%S}."
            )
        return recording.audio_error
