"""Answering from a flow: which step a request of a call gets, and its exact actions.

A call's first request gets the first step of the flow its dialled number reaches (the
default flow for any other number; the draft for a call from a test number). A follow-up
(after a collect or a redirect) names its step in the signed token of its URL, and the
branch is picked from the digits MiniVoice sends. Anything that cannot be answered from a
flow gets the safe fallback, with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from calls.flows.document import FlowDocument
from calls.flows.drafts import draft_of
from calls.flows.live import live_flows, version_document
from calls.flows.tokens import DRAFT, BadToken, StepToken, read_token, step_url
from calls.models import Call
from calls.protocol import contract

# The flow name logged with the fallback; what MiniVoice gets then: it must still be valid.
FALLBACK_FLOW = "fallback"
FALLBACK_PAYLOAD = {
    "actions": [
        {"say": {"text": "Sorry, we cannot take your call right now. Please try again later."}},
        {"hangup": {}},
    ]
}


@dataclass(frozen=True)
class Position:
    """Where in which flow an answer comes from (or why it is the fallback)."""

    flow: str
    version: int | None = None  # None for the draft or the fallback
    step: str = ""
    draft: bool = False
    consent: str = ""  # the step's mark: "given", "declined" or ""
    consent_required: bool = False  # the flow needs consent before recording
    reason: str = ""  # why the fallback, when it is one
    revision: int = -1  # the flows revision the flow was chosen at; -1: not chosen by number


def answer_for(
    *, call: Call, variables: Mapping, step_token: str, answer_url: str, revision: int | None
) -> tuple[Position, dict]:
    """The position and action payload for this request of the call."""
    if step_token:
        return _follow_up(call, variables, step_token, answer_url)
    return _first_request(call, answer_url, revision)


def fallback(reason: str, *, revision: int = -1) -> tuple[Position, dict]:
    return Position(flow=FALLBACK_FLOW, reason=reason, revision=revision), FALLBACK_PAYLOAD


def _first_request(call: Call, answer_url: str, revision: int | None) -> tuple[Position, dict]:
    live = live_flows(revision=revision)
    test_flow = live.test_numbers.get(call.from_number)
    if test_flow is not None:
        document = draft_of(test_flow)
        if document is not None:
            return _step_answer(
                call,
                test_flow,
                DRAFT,
                document,
                document.first_step,
                answer_url,
                revision=live.revision,
            )
    published = live.for_number(call.to_number)
    if published is None:
        return fallback(
            f"no flow answers {call.to_number or 'this number'} and no flow is the default",
            revision=live.revision,
        )
    document = published.document
    return _step_answer(
        call,
        published.flow_id,
        published.version,
        document,
        document.first_step,
        answer_url,
        revision=live.revision,
    )


def _follow_up(
    call: Call, variables: Mapping, signed: str, answer_url: str
) -> tuple[Position, dict]:
    try:
        token = read_token(signed, call_id=call.minivoice_id)
    except BadToken as refused:
        return fallback(str(refused))
    if token.version == DRAFT:
        document = draft_of(token.flow_id)
    else:
        document = version_document(token.flow_id, token.version)
    label = f"flow #{token.flow_id} {'draft' if token.version == DRAFT else f'v{token.version}'}"
    if document is None:
        return fallback(f"{label} no longer exists")
    step = document.steps.get(token.step)
    if step is None:
        return fallback(f"step {token.step!r} is missing from {document.name!r} ({label})")
    pressed = contract.pressed(variables) if step.hands_back == "collect" else None
    target = step.branch(pressed)
    if target is None:
        heard = "no input" if not pressed else f"digits {pressed!r}"
        return fallback(f"step {step.name!r} of {document.name!r} has no branch for {heard}")
    if target not in document.steps:
        return fallback(f"step {target!r} is missing from {document.name!r} ({label})")
    return _step_answer(call, token.flow_id, token.version, document, target, answer_url)


def _step_answer(
    call: Call,
    flow_id: int,
    version: int,
    document: FlowDocument,
    name: str,
    answer_url: str,
    *,
    revision: int = -1,
) -> tuple[Position, dict]:
    step = document.steps.get(name)
    if step is None:
        return fallback(f"step {name!r} is missing from {document.name!r}", revision=revision)
    if step.hands_back:
        url = step_url(answer_url, StepToken(call.minivoice_id, flow_id, version, name))
        actions = step.actions_with_url(url)
    else:
        actions = list(step.actions)
    position = Position(
        flow=document.name,
        version=None if version == DRAFT else version,
        step=name,
        draft=version == DRAFT,
        consent=step.consent,
        consent_required=document.requires_consent,
        revision=revision,
    )
    return position, {"actions": actions}
