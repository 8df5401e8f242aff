"""What is wrong with a flow before callers reach it: plain functions over a document.

Errors refuse publishing; warnings are shown and allowed. Every finding has a path into
the flow document (`steps.greeting.actions[1].collect.max_digits`) and plain words.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from calls.flows.document import (
    CONSENT_GIVEN,
    NO_INPUT,
    OTHER,
    REDIRECT,
    URL_ACTIONS,
    FlowDocument,
    Step,
)
from calls.protocol.actions import Problem, action_name, validate_payload

# What a collect's and a redirect's url is while checking: the real one is written per
# call, and is always a valid URL.
PLACEHOLDER_URL = "https://app.invalid/minivoice/answer/?step=checked"
# From this many digits, a collect may be a card number (PCI DSS: never in the audio).
CARD_NUMBER_DIGITS = 12
# Steps after which the call ends or leaves us (no next step needed).
ENDINGS = frozenset({"hangup", "transfer"})


@dataclass(frozen=True)
class Checked:
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]

    @property
    def can_publish(self) -> bool:
        return not self.errors


def check_flow(document: FlowDocument) -> Checked:
    """Every error and warning of the flow, in the order of its steps."""
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for step in document.steps.values():
        _check_actions(step, errors, warnings)
        _check_next(document, step, errors, warnings)
    if document.first_step not in document.steps:
        errors.append(Problem("first_step", f"there is no step named {document.first_step!r}"))
        return Checked(tuple(errors), tuple(warnings))
    reachable = _reachable(document, document.first_step)
    for name in document.steps:
        if name not in reachable:
            errors.append(
                Problem(
                    f"steps.{name}",
                    f"unreachable: no path from the first step {document.first_step!r} comes here",
                )
            )
    errors.extend(_loops_without_way_out(document, reachable))
    if document.requires_consent:
        errors.extend(_recording_before_consent(document))
    warnings.extend(_recording_warnings(document))
    return Checked(tuple(errors), tuple(warnings))


def successors(step: Step) -> list[str]:
    """The steps MiniVoice may come back to after this one (none if it ends the call)."""
    if step.hands_back == "redirect":
        return [step.next[REDIRECT]] if REDIRECT in step.next else []
    if step.hands_back == "collect":
        return list(dict.fromkeys(step.next.values()))
    return []


def _check_actions(step: Step, errors: list[Problem], warnings: list[Problem]) -> None:
    where = f"steps.{step.name}."
    for index, action in enumerate(step.actions):
        name = action_name(action) if isinstance(action, dict) else None
        params = action.get(name) if isinstance(action, dict) and "type" not in action else action
        if name in URL_ACTIONS and isinstance(params, dict) and "url" in params:
            errors.append(
                Problem(
                    f"{where}actions[{index}].{name}.url",
                    "the app writes this URL (back to the answer_url, signed for the call): "
                    "leave it out",
                )
            )
    validation = validate_payload({"actions": step.actions_with_url(PLACEHOLDER_URL)})
    errors.extend(Problem(where + problem.path, problem.message) for problem in validation.errors)
    warnings.extend(
        Problem(where + problem.path, problem.message) for problem in validation.warnings
    )
    names = step.names
    if "collect" in names and names.index("collect") != len(names) - 1:
        index = names.index("collect") + 1
        warnings.append(
            Problem(
                f"{where}actions[{index}]",
                "never runs: MiniVoice asks for the next step once the collect is done",
            )
        )
    last = names[-1] if names else None
    if step.actions and last not in ENDINGS | URL_ACTIONS:
        warnings.append(
            Problem(
                f"steps.{step.name}",
                f"ends with {last or 'an unknown action'}, neither hangup, transfer, collect "
                "nor redirect: what the caller gets after it is up to MiniVoice",
            )
        )


def _check_next(
    document: FlowDocument, step: Step, errors: list[Problem], warnings: list[Problem]
) -> None:
    where = f"steps.{step.name}.next"
    for key, target in step.next.items():
        if target not in document.steps:
            errors.append(Problem(f"{where}.{key}", f"there is no step named {target!r}"))
    kind = step.hands_back
    if kind == "collect":
        if NO_INPUT not in step.next:
            errors.append(
                Problem(
                    where,
                    "a collect needs a branch for no input (no_input): a caller who presses "
                    "nothing would get the fallback",
                )
            )
        if OTHER not in step.next:
            warnings.append(
                Problem(
                    where, "no branch for any other key (other): those callers get the fallback"
                )
            )
    elif kind == "redirect":
        if REDIRECT not in step.next:
            errors.append(Problem(f"{where}.redirect", "a redirect needs the step it goes to"))
    elif step.next:
        warnings.append(
            Problem(where, "never used: the step has no collect or redirect to come back from")
        )


def _reachable(document: FlowDocument, start: str) -> dict[str, list[str]]:
    """Every step reachable from `start`, with the path of steps that first reaches it."""
    paths = {start: [start]}
    queue = deque([start])
    while queue:
        name = queue.popleft()
        for target in successors(document.steps[name]):
            if target in document.steps and target not in paths:
                paths[target] = [*paths[name], target]
                queue.append(target)
    return paths


def _loops_without_way_out(document: FlowDocument, reachable: dict) -> list[Problem]:
    """Reachable steps from which no path ends the call: a loop the caller never leaves."""
    ends = {
        name
        for name, step in document.steps.items()
        if not successors(step) or any(t not in document.steps for t in successors(step))
    }
    way_out = set(ends)
    changed = True
    while changed:
        changed = False
        for name, step in document.steps.items():
            if name not in way_out and any(t in way_out for t in successors(step)):
                way_out.add(name)
                changed = True
    return [
        Problem(
            f"steps.{name}",
            "a loop with no way out: from here every path comes back round "
            f"({' → '.join(_loop_of(document, name))}) and the call never ends",
        )
        for name in reachable
        if name not in way_out
    ]


def _loop_of(document: FlowDocument, start: str) -> list[str]:
    path, seen = [start], {start}
    while True:
        following = successors(document.steps[path[-1]])
        target = following[0] if following else start
        path.append(target)
        if target in seen:
            return path
        seen.add(target)


def _recording_before_consent(document: FlowDocument) -> list[Problem]:
    """A start_recording that some path reaches without passing a "consent given" step
    (the step itself counts: its caller consented to get there)."""
    problems = []
    paths = {document.first_step: [document.first_step]}
    queue = deque([document.first_step])
    while queue:
        name = queue.popleft()
        step = document.steps[name]
        if step.consent == CONSENT_GIVEN:
            continue
        for index, action_name_ in enumerate(step.names):
            if action_name_ == "start_recording":
                problems.append(
                    Problem(
                        f"steps.{name}.actions[{index}].start_recording",
                        "recording could start before the caller consents: the path "
                        f"{' → '.join(paths[name])} passes no step marked consent given",
                    )
                )
        for target in successors(step):
            if target in document.steps and target not in paths:
                paths[target] = [*paths[name], target]
                queue.append(target)
    return problems


def _recording_warnings(document: FlowDocument) -> list[Problem]:
    """stop_recording that nothing started, and a long collect while recording may run."""
    may_record = recording_at_entry(document)
    problems = []
    for name, step in document.steps.items():
        if name not in may_record:
            continue
        recording = may_record[name]
        for index, action in enumerate(step.actions):
            action_name_ = step.names[index]
            if action_name_ == "start_recording":
                recording = True
            elif action_name_ == "stop_recording":
                if not recording:
                    problems.append(
                        Problem(
                            f"steps.{name}.actions[{index}].stop_recording",
                            "no start_recording before it on any path: nothing to stop",
                        )
                    )
                recording = False
            elif action_name_ == "collect" and recording and _digits(action) >= CARD_NUMBER_DIGITS:
                problems.append(
                    Problem(
                        f"steps.{name}.actions[{index}].collect",
                        "card numbers would be kept in the recording: stop_recording before "
                        "this step",
                    )
                )
    return problems


def recording_at_entry(document: FlowDocument) -> dict[str, bool]:
    """Per reachable step, whether a recording may be running when a call enters it."""
    state = {document.first_step: False}
    queue = deque([document.first_step])
    while queue:
        name = queue.popleft()
        step = document.steps[name]
        recording = state[name]
        for action_name_ in step.names:
            if action_name_ == "start_recording":
                recording = True
            elif action_name_ == "stop_recording":
                recording = False
        for target in successors(step):
            if target not in document.steps:
                continue
            if target not in state or (recording and not state[target]):
                state[target] = state.get(target, False) or recording
                queue.append(target)
    return state


def _digits(action: object) -> int:
    if not isinstance(action, dict):
        return 0
    params = action if "type" in action else action.get("collect", {})
    value = params.get("max_digits", 0) if isinstance(params, dict) else 0
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
