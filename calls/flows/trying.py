"""Trying a flow before callers reach it: the keys pressed at each collect in, the path of
steps and the exact actions each would return out, with the checks' verdict and whether
recording would start before consent. No network, no call, nothing stored."""

from __future__ import annotations

from dataclasses import dataclass

from calls.flows.checks import Checked, check_flow
from calls.flows.document import CONSENT_DECLINED, CONSENT_GIVEN, FlowDocument

# What stands for each call's own step URL (the app writes it per call, signed).
TRIED_URL = "https://this-app/minivoice/answer/?step=SIGNED-PER-CALL"
NO_INPUT_KEY = "none"
MAX_STEPS = 50  # a loop the keys keep going round ends the try here


@dataclass(frozen=True)
class TriedStep:
    step: str
    actions: list
    pressed: str | None  # the keys chosen after its collect; "" for no input
    recording: str  # "", or why this step's recording is a problem


@dataclass(frozen=True)
class Tried:
    steps: list[TriedStep]
    ending: str  # how the try ended, in plain words
    waiting_at: str  # the collect step that needs keys chosen, or ""
    checked: Checked

    @property
    def recording_before_consent(self) -> bool:
        return any(step.recording for step in self.steps)


def flow_try(document: FlowDocument, keys: list[str]) -> Tried:
    """Follow the flow from its first step, pressing `keys` in turn at each collect
    ("none" for no input)."""
    pending = list(keys)
    steps: list[TriedStep] = []
    consent = ""
    name = document.first_step
    ending, waiting_at = "", ""
    while True:
        step = document.steps.get(name)
        if step is None:
            ending = f"step {name!r} does not exist: the caller would get the fallback"
            break
        if len(steps) >= MAX_STEPS:
            ending = f"stopped after {MAX_STEPS} steps: the keys go round a loop"
            break
        consent = step.consent or consent
        recording = _recording_problem(document, step.names, consent)
        pressed = None
        if step.hands_back == "collect":
            if not pending:
                steps.append(TriedStep(name, step.actions_with_url(TRIED_URL), None, recording))
                ending, waiting_at = f"waits for the keys pressed at {name!r}", name
                break
            chosen = pending.pop(0)
            pressed = "" if chosen == NO_INPUT_KEY else chosen
        actions = step.actions_with_url(TRIED_URL) if step.hands_back else step.actions
        steps.append(TriedStep(name, actions, pressed, recording))
        if not step.hands_back:
            last = step.names[-1] if step.names else "nothing"
            ending = f"ends at {name!r} with {last}"
            break
        target = step.branch(pressed)
        if target is None:
            heard = "no input" if not pressed else f"keys {pressed!r}"
            ending = f"{name!r} has no branch for {heard}: the caller would get the fallback"
            break
        name = target
    return Tried(steps, ending, waiting_at, check_flow(document))


def _recording_problem(document: FlowDocument, names: list, consent: str) -> str:
    if "start_recording" not in names:
        return ""
    if consent == CONSENT_DECLINED:
        return "recording starts after the caller declined"
    if document.requires_consent and consent != CONSENT_GIVEN:
        return "recording starts before the caller consented"
    return ""
