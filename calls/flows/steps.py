"""How far a caller got, in plain words: one sentence per exchange or event.

Support reads these as a call's "last step"; keeping the wording here means a step reads
the same whether it was noted live or worked out again from the timeline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from calls.models import AnswerExchange
from calls.protocol import contract
from calls.protocol.actions import action_name


def answer_step(
    flow: str,
    payload: Mapping,
    *,
    version: int | None = None,
    step: str = "",
    draft: bool = False,
    pressed: str | None = None,
) -> str:
    """`Main line v3, step 'consent' (pressed 2): say, collect`: where in the flow, and
    the actions the caller was given there."""
    where = flow_position(flow, version=version, step=step, draft=draft, pressed=pressed)
    return with_actions(where, payload)


def with_actions(where: str, payload: Mapping) -> str:
    """A position followed by the names of the actions given there."""
    names = ", ".join(action_name(action) or "?" for action in payload.get("actions", []))
    return f"{where}: {names}"


def flow_position(
    flow: str,
    *,
    version: int | None = None,
    step: str = "",
    draft: bool = False,
    pressed: str | None = None,
) -> str:
    """`Main line v3, step 'consent' (pressed 2)`: the flow's step a call reached, and the
    keys that took it there (`(no input)` when a collect heard none)."""
    where = flow or "(no flow)"
    if draft:
        where += " draft"
    elif version is not None:
        where += f" v{version}"
    if step:
        where += f", step {step!r}"
    if pressed is not None:
        where += f" (pressed {pressed})" if pressed else " (no input)"
    return where


def exchange_step(exchange: AnswerExchange) -> str | None:
    """The step an answer_url exchange marks; None for a refused request."""
    if exchange.response_status != 200:
        return None
    return answer_step(
        exchange.flow,
        json.loads(exchange.response_body),
        version=exchange.flow_version,
        step=exchange.step,
        draft=exchange.flow_draft,
        pressed=_pressed(exchange),
    )


def _pressed(exchange: AnswerExchange) -> str | None:
    variables = exchange.variables if isinstance(exchange.variables, Mapping) else {}
    return pressed_on(exchange.query_string, variables)


def pressed_on(query_string: str, variables: Mapping) -> str | None:
    """The keys a follow-up brought back from a collect (None for a first request, and
    for a follow-up with none: a redirect's brings none either)."""
    if not contract.step_token(query_string):
        return None
    return contract.pressed(variables) or None


def end_step(final_status: str, before: str) -> str:
    """The step of an ended call: the end, and how far the caller got before it."""
    ended = f"Call ended ({final_status.lower()})" if final_status else "Call ended"
    return f"{ended} after: {before}"[:255] if before else ended


def event_step(event_type: str, data: Mapping) -> str | None:
    """The step a webhook event marks; None for events that are not caller progress."""
    if event_type == contract.ANSWER_URL_FAILED:
        error = data.get("error") if isinstance(data.get("error"), Mapping) else {}
        code = contract.text(error.get("code"), max_length=64) or "unknown error"
        message = contract.text(error.get("message"), max_length=150)
        return f"MiniVoice could not use our answer: {code} {message}".strip()
    if event_type == contract.RECORDING_FAILED:
        reason = contract.text(data.get("reason"), max_length=200)
        return f"Recording failed: {reason}" if reason else "Recording failed"
    return _FIXED_STEPS.get(event_type)


_FIXED_STEPS = {
    contract.CALL_INITIATED: "Call initiated",
    contract.CALL_RINGING: "Ringing",
    contract.CALL_ANSWERED: "Answered",
    contract.RECORDING_STARTED: "Recording started",
    contract.RECORDING_COMPLETED: "Recording completed",
}
