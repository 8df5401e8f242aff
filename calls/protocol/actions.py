"""The MiniVoice action schema: validate an answer_url payload before we return it.

MiniVoice asks our answer_url what to do on a call and we answer with
``{"actions": [...]}``. MiniVoice rejects a whole payload if any action field is malformed,
so every payload is checked here first. The checker works on the already-parsed object
(what ``json.loads`` gives), reports every problem with its path, and never stops at the
first one.

Each action may be written in either of two equivalent forms:

* keyed: ``{"say": {"text": "Hello"}}`` - one key, the action name, holding its parameters;
* typed: ``{"type": "say", "text": "Hello"}`` - a ``type`` field with the parameters beside it.

Only the standard library is used, so this module can be imported without Django settings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

# --- Field rules -------------------------------------------------------------------------
# Each rule checks one parameter value and returns an error message, or None if it is fine.


@dataclass(frozen=True, kw_only=True)
class Rule:
    """Base of all field rules; ``required`` says whether the parameter must be present."""

    required: bool = False

    def check(self, value: object) -> str | None:
        raise NotImplementedError


@dataclass(frozen=True)
class Text(Rule):
    """Any string, empty included."""

    def check(self, value: object) -> str | None:
        return None if isinstance(value, str) else "must be a string"


@dataclass(frozen=True)
class NonEmptyText(Rule):
    """A string with something other than whitespace in it."""

    def check(self, value: object) -> str | None:
        if isinstance(value, str) and value.strip():
            return None
        return "must be a non-empty string"


@dataclass(frozen=True)
class WholeNumber(Rule):
    """An int from ``low`` to ``high`` inclusive."""

    low: int
    high: int

    def check(self, value: object) -> str | None:
        # bool is a subclass of int in Python but true/false is never a count in JSON;
        # floats are refused even when integral (5.0) because MiniVoice wants an integer.
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if is_int and self.low <= value <= self.high:
            return None
        return f"must be a whole number from {self.low} to {self.high}"


@dataclass(frozen=True)
class OneOf(Rule):
    """One of a fixed set of strings; ``label`` describes the set in the message."""

    choices: frozenset[str]
    label: str

    def check(self, value: object) -> str | None:
        if isinstance(value, str) and value in self.choices:
            return None
        return f"must be one of {self.label}"


@dataclass(frozen=True)
class HttpUrl(Rule):
    """An absolute http or https URL with a host."""

    def check(self, value: object) -> str | None:
        return None if is_http_url(value) else "must be an absolute http or https URL"


@dataclass(frozen=True)
class Destination(Rule):
    """Where a call can be transferred: an E.164 number or a sip: URI."""

    def check(self, value: object) -> str | None:
        if isinstance(value, str) and (E164.fullmatch(value) or SIP_URI.fullmatch(value)):
            return None
        return "must be an E.164 number (+15550100) or a sip: URI"


# [0-9] rather than \d: \d also matches non-ASCII digits, which no phone network dials.
E164 = re.compile(r"\+[1-9][0-9]{1,14}")
SIP_URI = re.compile(r"sip:\S+")


def is_http_url(value: object) -> bool:
    """True for an absolute http(s) URL with a host and no whitespace."""
    if not isinstance(value, str) or any(char.isspace() for char in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a malformed port such as ":abc"
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


# --- The contract ------------------------------------------------------------------------
# Everything we know or assume about MiniVoice's actions lives here, so a change is one edit.

KEYPAD_KEYS = frozenset("0123456789*#")

ACTION_SPECS: dict[str, dict[str, Rule]] = {
    "start_recording": {},
    "stop_recording": {},
    "say": {
        "text": NonEmptyText(required=True),
        "voice": Text(),
        "language": Text(),
    },
    "play": {"url": HttpUrl(required=True)},
    "collect": {
        "max_digits": WholeNumber(1, 32),
        "timeout_seconds": WholeNumber(1, 60),
        "finish_on_key": OneOf(KEYPAD_KEYS, "0-9, *, #"),
        "url": HttpUrl(),
    },
    "redirect": {"url": HttpUrl(required=True)},
    "transfer": {
        "to": Destination(required=True),
        "timeout_seconds": WholeNumber(1, 600),  # (assumed) range
    },
    "pause": {"seconds": WholeNumber(1, 60)},
    "hangup": {},
}

MIN_ACTIONS = 1  # (assumed) MiniVoice refuses an empty action list
# Actions that end our part of the call: anything after them never runs.
TERMINAL_ACTIONS = frozenset({"hangup", "redirect", "transfer"})

ACTION_NAMES: frozenset[str] = frozenset(ACTION_SPECS)

# --- Results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One error or warning, located by a path such as ``actions[2].say.text``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class Validation:
    """Everything found in one payload; warnings do not make it invalid."""

    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]

    @property
    def is_valid(self) -> bool:
        return not self.errors


class InvalidActions(ValueError):
    """Raised by ``ensure_valid``; ``errors`` holds every problem found."""

    def __init__(self, errors: tuple[Problem, ...]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(str(problem) for problem in self.errors))


# --- Validation --------------------------------------------------------------------------


def validate_payload(payload: object) -> Validation:
    """Check a parsed answer_url payload and report every error and warning."""
    errors: list[Problem] = []
    actions = _actions_list(payload, errors)
    if actions is None:
        return Validation(errors=tuple(errors), warnings=())
    for index, action in enumerate(actions):
        errors.extend(_check_action(action, f"actions[{index}]"))
    return Validation(errors=tuple(errors), warnings=tuple(_unreachable_warnings(actions)))


def ensure_valid(payload: object) -> Validation:
    """Return the Validation of a payload, or raise InvalidActions if it has errors."""
    validation = validate_payload(payload)
    if not validation.is_valid:
        raise InvalidActions(validation.errors)
    return validation


@lru_cache(maxsize=1024)
def ensure_valid_json(text: str) -> Validation:
    """`ensure_valid` of a payload given as the JSON text MiniVoice gets, remembered.

    A flow gives most of its calls the same actions, so most answers are a text checked
    before: the check is then one dictionary look-up. An invalid payload raises every
    time (lru_cache keeps no exception).
    """
    return ensure_valid(json.loads(text))


def action_name(action: Mapping[Any, Any]) -> str | None:
    """The name an action is written with, in either form; None if there is no string name.

    The name is returned even if it is not a known action; compare with ACTION_NAMES.
    """
    if not isinstance(action, Mapping):
        return None
    if "type" in action:
        name = action["type"]
    elif len(action) == 1:
        name = next(iter(action))
    else:
        return None
    return name if isinstance(name, str) else None


def _actions_list(payload: object, errors: list[Problem]) -> list[object] | None:
    """The payload's action list, or None (with errors added) if there is none to check."""
    if not isinstance(payload, Mapping):
        errors.append(Problem("<payload>", 'must be an object with an "actions" array'))
        return None
    for key in payload:
        if key != "actions":
            errors.append(Problem(str(key), "unknown field"))
    if "actions" not in payload:
        errors.append(Problem("actions", "this field is required"))
        return None
    actions = payload["actions"]
    if not isinstance(actions, list):
        errors.append(Problem("actions", "must be an array of actions"))
        return None
    if len(actions) < MIN_ACTIONS:
        errors.append(Problem("actions", "must contain at least one action"))
    return actions


