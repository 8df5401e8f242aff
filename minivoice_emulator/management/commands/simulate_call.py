from __future__ import annotations

import dataclasses
import json
import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from calls.management.progress import progress_bar
from calls.models import Call, Flow
from calls.protocol.actions import is_http_url
from minivoice_emulator import report, session, transport
from minivoice_emulator.scenarios import DEFAULT_SCENARIO, SCENARIOS
from minivoice_site.env import webhook_secrets

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEMO_SCENARIOS = ("happy", "recording-fails", "caller-hangs-up", "in-progress")
BAD_ARGUMENTS = 2  # exit status for bad arguments or an app that cannot be reached


NO_DIGITS = "none"  # --digits none: the caller presses nothing at that collect


def _usage(message: str) -> CommandError:
    return CommandError(message, returncode=BAD_ARGUMENTS)


def _numbers_of_flow(name: str | None, *, draft: bool) -> dict:
    """The numbers a call needs to reach a flow (the live version, or with `draft` the
    draft through a test number); {} without --flow: the default numbers."""
    if name is None:
        if draft:
            raise _usage("--draft needs --flow NAME.")
        return {}
    flow = Flow.objects.select_related("live_version").filter(name=name).first()
    if flow is None:
        raise _usage(f"No flow is named {name!r} (manage.py flows export --all lists them).")
    numbers = (flow.live_version.document.get("numbers") if flow.live_version else None) or (
        flow.numbers if draft else None
    )
    if draft:
        if not flow.test_numbers:
            raise _usage(f"Flow {name!r} has no test number: --draft cannot reach its draft.")
        return {"from_number": flow.test_numbers[0], "to_number": (numbers or ["+15550199"])[0]}
    if flow.live_version is None:
        raise _usage(f"Flow {name!r} is not published: try its draft with --draft.")
    if not numbers:
        if flow.live_version.document.get("default"):
            return {"to_number": "+15550000"}  # any number no other flow answers
        raise _usage(f"Flow {name!r} answers no number.")
    return {"to_number": numbers[0]}


