"""Compare what MiniVoice played with what the app recorded, in the app's own database.

Read through the same settings as the app (as `call_timeline` does), after waiting for
the app to finish processing what it acknowledged. Each expectation says what a person
comparing the webhook log with the call would check (MiniVoice's testing advice: "compare
the call ID, action timing, and final call status with the behavior you expected").
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

from calls.flows.steps import answer_step, end_step, event_step, exchange_step
from calls.models import AnswerExchange, Call, CallProblem, WebhookEvent
from calls.protocol import contract
from minivoice_emulator import paths
from minivoice_emulator.flows import FlowToPlay
from minivoice_emulator.runner import PlayedCall
from recordings.models import Recording

PROCESSING_WAIT_SECONDS = 20


@dataclass(frozen=True)
class Expectation:
    what: str
    expected: str
    recorded: str

    @property
    def ok(self) -> bool:
        return self.expected == self.recorded


@dataclass(frozen=True)
class Verdict:
    call_id: str
    scenario: str
    expectations: list[Expectation]
    lost_deliveries: int

    @property
    def ok(self) -> bool:
        return all(expectation.ok for expectation in self.expectations)

    @property
    def mismatches(self) -> list[Expectation]:
        return [expectation for expectation in self.expectations if not expectation.ok]

    def as_json(self) -> dict:
        return {
            "call_id": self.call_id,
            "scenario": self.scenario,
            "verdict": "ok" if self.ok else "mismatch",
            "mismatches": [asdict(expectation) for expectation in self.mismatches],
        }


def expected_problem_codes(played: PlayedCall, *, app_answer_url: str) -> set[str]:
    """The problems support should see on the console for this call, by code.

    Right after the call: the checks that need time to pass (a recording never
    completed, a call stuck for hours) have nothing to say yet.
    """
    codes = set()
    if any(recording.status == "failed" for recording in played.recordings.values()):
        codes.add(CallProblem.Code.RECORDING_FAILED)
    if played.answer_failed:
        codes.add(CallProblem.Code.ANSWER_URL_FAILED)
    if played.hung_up_by_caller:
        codes.add(CallProblem.Code.ENDED_EARLY)
    if played.answers and all(attempt.url != app_answer_url for attempt in played.answers):
        # MiniVoice was pointed elsewhere: the app never heard the call was answered.
        codes.add(CallProblem.Code.NO_ANSWER_URL)
    return {str(code) for code in codes}


def wait_until_processed(played: PlayedCall, *, timeout: float = PROCESSING_WAIT_SECONDS) -> None:
    """Wait for the app's workers to finish what it acknowledged (or for `timeout`)."""
    ids = [delivery.webhook_id for delivery in played.deliveries if delivery.acknowledged]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = WebhookEvent.objects.filter(webhook_id__in=ids).exclude(
            state__in=WebhookEvent.DONE_STATES
        )
        if not waiting.exists():
            return
        time.sleep(0.1)


def judge(
    played: PlayedCall,
    *,
    app_answer_url: str,
    flow: FlowToPlay | None = None,
    stops_at_first_prompt: bool = False,
) -> Verdict:
    """`flow`: the flow the call reaches, whose steps it should be answered with (no path
    of steps is expected without one); `stops_at_first_prompt`: the caller heard no
    further than the first prompt."""
    call = Call.objects.filter(minivoice_id=played.call_id).first()
    expectations = [
        _call_status(played, call),
        *_recordings(played),
        _deliveries(played),
        _answer_requests(played),
    ]
    if flow is not None:
        expectations.append(
            _path_of_steps(
                played,
                flow,
                asked=any(attempt.url.startswith(app_answer_url) for attempt in played.answers),
                stops_at_first_prompt=stops_at_first_prompt,
            )
        )
    expectations.append(_last_step(played, call))
    recorded = CallProblem.objects.filter(call__minivoice_id=played.call_id).values_list(
        "code", flat=True
    )
    expectations.append(
        Expectation(
            "problems on the console",
            _listed(sorted(expected_problem_codes(played, app_answer_url=app_answer_url))),
            _listed(sorted(recorded)),
        )
    )
    lost = sum(1 for delivery in played.deliveries if not delivery.acknowledged)
    return Verdict(played.call_id, played.scenario, expectations, lost)


def _listed(items: list[str]) -> str:
    return ", ".join(items) or "none"


def _call_status(played: PlayedCall, call: Call | None) -> Expectation:
    if played.final_status is None:
        expected = "in_progress"
    else:
        expected = f"ended {played.final_status} after {played.duration_seconds}s"
    if call is None:
        recorded = "(no call recorded)"
    elif call.status == Call.Status.ENDED:
        recorded = f"ended {call.final_status or '?'} after {call.duration_seconds}s"
    else:
        recorded = call.status
    return Expectation("call status", expected, recorded)


def _recordings(played: PlayedCall) -> list[Expectation]:
    stored = {
        recording.minivoice_id: recording
        for recording in Recording.objects.filter(minivoice_id__in=list(played.recordings))
    }
    expectations = []
    for recording_id, recording in played.recordings.items():
        expected = _recording_text(
            recording.status, recording.duration_seconds, recording.size_bytes, recording.reason
        )
        row = stored.get(recording_id)
        recorded = (
            _recording_text(row.status, row.duration_seconds, row.size_bytes, row.failure_reason)
            if row
            else "(no recording)"
        )
        expectations.append(Expectation(f"recording {recording_id}", expected, recorded))
    return expectations


