"""Writing the audit trail: who (the signed-in user), when, what (an action, the object's
type and id, the call it concerns, a short detail) and from where (the client's address).

Called by the console where staff act, after the act succeeded, inside the same
transaction where the act has one, so that an act and its entry are stored together.

Where from: the request's REMOTE_ADDR. The app trusts no forwarding header for addresses
(it trusts only X-Forwarded-Proto, with SECURE_PROXY_SSL_HEADER): behind a proxy,
REMOTE_ADDR is the proxy's unless the proxy's own set-up passes the client's on.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db import models
from django.http import HttpRequest
from django.utils import timezone

from audit.models import AuditEntry

# A player asks for a recording in many Range requests, and asks again on every seek:
# listening is recorded once per user and recording in each window this long.
LISTEN_WINDOW = timedelta(minutes=10)
DETAIL_MAX = 500


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    ip: str | None

    @classmethod
    def of(cls, request: HttpRequest) -> Actor:
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        return cls(
            user_id=user.pk if signed_in else None,
            username=user.get_username() if signed_in else "",
            ip=client_ip(request),
        )


NOBODY = Actor(user_id=None, username="", ip=None)


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR when it is an address (a unix socket gives none)."""
    try:
        return str(ipaddress.ip_address(request.META.get("REMOTE_ADDR", "").strip()))
    except ValueError:
        return None


@dataclass(frozen=True)
class About:
    """What an entry is about: an object, and the call it concerns."""

    object_type: str
    object_id: str
    call_id: str = ""
    detail: str = ""

    @classmethod
    def row(cls, obj: models.Model, *, call_id: str = "", detail: str = "") -> About:
        return cls(obj._meta.label_lower, str(obj.pk), call_id=call_id, detail=detail)


def audit_record(*, actor: Actor | HttpRequest, action: str, about: About) -> AuditEntry:
    """One entry: `actor` did `action` to `about`, now."""
    return AuditEntry.objects.create(**_fields(_actor(actor), action, about))


def audit_record_each(
    *, actor: Actor | HttpRequest, action: str, abouts: Iterable[About]
) -> list[AuditEntry]:
    """One entry per object acted on (a replay of many events), in one INSERT."""
    who = _actor(actor)
    return AuditEntry.objects.bulk_create(
        [AuditEntry(**_fields(who, action, about)) for about in abouts]
    )


def audit_record_once(
    *, actor: Actor | HttpRequest, action: str, about: About, window: timedelta = LISTEN_WINDOW
) -> bool:
    """An entry unless this user did this to this object in the current window (fixed
    windows of `window` since the epoch); False when the window had one already.

    Race-free: the window's key is unique, so concurrent requests (a player's Range
    requests) insert it once between them, the others' inserts doing nothing.
    """
    who = _actor(actor)
    now = timezone.now()
    window_number = int(now.timestamp() // window.total_seconds())
    key = f"{action}:{who.user_id}:{about.object_type}:{about.object_id}:{window_number}"
    if AuditEntry.objects.filter(once_key=key).exists():
        return False
    entry = AuditEntry(**_fields(who, action, about), at=now, once_key=key)
    AuditEntry.objects.bulk_create([entry], ignore_conflicts=True)
    return True


def audit_entries_about_call(call_id: str, *, limit: int = 10) -> list[AuditEntry]:
    """What staff did about a call, newest first (its page's short list)."""
    if not call_id:
        return []
    return list(AuditEntry.objects.filter(call_minivoice_id=call_id).order_by("-at", "-pk")[:limit])


def _actor(actor: Actor | HttpRequest) -> Actor:
    return actor if isinstance(actor, Actor) else Actor.of(actor)


def _fields(actor: Actor, action: str, about: About) -> dict:
    return {
        "user_id": actor.user_id,
        "username": actor.username[:150],
        "ip": actor.ip,
        "action": action,
        "object_type": about.object_type[:64],
        "object_id": about.object_id[:255],
        "call_minivoice_id": about.call_id[:255],
        "detail": about.detail[:DETAIL_MAX],
    }