class Command(BaseCommand):
    help = (
        "Play MiniVoice against a running app over real HTTP: request the answer_url, run "
        "its actions on a simulated clock, send every webhook signed, then compare what "
        "the app recorded with what happened. Exit status: 0 all matches, 1 something "
        "differs, 2 bad arguments or the app cannot be reached."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url",
            default=DEFAULT_BASE_URL,
            help=f"The running app (default {DEFAULT_BASE_URL}).",
        )
        parser.add_argument(
            "--answer-path",
            help="The answer_url's path on the app (default /minivoice/answer/; the "
            "invalid-answer scenario points elsewhere).",
        )
        parser.add_argument(
            "--secret",
            help="The whsec_… secret to sign with (default: the app's first webhook secret).",
        )
        parser.add_argument(
            "--scenario",
            choices=sorted(SCENARIOS),
            default=DEFAULT_SCENARIO,
            help="What the caller and MiniVoice do: "
            + "; ".join(f"{s.name}: {s.description}" for s in SCENARIOS.values())
            + f" (default {DEFAULT_SCENARIO}).",
        )
        parser.add_argument(
            "--digits",
            action="append",
            default=[],
            help="Digits the caller enters at a collect; repeat for several collects, in "
            "order ('none': nothing at that collect). None given: nothing at any collect.",
        )
        parser.add_argument(
            "--flow",
            metavar="NAME",
            help="Dial the first number of this call flow (its live version); with "
            "--draft, call from its first test number so that its draft answers.",
        )
        parser.add_argument(
            "--draft",
            action="store_true",
            help="With --flow: call from the flow's first test number (reaches its draft).",
        )
        parser.add_argument(
            "--caller-says",
            default="",
            metavar="WORDS",
            help="What the caller says while the call is recorded (after the first prompt), "
            'spoken into the recording\'s audio, e.g. "I want to cancel my appointment".',
        )
        parser.add_argument(
            "--speed",
            type=float,
            default=0,
            help="Play in real time divided by this (1: as a caller hears it; default 0: "
            "as fast as possible).",
        )
        parser.add_argument(
            "--chaos",
            action="store_true",
            help="Deliver webhooks shuffled, some twice (sometimes at once), one retried "
            "after a timeout; the verdict must hold all the same.",
        )
        parser.add_argument("--seed", type=int, help="Seed for --chaos, to replay a run exactly.")
        parser.add_argument("--calls", type=int, default=1, help="How many calls (default 1).")
        parser.add_argument(
            "--concurrency", type=int, default=1, help="Calls played at once (default 1)."
        )
        parser.add_argument(
            "--api-url",
            help="A running `minivoice_emulator` to tell about each call and recording "
            "(recording URLs point at it either way; default MINIVOICE_API_URL).",
        )
        parser.add_argument(
            "--api-key",
            help="The key for --api-url (default MINIVOICE_API_KEY).",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            dest="as_json",
            help="Print one JSON document (calls with their verdicts, and a summary).",
        )
        parser.add_argument(
            "--demo",
            action="store_true",
            help="On a database with no calls yet, play four demo calls (went well, "
            "recording failed, caller hung up, still in progress); otherwise do nothing.",
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=0,
            help="Seconds to wait for the app to come up before giving up (default 0).",
        )

    def handle(self, *args, **options) -> None:
        plan = self._plan(options)
        if options["demo"] and Call.objects.exists():
            self.stdout.write("Demo calls: skipped, the database has calls already.")
            return
        self._wait_for_app(plan.base_url, options["wait"])
        if plan.register_with_api:
            try:
                transport.probe(plan.api_url)
            except transport.Unreachable as exc:
                raise _usage(f"Could not reach the emulator at {exc}.") from None
        if options["demo"]:
            self._play_demo(plan)
            return
        result = self._play(plan, as_json=options["as_json"])
        failed = result.summary()["verdicts_failed"]
        if failed:
            raise CommandError(f"{failed} of {len(result.results)} verdicts differ.", returncode=1)

    def _plan(self, options: dict) -> session.Plan:
        base_url = options["base_url"].rstrip("/")
        if not is_http_url(base_url):
            raise _usage(f"--base-url must be an http:// or https:// URL (got {base_url!r}).")
        answer_path = options["answer_path"]
        scenario = SCENARIOS[options["scenario"]]
        if answer_path is None:
            answer_path = scenario.answer_path or transport.ANSWER_PATH
        if not answer_path.startswith("/") or not answer_path.isprintable() or " " in answer_path:
            raise _usage(f"--answer-path must be a path starting with / (got {answer_path!r}).")
        secret = options["secret"] or (settings.MINIVOICE_WEBHOOK_SECRETS or [""])[0]
        if not secret:
            raise _usage(
                "No webhook secret: set MINIVOICE_WEBHOOK_SECRET, run `manage.py dev_setup`, "
                "or pass --secret."
            )
        try:
            webhook_secrets(secret, source="--secret")
        except ImproperlyConfigured as exc:
            raise _usage(str(exc)) from None
        for digits in options["digits"]:
            if digits != NO_DIGITS and (
                not digits or any(key not in "0123456789*#" for key in digits)
            ):
                raise _usage(f"--digits takes keypad keys 0-9, * and #, or none (got {digits!r}).")
        digits = ["" if d == NO_DIGITS else d for d in options["digits"]]
        numbers = _numbers_of_flow(options["flow"], draft=options["draft"])
        caller_says = options["caller_says"].strip()
        if options["caller_says"] and (
            not caller_says or not caller_says.isprintable() or len(caller_says) > 500
        ):
            raise _usage("--caller-says takes words on one line, at most 500 characters.")
        if not 0 <= options["speed"] <= 1000:
            raise _usage("--speed must be from 0 (as fast as possible) to 1000.")
        if not 1 <= options["calls"] <= 100_000:
            raise _usage("--calls must be from 1 to 100000.")
        if not 1 <= options["concurrency"] <= 64:
            raise _usage("--concurrency must be from 1 to 64.")
        if not 0 <= options["wait"] <= 600:
            raise _usage("--wait must be from 0 to 600 seconds.")
        api_url = (options["api_url"] or settings.MINIVOICE_API_URL or "").rstrip("/")
        if options["api_url"] is not None and not is_http_url(api_url):
            raise _usage(f"--api-url must be an http:// or https:// URL (got {api_url!r}).")
        if options["demo"] and options["as_json"]:
            raise _usage("--demo prints a line per call; leave out --json.")
        return session.Plan(
            base_url=base_url,
            answer_url=base_url + answer_path,
            app_answer_url=base_url + transport.ANSWER_PATH,
            api_url=api_url or "http://127.0.0.1:8900",
            api_key=options["api_key"] or settings.MINIVOICE_API_KEY,
            register_with_api=options["api_url"] is not None,
            secret=secret,
            scenario=scenario,
            digits=digits,
            caller_says=caller_says,
            speed=options["speed"],
            chaos=options["chaos"],
            seed=options["seed"],
            calls=options["calls"],
            concurrency=options["concurrency"],
            **numbers,
        )

    def _wait_for_app(self, base_url: str, wait: float) -> None:
        deadline = time.monotonic() + wait
        while True:
            try:
                transport.probe(base_url + transport.WEBHOOK_PATH)
                return
            except transport.Unreachable as exc:
                if time.monotonic() >= deadline:
                    raise _usage(
                        f"Could not reach the app at {exc}. Is it running (make run)?"
                    ) from None
            time.sleep(0.25)

    def _play(self, plan: session.Plan, *, as_json: bool) -> session.Session:
        # On stderr, and only for many calls: stdout stays the report (or the JSON).
        with progress_bar("Playing calls", disable=plan.calls < 2) as progress:
            task = progress.add_task("calls", total=plan.calls)
            played = session.play(plan, on_played=lambda _: progress.advance(task))
        if as_json:
            self.stdout.write(json.dumps(report.session_json(played), indent=2))
            return played
        for result in played.results:
            if result.registration_error:
                self.stderr.write(
                    f"Could not register with the emulator: {result.registration_error}"
                )
        if plan.calls == 1:
            call_id = played.results[0].played.call_id
            self.stdout.write(f"Played {call_id} ({plan.scenario.name}) against {plan.base_url}.")
            try:
                call_command("call_timeline", call_id, stdout=self.stdout)
            except CommandError:
                self.stdout.write("The app recorded nothing of this call.")
            self.stdout.write(report.verdict_text(played.results[0].verdict))
        else:
            self.stdout.write(report.summary_text(played))
        return played

    def _play_demo(self, plan: session.Plan) -> None:
        for name in DEMO_SCENARIOS:
            call_id = f"call_demo_{name.replace('-', '_')}"
            demo = dataclasses.replace(
                plan,
                scenario=SCENARIOS[name],
                answer_url=plan.app_answer_url,
                call_ids=[call_id],
                calls=1,
            )
            outcome = session.play(demo).results[0].verdict
            said = "as expected" if outcome.ok else "DIFFERS (see simulate_call's verdict)"
            self.stdout.write(f"Demo call {call_id}: {SCENARIOS[name].description}; {said}.")
