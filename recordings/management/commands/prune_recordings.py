from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from calls.management import arguments
from calls.management.progress import progress_bar
from recordings.retention import (
    recordings_prunable,
    recordings_prune_audio,
    recordings_prune_transcripts,
    transcripts_prunable,
)


class Command(BaseCommand):
    help = (
        "Delete the audio of recordings made before --older-than ago from storage, and "
        "with --transcripts their transcripts too, in short batches. What MiniVoice said "
        "of each recording stays, marked pruned, with its size and SHA-256. Beat runs it "
        "daily when MINIVOICE_PRUNE_RECORDINGS_AFTER (or MINIVOICE_PRUNE_TRANSCRIPTS_AFTER) "
        "is set."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            required=True,
            help="How old a recording must be for its audio to go: such as 180d or 12h.",
        )
        parser.add_argument(
            "--transcripts",
            action="store_true",
            help="Delete those recordings' transcripts (text and segments) too; the "
            "transcript is then marked pruned.",
        )
        parser.add_argument(
            "--transcripts-only",
            action="store_true",
            help="Delete only the transcripts of those recordings, and keep their audio "
            "(transcripts have a retention of their own).",
        )
        parser.add_argument(
            "--batch-size", type=int, default=200, help="Recordings per batch (default 200)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be pruned; change nothing."
        )

    def handle(
        self,
        *args,
        older_than: str,
        transcripts: bool,
        transcripts_only: bool,
        batch_size: int,
        dry_run: bool,
        **options,
    ) -> None:
        age = arguments.span(older_than, option="--older-than")
        if not 1 <= batch_size <= 10_000:
            raise CommandError("--batch-size must be from 1 to 10000.", returncode=2)
        before = timezone.now() - age
        transcripts = transcripts or transcripts_only
        audio = 0 if transcripts_only else recordings_prunable(before=before).count()
        texts = transcripts_prunable(before=before).count() if transcripts else 0
        when = f"{before:%Y-%m-%d %H:%M} UTC"
        if dry_run:
            self.stdout.write(
                f"Would delete {_what(audio, texts, transcripts_only, transcripts)} made "
                f"before {when}. Nothing changed (--dry-run)."
            )
            return
        with progress_bar("Pruning", disable=audio + texts <= batch_size) as progress:
            task = progress.add_task("prune", total=audio + texts)

            def advance(done: int) -> None:
                progress.advance(task, done)

            if not transcripts_only:
                audio = recordings_prune_audio(
                    before=before, batch_size=batch_size, on_batch=advance
                )
            if transcripts:
                texts = recordings_prune_transcripts(
                    before=before, batch_size=batch_size, on_batch=advance
                )
        what = _what(audio, texts, transcripts_only, transcripts)
        self.stdout.write(f"Deleted {what} made before {when}.")


def _what(audio: int, texts: int, transcripts_only: bool, transcripts: bool) -> str:
    if transcripts_only:
        return f"the transcripts of {texts} recording(s)"
    said = f" and the transcripts of {texts}" if transcripts else ""
    return f"the audio of {audio} recording(s){said}"
