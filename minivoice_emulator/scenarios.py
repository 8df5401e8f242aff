"""What the caller and MiniVoice do in each scenario `simulate_call --scenario` plays.

A scenario never corrupts what the app answers: it changes the caller (hangs up, enters
no digits), the far end of a transfer (busy), MiniVoice's recorder (fails), or which
URL MiniVoice is pointed at (a wrong answer path answers something that is not an
action payload).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    recording_fails: bool = False
    hangs_up_mid_prompt: bool = False
    enters_no_digits: bool = False
    transfer_busy: bool = False
    answer_path: str | None = None  # None: the answer_url the command was given
    stays_in_progress: bool = False  # stop playing mid-prompt, with no end reported
    # An action the scenario is about: with no --flow, the call dials a live flow that
    # runs it (and with no --digits, presses the keys that reach it).
    seeks: str | None = None

    @property
    def stops_at_first_prompt(self) -> bool:
        """The call goes no further than the first prompt it hears."""
        return self.hangs_up_mid_prompt or self.stays_in_progress


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario("happy", "the caller listens to the end; every recording completes"),
        Scenario(
            "recording-fails",
            "MiniVoice cannot start the recording and sends recording.failed",
            recording_fails=True,
        ),
        Scenario(
            "caller-hangs-up",
            "the caller hangs up a third of the way into the first prompt",
            hangs_up_mid_prompt=True,
        ),
        Scenario(
            "no-digits",
            "the caller enters nothing at any collect (of a flow that has one)",
            enters_no_digits=True,
            seeks="collect",
        ),
        Scenario(
            "invalid-answer",
            "MiniVoice is pointed at a URL that answers no action payload",
            answer_path="/minivoice/no-such-answer/",
        ),
        Scenario(
            "busy-transfer",
            "the caller presses the keys that reach a flow's transfer, and its destination is busy",
            transfer_busy=True,
            seeks="transfer",
        ),
        Scenario(
            "in-progress",
            "the call is still going: played up to the first prompt, no end yet",
            stays_in_progress=True,
        ),
    )
}

DEFAULT_SCENARIO = "happy"
