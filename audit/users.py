"""Changes to what a user may do: their groups (which decide, among the rest, who sees
phone numbers in full), and in the admin their staff, superuser and active flags and their
own permissions. One entry per user per change.

Groups change through `m2m_changed` wherever they are changed (the admin, a shell, a
command), so none is missed. In the admin (`audit.admin`), the change is collected while
the user's form saves (`access_changes`), and written as one entry with the staff member
and their address: the admin's `groups.set()` removes, then adds, which would otherwise be
two entries with nobody's name on them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from audit.models import AuditEntry
from audit.record import NOBODY, About, Actor, audit_record_each


@dataclass
class _Changes:
    """Group names added and removed, and other changes said in words, per user pk."""

    added: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    removed: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    other: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))

    def users(self) -> list[int]:
        return sorted(set(self.added) | set(self.removed) | set(self.other))

    def detail(self, user_pk: int, username: str) -> str:
        added = self.added.get(user_pk, set())
        removed = self.removed.get(user_pk, set())
        groups = [f"+{name}" for name in sorted(added - removed)]
        groups += [f"-{name}" for name in sorted(removed - added)]
        words = ([f"groups {' '.join(groups)}"] if groups else []) + self.other.get(user_pk, [])
        return f"{username}: {'; '.join(words)}" if words else ""


_collecting: ContextVar[_Changes | None] = ContextVar("audit_access_changes", default=None)


@contextmanager
def access_changes(*, actor: Actor, other: dict[int, list[str]] | None = None) -> Iterator[None]:
    """Collect the group changes made inside, and write them (with `other` changes said in
    words, per user pk) as one entry per user, by `actor`, when it ends without error."""
    changes = _Changes()
    for user_pk, words in (other or {}).items():
        changes.other[user_pk].extend(words)
    token = _collecting.set(changes)
    try:
        yield
    finally:
        _collecting.reset(token)
    _write(changes, actor)


def on_groups_changed(sender, *, instance, action, reverse, pk_set, **kwargs) -> None:
    """`m2m_changed` on User.groups: from either side (`user.groups.add(group)` or
    `group.user_set.add(user)`)."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    pairs = _pairs(instance, reverse=reverse, pk_set=pk_set, clearing=action == "pre_clear")
    if not pairs:
        return
    collecting = _collecting.get()
    changes = collecting if collecting is not None else _Changes()
    side = changes.added if action == "post_add" else changes.removed
    for user_pk, group_name in pairs:
        side[user_pk].add(group_name)
    if collecting is None:
        _write(changes, NOBODY)


def _pairs(instance, *, reverse: bool, pk_set, clearing: bool) -> list[tuple[int, str]]:
    """(user pk, group name) for each membership the change touches."""
    if not reverse:  # instance is a user
        groups = instance.groups.all() if clearing else Group.objects.filter(pk__in=pk_set or ())
        return [(instance.pk, name) for name in groups.values_list("name", flat=True)]
    user_pks = instance.user_set.values_list("pk", flat=True) if clearing else sorted(pk_set or ())
    return [(user_pk, instance.name) for user_pk in user_pks]


def _write(changes: _Changes, actor: Actor) -> None:
    users = changes.users()
    if not users:
        return
    model = get_user_model()
    names = dict(model.objects.filter(pk__in=users).values_list("pk", model.USERNAME_FIELD))
    abouts = [
        About(model._meta.label_lower, str(pk), detail=detail)
        for pk in users
        if (detail := changes.detail(pk, str(names.get(pk, f"user {pk}"))))
    ]
    if abouts:
        audit_record_each(actor=actor, action=AuditEntry.Action.USER_ACCESS_CHANGED, abouts=abouts)
