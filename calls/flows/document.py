"""The flow document: a whole flow as one JSON object.

It is the shape of a `flows export` file and of every published version, and it stays
stable: the app may add optional keys, never rename or drop one. A document that does not
have this shape is refused with every problem and its path (`read_document`); whether
the flow it describes is any good is for `calls.flows.checks`.

    {"name": "Main line", "numbers": ["+15550199"], "default": false,
     "requires_consent": true, "first_step": "greeting", "test_numbers": ["+15550111"],
     "steps": {
       "greeting": {"actions": [{"say": {"text": "Press 1 to agree."}},
                                {"collect": {"max_digits": 1, "timeout_seconds": 5}}],
                    "next": {"1": "record", "no_input": "goodbye", "other": "goodbye"}},
       "record": {"consent": "given", "actions": [{"start_recording": {}}, ...]},
       "goodbye": {"actions": [{"say": {"text": "Goodbye."}}, {"hangup": {}}]}}}

- `numbers`, `test_numbers`: E.164 (`+` and 2 to 15 digits).
- `default`: the flow answers every number no other flow answers (one flow at most).
- a step's `next`: after a `collect`, the step per key pressed (`"1"`, `"12"`, `"*"`),
  `"no_input"` and `"other"`; after a `redirect`, `"redirect"`.
- a step's `consent`: `"given"` or `"declined"`, for a step the caller reaches by
  consenting to recording, or by refusing.
- A `collect`'s or a `redirect`'s `url` is left out: the app writes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from calls.protocol.actions import Problem, action_name

E164 = re.compile(r"\+[1-9][0-9]{1,14}")
NAME_MAX_LENGTH = 64
KEYS = re.compile(r"[0-9*#]{1,32}")
NO_INPUT, OTHER, REDIRECT = "no_input", "other", "redirect"
CONSENT_GIVEN, CONSENT_DECLINED = "given", "declined"
# The actions whose `url` the app writes: MiniVoice comes back there for the next step.
URL_ACTIONS = frozenset({"collect", "redirect"})

_FLOW_KEYS = {"name", "numbers", "default", "requires_consent", "first_step", "test_numbers"}
_STEP_KEYS = {"actions", "next", "consent"}


@dataclass(frozen=True)
class Step:
    name: str
    actions: list = field(default_factory=list)
    next: dict[str, str] = field(default_factory=dict)
    consent: str = ""

    @property
    def names(self) -> list[str | None]:
        return [
            action_name(action) if isinstance(action, dict) else None for action in self.actions
        ]

    @property
    def hands_back(self) -> str | None:
        """ "collect" or "redirect" if MiniVoice comes back after this step (it has one),
        else None: the call ends or leaves us here."""
        names = self.names
        if "collect" in names:
            return "collect"
        return "redirect" if "redirect" in names else None

    def branch(self, digits: str | None) -> str | None:
        """The next step's name for a return with these digits; None if there is none."""
        if self.hands_back == "redirect":
            return self.next.get(REDIRECT)
        if not digits:
            return self.next.get(NO_INPUT)
        return self.next.get(digits, self.next.get(OTHER))

    def actions_with_url(self, url: str) -> list:
        """The actions as MiniVoice gets them: each collect's and redirect's `url` is
        `url` (copies; the step is left alone)."""
        return [_with_url(action, url) for action in self.actions]

    def as_json(self) -> dict:
        document: dict = {"actions": self.actions}
        if self.next:
            document["next"] = self.next
        if self.consent:
            document["consent"] = self.consent
        return document


@dataclass(frozen=True)
class FlowDocument:
    name: str
    first_step: str
    steps: dict[str, Step]
    numbers: tuple[str, ...] = ()
    default: bool = False
    requires_consent: bool = False
    test_numbers: tuple[str, ...] = ()

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "numbers": list(self.numbers),
            "default": self.default,
            "requires_consent": self.requires_consent,
            "first_step": self.first_step,
            "test_numbers": list(self.test_numbers),
            "steps": {name: step.as_json() for name, step in self.steps.items()},
        }


