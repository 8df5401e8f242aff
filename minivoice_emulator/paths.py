"""The steps a flow document says a call goes through, read the way MiniVoice runs them.

The emulator's own reading of the flow document (the file shape the app documents and
keeps stable: `first_step`, and per step its `actions` and `next`), not the app's code:
the verdict holds what the app served to it. MiniVoice runs a step's actions in order; a
`collect` comes back with the next keys the caller presses (`next[keys]`, else
`next["other"]`; none: `next["no_input"]`), a `redirect` with none (`next["redirect"]`);
`hangup` and `transfer` end the call, and so does the end of the actions.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

from calls.protocol.actions import action_name
from minivoice_emulator.runner import MAX_ANSWER_REQUESTS

PROMPTS = frozenset({"say", "play", "pause"})
ENDS = frozenset({"hangup", "transfer"})
NO_STEP = "(no step)"  # a branch to nowhere: the app can only answer its fallback
NO_INPUT, OTHER, REDIRECT = "no_input", "other", "redirect"


def expected_path(
    document: Mapping, digits: Sequence[str], *, stops_at_first_prompt: bool = False
) -> list[str]:
    """The steps the call is answered with, in order, when the caller presses `digits`
    at each collect in turn ("" or none left: no input). `stops_at_first_prompt`: the
    call goes no further than the first prompt it hears (the caller hangs up there)."""
    keys = list(digits)
    steps = _steps(document)
    path: list[str] = []
    name = document.get("first_step")
    while len(path) < MAX_ANSWER_REQUESTS:
        step = steps.get(name) if isinstance(name, str) else None
        if step is None:
            path.append(NO_STEP)
            return path
        path.append(name)
        back = _hands_back(step, stops_at_first_prompt=stops_at_first_prompt)
        if back is None:
            return path
        action, params = back
        if action == "redirect":
            name = _next(step).get(REDIRECT)
            continue
        pressed = (keys.pop(0) if keys else "")[: _max_digits(params)]
        name = _branch(step, pressed)
    return path


def keys_to(document: Mapping, action: str) -> list[str] | None:
    """Keys to press at each collect in turn so that the call reaches a step that runs
    `action`; None if no path of the flow does. Fewest collects first, and of those,
    keys named in the flow before no input (a caller who means to get there)."""
    steps = _steps(document)
    first = document.get("first_step")
    queue: deque[tuple[str, list[str]]] = deque([(first, [])]) if first in steps else deque()
    seen = set()
    while queue:
        name, keys = queue.popleft()
        if name in seen:
            continue
        seen.add(name)
        step = steps[name]
        if action in _runs(step):
            return keys
        back = _hands_back(step)
        if back is None:
            continue
        branches = _next(step)
        if back[0] == "redirect":
            choices = [(branches.get(REDIRECT), None)]
        else:
            named = [(target, key) for key, target in branches.items() if key not in _SPECIAL]
            choices = [*named, (branches.get(NO_INPUT), "")]
        for target, key in choices:
            if isinstance(target, str) and target in steps and target not in seen:
                queue.append((target, keys if key is None else [*keys, key]))
    return None


def uses(document: Mapping, action: str) -> bool:
    """Whether a step of the flow runs `action`."""
    return any(action in _runs(step) for step in _steps(document).values())


_SPECIAL = frozenset({NO_INPUT, OTHER, REDIRECT})


def _steps(document: Mapping) -> dict[str, Mapping]:
    steps = document.get("steps")
    if not isinstance(steps, Mapping):
        return {}
    return {name: step for name, step in steps.items() if isinstance(step, Mapping)}


def _next(step: Mapping) -> Mapping:
    branches = step.get("next")
    return branches if isinstance(branches, Mapping) else {}


def _actions(step: Mapping) -> list[tuple[str, Mapping]]:
    actions = step.get("actions")
    named = []
    for action in actions if isinstance(actions, list) else []:
        name = action_name(action) if isinstance(action, Mapping) else None
        params = action.get(name) if name and name in action else action
        named.append((name or "?", params if isinstance(params, Mapping) else {}))
    return named


def _runs(step: Mapping) -> list[str]:
    """The actions MiniVoice runs of a step: up to the one that ends it or hands back."""
    ran = []
    for name, _ in _actions(step):
        ran.append(name)
        if name in ENDS or name in ("collect", "redirect"):
            break
    return ran


def _hands_back(
    step: Mapping, *, stops_at_first_prompt: bool = False
) -> tuple[str, Mapping] | None:
    """The collect or redirect that brings MiniVoice back after this step, with its
    parameters; None when the call ends in it (or the caller stops listening)."""
    for name, params in _actions(step):
        if stops_at_first_prompt and name in PROMPTS:
            return None
        if name in ENDS:
            return None
        if name in ("collect", "redirect"):
            return name, params
    return None


def _branch(step: Mapping, pressed: str) -> str | None:
    branches = _next(step)
    if not pressed:
        return branches.get(NO_INPUT)
    return branches.get(pressed, branches.get(OTHER))


def _max_digits(params: Mapping) -> int:
    value = params.get("max_digits", 32)
    return value if isinstance(value, int) and value > 0 else 32
