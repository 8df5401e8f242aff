from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from calls.management import arguments
from calls.management.progress import progress_bar
from calls.operations import logs_prune, prunable_events, prunable_exchanges


class Command(BaseCommand):
    help = (
        "Delete webhook events and answer_url exchanges received before --older-than ago, "
        "in short batches that never hold long locks. Calls, recordings and their problems "
        "keep their summaries; events still pending or failed are kept whatever their age. "
        "Beat runs it nightly with MINIVOICE_PRUNE_EVENTS_AFTER and "
        "MINIVOICE_PRUNE_EXCHANGES_AFTER."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            required=True,
            help="How old a log row must be to go: a length of time such as 90d or 12h.",
        )
        parser.add_argument(
            "--only",
            choices=["events", "exchanges"],
            help="Prune only the webhook events, or only the answer_url exchanges "
            "(each log has its own retention setting).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=1000,
            help="Rows deleted per transaction (default 1000).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; change nothing."
        )

    def handle(
        self, *args, older_than: str, only: str | None, batch_size: int, dry_run: bool, **options
    ) -> None:
        age = arguments.span(older_than, option="--older-than")
        if not 1 <= batch_size <= 10_000:
            raise CommandError("--batch-size must be from 1 to 10000.", returncode=2)
        before = timezone.now() - age
        events_before = before if only in (None, "events") else None
        exchanges_before = before if only in (None, "exchanges") else None
        events = prunable_events(before=before).count() if events_before else 0
        exchanges = prunable_exchanges(before=before).count() if exchanges_before else 0
        if dry_run:
            self.stdout.write(
                f"Would delete {events} webhook event(s) and {exchanges} answer_url "
                f"exchange(s) received before {before:%Y-%m-%d %H:%M} UTC. "
                "Nothing changed (--dry-run)."
            )
            return
        total = events + exchanges
        with progress_bar("Pruning", disable=total <= batch_size) as progress:
            task = progress.add_task("prune", total=total)
            pruned = logs_prune(
                events_before=events_before,
                exchanges_before=exchanges_before,
                batch_size=batch_size,
                on_batch=lambda count: progress.advance(task, count),
            )
        self.stdout.write(
            f"Deleted {pruned.events} webhook event(s) and {pruned.exchanges} answer_url "
            f"exchange(s) received before {before:%Y-%m-%d %H:%M} UTC."
        )
