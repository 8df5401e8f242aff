from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from audit.retention import audit_prunable, audit_prune


class Command(BaseCommand):
    help = (
        "Delete audit entries older than MINIVOICE_AUDIT_RETENTION (default 400 days), in "
        "short batches, and leave an entry saying so. Never a younger entry: the retention "
        "is the setting's, and on PostgreSQL the database refuses any other delete. Beat "
        "runs it nightly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=1000, help="Entries per transaction (default 1000)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; change nothing."
        )

    def handle(self, *args, batch_size: int, dry_run: bool, **options) -> None:
        if not 1 <= batch_size <= 10_000:
            raise CommandError("--batch-size must be from 1 to 10000.", returncode=2)
        retention = settings.MINIVOICE_AUDIT_RETENTION
        chosen, before = audit_prunable(retention=retention)
        count = chosen.count()
        when = f"{before:%Y-%m-%d %H:%M} UTC"
        if dry_run:
            self.stdout.write(
                f"Would delete {count} audit entr{'y' if count == 1 else 'ies'} older than "
                f"{when} (retention {retention.days} days). Nothing changed (--dry-run)."
            )
            return
        with _progress(disable=count <= batch_size) as progress:
            task = progress.add_task("prune", total=count)
            pruned = audit_prune(
                retention=retention,
                batch_size=batch_size,
                on_batch=lambda done: progress.advance(task, done),
            )
        self.stdout.write(
            f"Deleted {pruned.deleted} audit entr{'y' if pruned.deleted == 1 else 'ies'} "
            f"older than {when}."
        )


def _progress(*, disable: bool) -> Progress:
    """The operators' progress bar (calls.management.progress), on stderr; its own copy,
    since the audit app imports nothing of calls."""
    return Progress(
        TextColumn("Pruning"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=disable,
    )