def _recording_text(status: str, duration: int | None, size: int | None, reason: str) -> str:
    if status == "completed":
        return f"completed, {duration}s, {size} bytes"
    if status == "failed":
        return f"failed: {reason}"
    return status


def _deliveries(played: PlayedCall) -> Expectation:
    sent = {delivery.webhook_id: delivery for delivery in played.deliveries}
    rows = {
        event.webhook_id: event
        for event in WebhookEvent.objects.filter(webhook_id__in=list(sent)).only(
            "webhook_id", "state", "deliveries"
        )
    }
    faults = []
    for webhook_id, delivery in sent.items():
        row = rows.get(webhook_id)
        if not delivery.acknowledged:
            faults.append(f"{delivery.event} never acknowledged (HTTP {delivery.last_status})")
        elif row is None:
            faults.append(f"{delivery.event} acknowledged but not stored")
        elif row.state != WebhookEvent.State.PROCESSED:
            faults.append(f"{delivery.event} is {row.state}")
        elif not delivery.acknowledged <= row.deliveries <= delivery.attempts:
            faults.append(
                f"{delivery.event} counted {row.deliveries} deliveries, "
                f"sent {delivery.attempts} ({delivery.acknowledged} acknowledged)"
            )
    expected = f"{len(sent)} stored once each, processed"
    return Expectation("webhook deliveries", expected, "; ".join(faults) or expected)


def _answer_requests(played: PlayedCall) -> Expectation:
    answered = [attempt for attempt in played.answers if attempt.status == 200]
    logged = {
        exchange.webhook_id: exchange
        for exchange in AnswerExchange.objects.filter(
            webhook_id__in=[attempt.webhook_id for attempt in answered]
        )
    }
    faults = []
    for attempt in answered:
        exchange = logged.get(attempt.webhook_id)
        if exchange is None:
            faults.append(f"answer to {attempt.webhook_id} not logged")
        elif attempt.payload is not None and json.loads(exchange.response_body) != attempt.payload:
            faults.append(f"answer to {attempt.webhook_id} logged differently from what was sent")
    expected = f"{len(answered)} answers logged once each, as sent"
    return Expectation("answer_url exchanges", expected, "; ".join(faults) or expected)


NOT_ASKED = "(the app was not asked)"


def _path_of_steps(
    played: PlayedCall, flow: FlowToPlay, *, asked: bool, stops_at_first_prompt: bool
) -> Expectation:
    """The steps the flow says the call goes through for the keys pressed, against the
    steps of the app's logged answers to this call, in the order MiniVoice asked."""
    if asked:
        steps = paths.expected_path(
            flow.document, played.keys, stops_at_first_prompt=stops_at_first_prompt
        )
        expected = f"{flow.label}: {' → '.join(steps)}"
    else:
        expected = NOT_ASKED
    logged = {
        exchange.webhook_id: exchange
        for exchange in AnswerExchange.objects.filter(
            webhook_id__in=[attempt.webhook_id for attempt in played.answers]
        )
    }
    exchanges = [logged[a.webhook_id] for a in played.answers if a.webhook_id in logged]
    exchanges = list({exchange.pk: exchange for exchange in exchanges}.values())  # retries
    if not exchanges:
        return Expectation("path of steps", expected, NOT_ASKED)
    labels = [_flow_label(exchange) for exchange in exchanges]
    if len(set(labels)) == 1:
        recorded = f"{labels[0]}: " + " → ".join(e.step or paths.NO_STEP for e in exchanges)
    else:
        recorded = " → ".join(
            f"{label}: {e.step or paths.NO_STEP}"
            for label, e in zip(labels, exchanges, strict=True)
        )
    return Expectation("path of steps", expected, recorded)


def _flow_label(exchange: AnswerExchange) -> str:
    if exchange.flow_draft:
        return f"{exchange.flow} draft"
    if exchange.flow_version is not None:
        return f"{exchange.flow} v{exchange.flow_version}"
    return exchange.flow or "(no flow)"


def _last_step(played: PlayedCall, call: Call | None) -> Expectation:
    """The caller's last step by the emulator's own clock: the latest thing that marks a
    step (calls.flows.steps' wording) at or before the end, whatever order it was delivered in,
    and then the end itself."""
    candidates = []
    for delivery in played.deliveries:
        step = event_step(delivery.event, contract.event_data(delivery.payload))
        if step:
            candidates.append((delivery.at, step))
    # In the app's words for the flow, version and step each logged answer came from.
    logged = {
        exchange.webhook_id: exchange
        for exchange in AnswerExchange.objects.filter(
            webhook_id__in=[attempt.webhook_id for attempt in played.answers]
        )
    }
    for attempt in played.answers:
        if attempt.payload is not None:
            exchange = logged.get(attempt.webhook_id)
            step = exchange_step(exchange) if exchange is not None else None
            candidates.append(
                (attempt.at, step or answer_step("(answer not logged)", attempt.payload))
            )
    if played.ended_at is not None:
        candidates = [(at, step) for at, step in candidates if at <= played.ended_at]
    expected = max(candidates)[1] if candidates else ""
    if played.final_status is not None:
        # An ended call's step is its end, saying how far the caller got before it.
        expected = end_step(Call.FinalStatus(played.final_status).label, expected)
    recorded = call.last_step if call is not None else "(no call recorded)"
    return Expectation("last known step", expected or "(none)", recorded or "(none)")
