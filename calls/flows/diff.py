"""What changed between two flow documents, by step: actions and branches, not layout.

Documents are compared as parsed JSON, so key order, spacing and the typed or keyed
spelling's layout never show as a change; an action that is the same object is the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import zip_longest

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
_FLOW_FIELDS = ("name", "numbers", "default", "requires_consent", "first_step", "test_numbers")


@dataclass(frozen=True)
class Change:
    path: str  # within the step, or the flow's field
    kind: str
    before: object = None
    after: object = None


@dataclass(frozen=True)
class StepDiff:
    step: str
    kind: str
    changes: list[Change] = field(default_factory=list)


@dataclass(frozen=True)
class FlowDiff:
    fields: list[Change]
    steps: list[StepDiff]

    @property
    def is_empty(self) -> bool:
        return not self.fields and not self.steps


def diff_documents(before: dict, after: dict) -> FlowDiff:
    fields = [
        Change(name, CHANGED, before.get(name), after.get(name))
        for name in _FLOW_FIELDS
        if before.get(name) != after.get(name)
    ]
    old_steps, new_steps = before.get("steps", {}), after.get("steps", {})
    steps = []
    for name in [*old_steps, *(n for n in new_steps if n not in old_steps)]:
        if name not in new_steps:
            steps.append(StepDiff(name, REMOVED))
        elif name not in old_steps:
            steps.append(StepDiff(name, ADDED, _step_changes({}, new_steps[name])))
        else:
            changes = _step_changes(old_steps[name], new_steps[name])
            if changes:
                steps.append(StepDiff(name, CHANGED, changes))
    return FlowDiff(fields, steps)


def _step_changes(before: dict, after: dict) -> list[Change]:
    changes = []
    pairs = zip_longest(before.get("actions", []), after.get("actions", []))
    for index, (old, new) in enumerate(pairs):
        if old != new:
            kind = ADDED if old is None else REMOVED if new is None else CHANGED
            changes.append(Change(f"actions[{index}]", kind, old, new))
    old_next, new_next = before.get("next", {}), after.get("next", {})
    for key in [*old_next, *(k for k in new_next if k not in old_next)]:
        old, new = old_next.get(key), new_next.get(key)
        if old != new:
            kind = ADDED if old is None else REMOVED if new is None else CHANGED
            changes.append(Change(f"next.{key}", kind, old, new))
    if before.get("consent", "") != after.get("consent", ""):
        changes.append(Change("consent", CHANGED, before.get("consent"), after.get("consent")))
    return changes