def _check_action(action: object, path: str) -> list[Problem]:
    if not isinstance(action, Mapping):
        return [Problem(path, "must be an object")]
    # A "type" key always means typed form, so an action can never be named "type".
    if "type" in action:
        return _check_typed(action, path)
    return _check_keyed(action, path)


def _check_typed(action: Mapping[Any, Any], path: str) -> list[Problem]:
    name = action["type"]
    if not isinstance(name, str):
        return [Problem(f"{path}.type", "must be a string naming the action")]
    if name not in ACTION_SPECS:
        return [Problem(f"{path}.type", f'unknown action "{name}"')]
    params = {key: value for key, value in action.items() if key != "type"}
    return _check_params(params, ACTION_SPECS[name], path)


def _check_keyed(action: Mapping[Any, Any], path: str) -> list[Problem]:
    if len(action) != 1:
        return [Problem(path, 'must have exactly one key, the action name (or a "type" field)')]
    ((name, params),) = action.items()
    if name not in ACTION_SPECS:
        return [Problem(path, f'unknown action "{name}"')]
    if not isinstance(params, Mapping):
        return [Problem(f"{path}.{name}", "must be an object of parameters")]
    return _check_params(params, ACTION_SPECS[name], f"{path}.{name}")


def _check_params(params: Mapping[Any, Any], spec: dict[str, Rule], path: str) -> list[Problem]:
    """Check given parameters in the order written, then report missing required ones."""
    problems: list[Problem] = []
    for key, value in params.items():
        rule = spec.get(key)
        message = "unknown parameter" if rule is None else rule.check(value)
        if message is not None:
            problems.append(Problem(f"{path}.{key}", message))
    for key, rule in spec.items():
        if rule.required and key not in params:
            problems.append(Problem(f"{path}.{key}", "this field is required"))
    return problems


def _unreachable_warnings(actions: list[object]) -> list[Problem]:
    """One warning at the first known action that follows a hangup, redirect or transfer."""
    stopper: tuple[int, str] | None = None
    for index, action in enumerate(actions):
        name = action_name(action) if isinstance(action, Mapping) else None
        if name not in ACTION_NAMES:
            continue
        if stopper is not None:
            stop_index, stop_name = stopper
            message = f'never runs: it comes after "{stop_name}" at actions[{stop_index}]'
            return [Problem(f"actions[{index}]", message)]
        if name in TERMINAL_ACTIONS:
            stopper = (index, name)
    return []
