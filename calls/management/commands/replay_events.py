from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from calls.management import arguments
from calls.management.progress import progress_bar
from calls.models import WebhookEvent
from calls.operations import events_chosen, unknown_event_ids
from calls.processing.handover import events_replay

BATCH = 200


class Command(BaseCommand):
    help = (
        "Process chosen webhook events again, through the same task as a fresh delivery "
        "(pending, failed and given-up ones; done ones are left alone, so running it twice "
        "changes nothing more). Prints what changed. Choose with --id, --call, --state "
        "and --since; several choices narrow together."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--id",
            type=int,
            action="append",
            default=[],
            dest="ids",
            help="A webhook event's id (as in the admin); repeat for several.",
        )
        parser.add_argument("--call", default="", help="Every event of this MiniVoice call id.")
        parser.add_argument(
            "--state",
            action="append",
            default=[],
            choices=sorted(WebhookEvent.REPLAYABLE_STATES),
            help="Only events in this state; repeat for several.",
        )
        parser.add_argument(
            "--since",
            help="Only events received since then: a date, a date-time or a span back from "
            "now such as 2h or 3d.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be replayed; change nothing."
        )

    def handle(self, *args, ids, call, state, since, dry_run, **options) -> None:
        if not (ids or call or state or since):
            raise CommandError(
                "Choose the events: --id, --call, --state or --since (see --help).", returncode=2
            )
        chosen = events_chosen(
            ids=ids,
            call_id=call.strip(),
            states=state,
            since=arguments.moment(since, option="--since") if since else None,
        )
        if missing := unknown_event_ids(ids):
            raise CommandError(
                f"No webhook event with id {', '.join(map(str, missing))}; nothing replayed.",
                returncode=2,
            )
        # What would be replayed, first: the dry run's answer, and the progress bar's size.
        plan = events_replay(events=chosen, dry_run=True)
        if dry_run:
            self.stdout.write(
                f"Would replay {len(plan.sent)} event(s); {plan.already_done} already done "
                "(left alone). Nothing changed (--dry-run)."
            )
            return
        if not plan.sent:
            self.stdout.write(
                f"Nothing to replay: {plan.already_done} chosen event(s) already done."
            )
            return
        with progress_bar("Replaying", disable=len(plan.sent) <= BATCH) as progress:
            task = progress.add_task("replay", total=len(plan.sent))
            replay = events_replay(
                events=chosen,
                batch_size=BATCH,
                on_batch=lambda count: progress.advance(task, count),
            )
        now = ", ".join(f"{count} {state}" for state, count in sorted(replay.states_now().items()))
        self.stdout.write(
            f"Replayed {len(replay.sent)} event(s), now: {now}; "
            f"{replay.already_done} already done (left alone)."
        )
