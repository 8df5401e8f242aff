from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from calls.management import arguments
from calls.management.progress import progress_bar
from recordings.retention import recordings_prunable, recordings_prune_audio


class Command(BaseCommand):
    help = (
        "Delete the audio of recordings made before --older-than ago from storage, in "
        "short batches. What MiniVoice said of each recording stays, marked pruned, with "
        "its size and SHA-256."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            required=True,
            help="How old a recording must be for its audio to go: such as 180d or 12h.",
        )
        parser.add_argument(
            "--batch-size", type=int, default=200, help="Recordings per batch (default 200)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be pruned; change nothing."
        )

    def handle(self, *args, older_than: str, batch_size: int, dry_run: bool, **options) -> None:
        age = arguments.span(older_than, option="--older-than")
        if not 1 <= batch_size <= 10_000:
            raise CommandError("--batch-size must be from 1 to 10000.", returncode=2)
        before = timezone.now() - age
        count = recordings_prunable(before=before).count()
        when = f"{before:%Y-%m-%d %H:%M} UTC"
        if dry_run:
            self.stdout.write(
                f"Would delete the audio of {count} recording(s) made before {when}. "
                "Nothing changed (--dry-run)."
            )
            return
        with progress_bar("Pruning audio", disable=count <= batch_size) as progress:
            task = progress.add_task("prune", total=count)
            pruned = recordings_prune_audio(
                before=before,
                batch_size=batch_size,
                on_batch=lambda done: progress.advance(task, done),
            )
        self.stdout.write(f"Deleted the audio of {pruned} recording(s) made before {when}.")
