from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser

from calls.management.progress import progress_bar
from calls.operations import events_requeue_stuck
from calls.problems.sweep import calls_check_overdue
from calls.processing.handover import events_due_for_requeue


class Command(BaseCommand):
    help = (
        "Hand to a worker again the webhook events stuck pending for more than "
        "--older-than minutes (their task was lost) and failed events whose retry is due: "
        "what beat's sweep does every minute, on demand. Then re-run the problem checks "
        "that need time to pass (a recording that never completed, a call stuck), asking "
        "MiniVoice's API first what its webhooks did not say, as the sweep does."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=2,
            metavar="MINUTES",
            help="Pending for longer than this many minutes counts as stuck (default 2).",
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=10_000,
            help="At most this many events handed over in one run (default 10000).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what would be handed over; change nothing.",
        )

    def handle(self, *args, older_than: int, limit: int, dry_run: bool, **options) -> None:
        if not 1 <= older_than <= 525_600:
            raise CommandError("--older-than must be from 1 to 525600 minutes.", returncode=2)
        if not 1 <= limit <= 1_000_000:
            raise CommandError("--limit must be from 1 to 1000000.", returncode=2)
        pending_for = timedelta(minutes=older_than)
        due = min(events_due_for_requeue(pending_for=pending_for).count(), limit)
        if dry_run:
            self.stdout.write(
                f"Would hand {due} stuck or due event(s) to a worker, then check overdue "
                "calls for problems. Nothing changed (--dry-run)."
            )
            return
        with progress_bar("Handing over", disable=due < 200) as progress:
            task = progress.add_task("requeue", total=due)
            sent = events_requeue_stuck(
                pending_for=pending_for,
                limit=limit,
                on_batch=lambda count: progress.advance(task, count),
            )
        checked = calls_check_overdue(limit=limit)
        self.stdout.write(
            f"Handed {sent} stuck or due event(s) to a worker; "
            f"checked {checked} call(s) again for problems that need time to show."
        )
