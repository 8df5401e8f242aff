"""Argument types shared by the operators' commands, each refusing bad input in one line."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

_SPAN = re.compile(r"(\d{1,6})([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def span(value: str, *, option: str) -> timedelta:
    """`90d`, `12h` or `30m` as a timedelta greater than zero."""
    match = _SPAN.fullmatch(value.strip())
    if not match or int(match[1]) == 0:
        raise CommandError(
            f"{option} takes a length of time such as 90d, 12h or 30m (got {value!r}).",
            returncode=2,
        )
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def moment(value: str, *, option: str) -> datetime:
    """An ISO date or date-time (UTC unless it says), or a span back from now (`2h`)."""
    text = value.strip()
    if _SPAN.fullmatch(text):
        return timezone.now() - span(text, option=option)
    try:
        parsed = parse_datetime(text)
        if parsed is None and (day := parse_date(text)) is not None:
            parsed = datetime(day.year, day.month, day.day)
    except ValueError:
        parsed = None
    if parsed is None:
        raise CommandError(
            f"{option} takes a date (2026-05-29), a date-time (2026-05-29T12:00:00Z) or a "
            f"length of time back from now such as 2h (got {value!r}).",
            returncode=2,
        )
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
