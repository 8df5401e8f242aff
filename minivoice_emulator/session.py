"""Many calls at once: each played and delivered in its own thread, then judged.

Verdicts read the app's database, and only once every call has been played, from the
calling thread: reads never overlap the app's writes from this process (SQLite's shared
in-memory test database refuses that outright), and no thread is left holding a
connection.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from django.db import OperationalError, connection

from calls.protocol import contract
from minivoice_emulator import api, verdict
from minivoice_emulator.flows import ANY_NUMBER, CALLER, FlowToPlay
from minivoice_emulator.runner import CallRunner, PlayedCall
from minivoice_emulator.scenarios import Scenario
from minivoice_emulator.transport import Delivery, Latencies, Transport

# How long the verdicts wait for the app's database to come back (a restart takes seconds).
DATABASE_AWAY_SECONDS = 60


@dataclass(frozen=True)
class Plan:
    """What to play, and against what."""

    base_url: str
    answer_url: str
    api_url: str
    secret: str
    scenario: Scenario
    digits: list[str] = field(default_factory=list)
    speed: float = 0
    chaos: bool = False
    seed: int | None = None
    calls: int = 1
    concurrency: int = 1
    api_key: str = ""
    register_with_api: bool = False
    app_answer_url: str = ""  # the app's own answer_url (answer_url may point elsewhere)
    judge: bool = True  # False: play only (the demo's in-progress call is not judged)
    call_ids: list[str] = field(default_factory=list)  # default: fresh call_sim_… ids
    from_number: str = CALLER
    to_number: str = ANY_NUMBER  # the number dialled: which flow answers
    flow: FlowToPlay | None = None  # the flow it reaches: the verdict's path of steps
    caller_says: str = ""  # the caller's words, heard by the recording


@dataclass
class Result:
    played: PlayedCall
    verdict: verdict.Verdict | None
    registration_error: str = ""


@dataclass
class Session:
    results: list[Result]
    latencies: Latencies

    def summary(self) -> dict:
        deliveries = [d for r in self.results for d in r.played.deliveries]
        return {
            "calls": len(self.results),
            "webhooks": len(deliveries),
            "deliveries_sent": sum(d.attempts for d in deliveries),
            "lost_deliveries": sum(1 for d in deliveries if not d.acknowledged),
            "answer_url_requests": sum(len(r.played.answers) for r in self.results),
            "verdicts_failed": sum(1 for r in self.results if r.verdict and not r.verdict.ok),
            "answer_url_ms": percentiles(self.latencies.answer_url),
            "webhook_ms": percentiles(self.latencies.webhook),
        }


def percentiles(values: list[float]) -> dict:
    """p50, p95 and p99 by nearest rank, in milliseconds; None with no values."""
    ordered = sorted(values)

    def rank(share: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[max(0, math.ceil(share * len(ordered)) - 1)], 1)

    return {"p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99)}


def play(plan: Plan, *, on_played: Callable[[Result], None] | None = None) -> Session:
    latencies = Latencies()
    call_ids = plan.call_ids or [f"call_sim_{uuid.uuid4().hex[:12]}" for _ in range(plan.calls)]
    results: list[Result] = []
    with ThreadPoolExecutor(max_workers=max(1, plan.concurrency)) as pool:
        futures = [
            pool.submit(_play_one, plan, call_id, index, latencies)
            for index, call_id in enumerate(call_ids)
        ]
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            if on_played is not None:
                on_played(result)
    order = {call_id: index for index, call_id in enumerate(call_ids)}
    results.sort(key=lambda result: order[result.played.call_id])
    if plan.judge:
        for result in results:
            result.verdict = _judged(plan, result.played)
    return Session(results=results, latencies=latencies)


def _judged(plan: Plan, played: PlayedCall) -> verdict.Verdict:
    """The call's verdict, read again on a new connection while the database is away
    (restarting, as in a soak), for up to DATABASE_AWAY_SECONDS."""
    deadline = time.monotonic() + DATABASE_AWAY_SECONDS
    while True:
        try:
            verdict.wait_until_processed(played)
            return verdict.judge(
                played,
                app_answer_url=plan.app_answer_url,
                flow=plan.flow,
                stops_at_first_prompt=plan.scenario.stops_at_first_prompt,
            )
        except OperationalError:
            if time.monotonic() >= deadline:
                raise
            # The connection that failed is no use once the server is back.
            connection.close()
            time.sleep(0.5)


def _play_one(plan: Plan, call_id: str, index: int, latencies: Latencies) -> Result:
    rng = random.Random(f"{plan.seed}-{index}") if plan.chaos else None
    transport = Transport(base_url=plan.base_url, secret=plan.secret, latencies=latencies, rng=rng)
    registration_errors: list[str] = []

    def register() -> None:
        try:
            api.register_call(api_url=plan.api_url, api_key=plan.api_key, played=runner.call)
        except (ValueError, api.Unreachable) as exc:
            registration_errors.append(str(exc))

    def deliver(deliveries: list[Delivery]) -> None:
        # MiniVoice knows a recording before it says it exists: an app that fetches it the
        # moment recording.completed arrives must find it.
        if plan.register_with_api and any(
            delivery.event == contract.RECORDING_COMPLETED for delivery in deliveries
        ):
            register()
        transport.deliver(deliveries)

    runner = CallRunner(
        call_id=call_id,
        scenario=plan.scenario,
        answer_url=plan.answer_url,
        api_url=plan.api_url,
        request_answer=lambda url, body, webhook_id: transport.request_answer(
            url, body, webhook_id=webhook_id
        ),
        deliver=deliver,
        digits=plan.digits,
        from_number=plan.from_number,
        to_number=plan.to_number,
        speed=plan.speed,
        hold_deliveries=plan.chaos,
        caller_says=plan.caller_says,
    )
    played = runner.play()
    if plan.register_with_api:
        register()  # the call's end, for /v1/calls/{id}
    return Result(played=played, verdict=None, registration_error=(registration_errors or [""])[0])
