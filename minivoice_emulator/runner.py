"""Plays one call as MiniVoice would, on a simulated clock.

The clock starts at the real time and moves by how long each action would take on a
phone line (`say` by the word, `pause` by its seconds…); webhooks carry that clock in
`created_at`. With `speed` the play also waits in real time (speed 1: as a caller would
hear it), which suits a live demo; by default nothing waits.

What the runner knows afterwards (`PlayedCall`) is the truth the verdict holds the app
to: which events happened when, how each recording ended, how the call ended.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from calls.protocol import contract
from calls.protocol.actions import action_name, validate_payload
from minivoice_emulator import payloads, wav
from minivoice_emulator.scenarios import Scenario
from minivoice_emulator.transport import Delivery, Reply, Unreachable

SECONDS_PER_WORD = 0.4
PLAY_SECONDS = 4.0
DIGIT_SECONDS = 0.3
TRANSFERRED_TALK_SECONDS = 30.0
RECORDING_PROCESSING_SECONDS = 1.5  # stop_recording → recording.completed
TICK = 0.01  # between events that happen "at once", so no two share a timestamp
MAX_ANSWER_REQUESTS = 20  # a redirect loop ends the call instead of running forever
MAX_ACTIONS = 500


@dataclass
class AnswerAttempt:
    """One answer_url request and how MiniVoice judged the answer."""

    webhook_id: str
    url: str
    at: datetime
    status: int | None = None
    payload: dict | None = None  # the actions, when valid
    problem: str = ""  # why MiniVoice could not use the answer
    latency_ms: float | None = None


@dataclass(frozen=True)
class Spoken:
    """Words said on the call: a `say` prompt, or the caller (`--caller-says`)."""

    at: datetime
    text: str
    speaker: str  # "prompt" or "caller"


@dataclass
class PlayedRecording:
    recording_id: str
    status: str  # "started", "completed" or "failed"
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    duration_seconds: int | None = None
    size_bytes: int | None = None
    completed_at: datetime | None = None
    reason: str = ""


@dataclass
class PlayedCall:
    call_id: str
    scenario: str
    started_at: datetime
    deliveries: list[Delivery] = field(default_factory=list)
    answers: list[AnswerAttempt] = field(default_factory=list)
    recordings: dict[str, PlayedRecording] = field(default_factory=dict)
    final_status: str | None = None  # None: still in progress
    ended_at: datetime | None = None
    duration_seconds: int | None = None
    hung_up_by_caller: bool = False
    actions_run: list[str] = field(default_factory=list)
    actions_skipped: list[str] = field(default_factory=list)  # given, never reached
    spoken: list[Spoken] = field(default_factory=list)  # what a recording hears
    keys: list[str] = field(default_factory=list)  # the caller's keys at each collect

    @property
    def answer_failed(self) -> bool:
        return any(attempt.problem for attempt in self.answers)


AnswerRequester = Callable[[str, dict, str], Reply]  # (url, body, webhook_id) → Reply
Deliverer = Callable[[list[Delivery]], None]


class CallRunner:
    """Runs one call: requests the answer_url, executes actions, emits webhooks."""

    def __init__(
        self,
        *,
        call_id: str,
        scenario: Scenario,
        answer_url: str,
        api_url: str,
        request_answer: AnswerRequester,
        deliver: Deliverer,
        digits: list[str] | None = None,
        from_number: str = "+15550100",
        to_number: str = "+15550199",
        speed: float = 0,
        hold_deliveries: bool = False,
        start: datetime | None = None,
        caller_says: str = "",
    ) -> None:
        self.scenario = scenario
        self.numbers = {"from_number": from_number, "to_number": to_number}
        self.answer_url = answer_url
        self.api_url = api_url.rstrip("/")
        self.request_answer = request_answer
        self.deliver = deliver
        self.digits = [] if scenario.enters_no_digits else list(digits or [])
        self.speed = speed
        # Said once, after the first prompt the recording hears (or just before it stops).
        self.caller_says = caller_says
        # Held: everything is delivered at the end (chaos shuffles it then). Otherwise
        # each webhook goes out once the clock reaches it, in the order things happened.
        self.hold = hold_deliveries
        self.now = (start or datetime.now(tz=UTC)).replace(microsecond=0)
        self.call = PlayedCall(
            call_id=call_id, scenario=scenario.name, started_at=self.now, keys=list(self.digits)
        )
        self.outbox: list[Delivery] = []
        self.active_recording: PlayedRecording | None = None

    # -- the clock ------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        if self.speed > 0:
            time.sleep(seconds / self.speed)
        self.now += timedelta(seconds=seconds)
        self.flush()

    def flush(self, *, everything: bool = False) -> None:
        if self.hold and not everything:
            return
        due = [d for d in self.outbox if everything or d.at <= self.now]
        if due:
            self.outbox = [d for d in self.outbox if d not in due]
            self.deliver(sorted(due, key=lambda d: d.at))

    def emit(self, event: str, *, at: datetime | None = None, **data) -> None:
        at = at or self.now
        status = self.call.final_status if event == contract.CALL_COMPLETED else None
        payload = payloads.event_payload(
            event, call_id=self.call.call_id, created_at=at, call_status=status, **data
        )
        delivery = Delivery(payloads.new_webhook_id(), event, at, payload)
        self.call.deliveries.append(delivery)
        self.outbox.append(delivery)

    # -- the call -----------------------------------------------------------------------

    def play(self) -> PlayedCall:
        self.emit(contract.CALL_INITIATED)
        self.advance(1.0)
        self.emit(contract.CALL_RINGING)
        self.advance(2.0)
        self.emit(contract.CALL_ANSWERED)
        self.advance(TICK)
        actions = self.fetch_actions(self.answer_url, {})
        if actions is not None:
            self.run(actions)
        elif self.call.final_status is None:
            self.end("failed")
        self.flush(everything=True)
        return self.call

    def fetch_actions(self, url: str, variables: dict) -> list | None:
        """The actions the app answers with, or None after reporting answer_url.failed."""
        if len(self.call.answers) >= MAX_ANSWER_REQUESTS:
            self.fail_answer("answer_url_error", "too many answer_url requests for one call")
            return None
        attempt = AnswerAttempt(webhook_id=payloads.new_webhook_id(), url=url, at=self.now)
        self.call.answers.append(attempt)
        body = payloads.answer_request_body(
            call_id=self.call.call_id, created_at=self.now, variables=variables, **self.numbers
        )
        try:
            reply = self.request_answer(url, body, attempt.webhook_id)
        except Unreachable as exc:
            attempt.problem = f"answer_url unreachable: {exc}"
            self.fail_answer("answer_url_unreachable", attempt.problem)
            return None
        attempt.status, attempt.latency_ms = reply.status, reply.latency_ms
        attempt.payload, attempt.problem = judge_answer(reply)
        if attempt.problem:
            self.fail_answer("answer_url_error", "invalid action payload")
            return None
        return list(attempt.payload["actions"])

    def fail_answer(self, code: str, message: str) -> None:
        self.advance(TICK)
        self.emit(contract.ANSWER_URL_FAILED, error={"code": code, "message": message})

    def run(self, actions: list) -> None:
        queue = list(actions)
        while queue and self.call.final_status is None:
            if len(self.call.actions_run) >= MAX_ACTIONS:
                self.end("completed")
                return
            self.advance(TICK)  # no two actions' events share a timestamp
            action = queue.pop(0)
            name = action_name(action) or "?"
            params = _params(action)
            self.call.actions_run.append(name)
            if name in ("say", "play", "pause"):
                seconds = _prompt_seconds(name, params)
                if name == "say":
                    self.call.spoken.append(Spoken(self.now, params["text"], "prompt"))
                if self.scenario.stops_at_first_prompt:
                    self.advance(seconds / 3)
                    self.call.actions_skipped = [action_name(a) or "?" for a in queue]
                    if self.scenario.hangs_up_mid_prompt:
                        self.call.hung_up_by_caller = True
                        self.end("completed")
                    return
                self.advance(seconds)
                if name == "say":
                    self.caller_speaks()
            elif name == "start_recording":
                self.start_recording()
            elif name == "stop_recording":
                self.caller_speaks()
                self.stop_recording()
            elif name == "collect":
                variables = {"digits": self.collect(params)}
                queue = self.fetch_actions(params.get("url") or self.answer_url, variables)
                if queue is None:
                    self.end("failed")
                    return
            elif name == "redirect":
                queue = self.fetch_actions(params["url"], {})
                if queue is None:
                    self.end("failed")
                    return
            elif name == "transfer":
                self.call.actions_skipped = [action_name(a) or "?" for a in queue]
                if self.scenario.transfer_busy:
                    self.advance(params.get("timeout_seconds", 20) / 4)
                    self.end("busy")
                else:
                    self.advance(TRANSFERRED_TALK_SECONDS)
                    self.end("completed")
                return
            elif name == "hangup":
                self.call.actions_skipped = [action_name(a) or "?" for a in queue]
                self.end("completed")
                return
        if self.call.final_status is None:
            self.end("completed")  # the actions ran out: MiniVoice hangs up

    def collect(self, params: dict) -> str:
        if not self.digits:
            self.advance(params.get("timeout_seconds", 5))
            return ""
        digits = self.digits.pop(0)[: params.get("max_digits", 32)]
        self.advance(1.0 + DIGIT_SECONDS * len(digits))
        return digits

    def caller_speaks(self) -> None:
        """The caller's words (`--caller-says`), once, while a recording hears them."""
        if not self.caller_says or self.active_recording is None:
            return
        text, self.caller_says = self.caller_says, ""
        self.advance(TICK)
        self.call.spoken.append(Spoken(self.now, text, "caller"))
        self.advance(_prompt_seconds("say", {"text": text}))

    def start_recording(self) -> None:
        if self.active_recording is not None:
            return  # one recording at a time; a second start changes nothing
        recording_id = f"rec_{self.call.call_id}_{len(self.call.recordings) + 1}"
        if self.scenario.recording_fails:
            reason = "recording could not be started: media storage unavailable"
            self.call.recordings[recording_id] = PlayedRecording(
                recording_id, "failed", reason=reason
            )
            self.emit(
                contract.RECORDING_FAILED,
                recording_id=recording_id,
                status="failed",
                reason=reason,
            )
            return
        recording = PlayedRecording(recording_id, "started", started_at=self.now)
        self.call.recordings[recording_id] = recording
        self.active_recording = recording
        self.emit(contract.RECORDING_STARTED, recording_id=recording_id, status="started")

    def stop_recording(self) -> None:
        recording, self.active_recording = self.active_recording, None
        if recording is None:
            return
        seconds = (self.now - recording.started_at).total_seconds()
        recording.stopped_at = self.now
        recording.status = "completed"
        recording.duration_seconds = max(1, math.ceil(seconds))
        recording.size_bytes = wav.wav_size(recording.duration_seconds)
        recording.completed_at = self.now + timedelta(seconds=RECORDING_PROCESSING_SECONDS)
        self.emit(
            contract.RECORDING_COMPLETED,
            at=recording.completed_at,
            recording_id=recording.recording_id,
            status="completed",
            duration_seconds=recording.duration_seconds,
            format="wav",
            size_bytes=recording.size_bytes,
            url=f"{self.api_url}/v1/recordings/{recording.recording_id}/media",
        )

    def end(self, status: str) -> None:
        self.advance(TICK)
        self.call.final_status = status
        self.call.ended_at = self.now
        self.call.duration_seconds = math.ceil((self.now - self.call.started_at).total_seconds())
        self.emit(
            contract.CALL_COMPLETED, status=status, duration_seconds=self.call.duration_seconds
        )
        self.stop_recording()  # the end of a call ends its recording


def judge_answer(reply: Reply) -> tuple[dict | None, str]:
    """(payload, "") when MiniVoice can run the answer, else (None, why not)."""
    if reply.status != 200:
        return None, f"answer_url answered HTTP {reply.status}"
    try:
        payload = json.loads(reply.body, parse_constant=_refuse)
    except (ValueError, UnicodeDecodeError):
        return None, "answer_url answered something that is not JSON"
    validation = validate_payload(payload)
    if not validation.is_valid:
        return None, "invalid action payload: " + "; ".join(map(str, validation.errors))
    return payload, ""


def _refuse(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _params(action: dict) -> dict:
    if "type" in action:
        return {key: value for key, value in action.items() if key != "type"}
    ((_, params),) = action.items()
    return dict(params)


def _prompt_seconds(name: str, params: dict) -> float:
    if name == "say":
        return max(1.0, SECONDS_PER_WORD * len(params["text"].split()))
    if name == "pause":
        return float(params.get("seconds", 1))
    return PLAY_SECONDS
