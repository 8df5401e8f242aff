from __future__ import annotations

import dataclasses
import json
import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from calls.management.progress import progress_bar
from calls.models import Call
from calls.protocol.actions import is_http_url
from minivoice_emulator import flows, paths, report, session, transport
from minivoice_emulator.scenarios import DEFAULT_SCENARIO, SCENARIOS, Scenario
from minivoice_site.env import webhook_secrets

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEMO_SCENARIOS = ("happy", "recording-fails", "caller-hangs-up", "in-progress")
# The consent IVR `make run` loads (calls/flows/examples/consent-ivr.json), and what its
# demo callers press at each collect.
DEMO_FLOW = "Main line"
DEMO_FLOW_CALLS = (
    ("consent_given", ["1"], "the caller presses 1 to consent, and the call is recorded"),
    ("consent_declined", ["2"], "the caller presses 2: transferred, not recorded"),
    ("no_input_twice", ["", ""], "the caller presses nothing, twice: goodbye"),
)
BAD_ARGUMENTS = 2  # exit status for bad arguments or an app that cannot be reached


NO_DIGITS = "none"  # --digits none: the caller presses nothing at that collect


def _usage(message: str) -> CommandError:
    return CommandError(message, returncode=BAD_ARGUMENTS)


def _flow_to_play(
    name: str | None, *, draft: bool, scenario: Scenario, digits: list[str]
) -> tuple[flows.FlowToPlay | None, list[str], str]:
    """(the flow the call reaches, the keys pressed, a note for the person): the flow
    named; else, for a scenario about an action (`seeks`), a live flow that runs it, with
    the keys that reach it unless keys were given; else the flow a call to a number no
    flow lists reaches (the default flow)."""
    flow, note = None, ""
    if name is not None:
        try:
            flow = flows.flow_named(name, draft=draft)
        except flows.FlowNotPlayable as refused:
            raise _usage(str(refused)) from None
    elif scenario.seeks:
        flow = flows.flow_using(scenario.seeks)
        if flow is None:
            note = (
                f"No live flow runs {scenario.seeks}: {scenario.name} plays against the "
                "default flow (`make run` loads one that does, or `flows import FILE "
                "--publish`)."
            )
    if flow is None:
        return (
            flows.flow_for_call(from_number=flows.CALLER, to_number=flows.ANY_NUMBER),
            digits,
            note,
        )
    if scenario.seeks and not digits:
        digits = paths.keys_to(flow.document, scenario.seeks) or []
    return flow, digits, note


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
            "--draft, call from its first test number so that its draft answers. Without "
            "it: a number no flow lists (the default flow), or for no-digits and "
            "busy-transfer a live flow with a collect or a transfer.",
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
            help="On a database with no calls yet, play four demo calls on the default flow "
            "(went well, recording failed, caller hung up, still in progress) and, if the "
            f"consent IVR {DEMO_FLOW!r} is live, three on it (consent given, consent "
            "declined, no input twice); otherwise do nothing.",
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
        plan = self._aimed(plan, options)
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
        if options["draft"] and options["flow"] is None:
            raise _usage("--draft needs --flow NAME.")
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
        )

    def _aimed(self, plan: session.Plan, options: dict) -> session.Plan:
        """The plan with the flow the call reaches (read from the app's database, once
        the app answers), its numbers, and the keys pressed."""
        try:
            flow, digits, note = _flow_to_play(
                options["flow"], draft=options["draft"], scenario=plan.scenario, digits=plan.digits
            )
        except DatabaseError as exc:
            raise _usage(
                f"Could not read the app's flows from its database ({exc}). Is it migrated?"
            ) from None
        if note:
            self.stderr.write(note)
        return dataclasses.replace(
            plan,
            flow=flow,
            digits=digits,
            from_number=flow.from_number if flow else flows.CALLER,
            to_number=flow.to_number if flow else flows.ANY_NUMBER,
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
            self._play_demo_call(
                plan,
                call_id=f"call_demo_{name.replace('-', '_')}",
                what=SCENARIOS[name].description,
                scenario=SCENARIOS[name],
            )
        try:
            flow = flows.flow_named(DEMO_FLOW)
        except flows.FlowNotPlayable as missing:
            self.stdout.write(f"Demo calls on the consent IVR: skipped. {missing}")
            return
        for name, keys, what in DEMO_FLOW_CALLS:
            self._play_demo_call(
                plan,
                call_id=f"call_demo_{name}",
                what=f"{flow.label}, {what}",
                scenario=SCENARIOS[DEFAULT_SCENARIO],
                flow=flow,
                digits=keys,
                from_number=flow.from_number,
                to_number=flow.to_number,
            )

    def _play_demo_call(self, plan: session.Plan, *, call_id: str, what: str, **changes) -> None:
        demo = dataclasses.replace(
            plan, answer_url=plan.app_answer_url, call_ids=[call_id], calls=1, **changes
        )
        outcome = session.play(demo).results[0].verdict
        said = "as expected" if outcome.ok else "DIFFERS (see simulate_call's verdict)"
        self.stdout.write(f"Demo call {call_id}: {what}; {said}.")