class DocumentError(ValueError):
    """The data is not a flow document; `problems` says every way, with paths."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(problem) for problem in problems))


def read_document(data: object) -> FlowDocument:
    """A FlowDocument from parsed JSON, or DocumentError with every problem found."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise DocumentError([Problem("<file>", "must be a JSON object (a flow document)")])
    for key in data:
        if key not in _FLOW_KEYS | {"steps"}:
            problems.append(Problem(str(key), "unknown key"))
    name = _name(data.get("name"), "name", problems)
    first_step = _name(data.get("first_step"), "first_step", problems)
    numbers = _numbers(data.get("numbers", []), "numbers", problems)
    test_numbers = _numbers(data.get("test_numbers", []), "test_numbers", problems)
    default = _flag(data.get("default", False), "default", problems)
    requires_consent = _flag(data.get("requires_consent", False), "requires_consent", problems)
    steps: dict[str, Step] = {}
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, dict) or not raw_steps:
        problems.append(Problem("steps", "must be an object of named steps, at least one"))
    else:
        for step_name, raw in raw_steps.items():
            step = _step(step_name, raw, problems)
            if step is not None:
                steps[step_name] = step
    if problems:
        raise DocumentError(problems)
    return FlowDocument(
        name=name,
        first_step=first_step,
        steps=steps,
        numbers=numbers,
        default=default,
        requires_consent=requires_consent,
        test_numbers=test_numbers,
    )


def _name(value: object, path: str, problems: list[Problem]) -> str:
    if not isinstance(value, str) or not value.strip():
        problems.append(Problem(path, "this field is required: a non-empty string"))
        return ""
    if len(value) > NAME_MAX_LENGTH:
        problems.append(Problem(path, f"must be at most {NAME_MAX_LENGTH} characters"))
    return value


def _flag(value: object, path: str, problems: list[Problem]) -> bool:
    if not isinstance(value, bool):
        problems.append(Problem(path, "must be true or false"))
        return False
    return value


def _numbers(value: object, path: str, problems: list[Problem]) -> tuple[str, ...]:
    if not isinstance(value, list):
        problems.append(Problem(path, 'must be a list of E.164 numbers (["+15550199"])'))
        return ()
    for index, number in enumerate(value):
        if not isinstance(number, str) or not E164.fullmatch(number):
            problems.append(Problem(f"{path}[{index}]", "must be an E.164 number (+15550199)"))
    return tuple(number for number in value if isinstance(number, str))


def _step(name: object, raw: object, problems: list[Problem]) -> Step | None:
    path = f"steps.{name}"
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX_LENGTH:
        problems.append(Problem(path, f"a step's name must be 1 to {NAME_MAX_LENGTH} characters"))
        return None
    if not isinstance(raw, dict):
        problems.append(Problem(path, 'must be an object with "actions"'))
        return None
    for key in raw:
        if key not in _STEP_KEYS:
            problems.append(Problem(f"{path}.{key}", "unknown key"))
    actions = raw.get("actions")
    if not isinstance(actions, list):
        problems.append(Problem(f"{path}.actions", "must be a list of actions"))
        actions = []
    next_ = raw.get("next", {})
    if not isinstance(next_, dict):
        problems.append(Problem(f"{path}.next", "must be an object: key → step name"))
        next_ = {}
    for key, target in next_.items():
        if key not in (NO_INPUT, OTHER, REDIRECT) and not KEYS.fullmatch(key):
            problems.append(
                Problem(
                    f"{path}.next.{key}",
                    'must be keys pressed (0-9, * or #), "no_input", "other" or "redirect"',
                )
            )
        if not isinstance(target, str) or not target:
            problems.append(Problem(f"{path}.next.{key}", "must name a step"))
    consent = raw.get("consent", "")
    if consent not in ("", CONSENT_GIVEN, CONSENT_DECLINED):
        problems.append(Problem(f"{path}.consent", 'must be "given" or "declined"'))
        consent = ""
    return Step(name=name, actions=actions, next=dict(next_), consent=consent)


def _with_url(action: object, url: str) -> object:
    if not isinstance(action, dict):
        return action
    name = action_name(action)
    if name not in URL_ACTIONS:
        return action
    if "type" in action:
        return {**action, "url": url}
    params = action[name]
    return {name: {**params, "url": url}} if isinstance(params, dict) else action
