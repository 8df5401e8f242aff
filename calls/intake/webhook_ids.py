"""One webhook-id namespace across both endpoints: every request MiniVoice signs has an
id of its own, so an id seen on either door before marks a replay."""

from __future__ import annotations

import logging

from django.db.models import Value

from calls.models import AnswerExchange, WebhookEvent
from calls.protocol import contract

logger = logging.getLogger(__name__)


def webhook_id_used_by(webhook_id: str) -> str | None:
    """ "answer" or "event" if a stored request has this webhook-id: one query for both."""
    answers = AnswerExchange.objects.filter(webhook_id=webhook_id).annotate(kind=Value("answer"))
    events = WebhookEvent.objects.filter(webhook_id=webhook_id).annotate(kind=Value("event"))
    # No ORDER BY (the models' default one): SQLite refuses it inside a UNION.
    kinds = (
        answers.order_by()
        .values_list("kind", flat=True)
        .union(events.order_by().values_list("kind", flat=True))
    )
    found = set(kinds)
    return "answer" if "answer" in found else next(iter(found), None)


def webhook_id_reused(*, used_by: str) -> contract.MalformedRequest:
    return contract.MalformedRequest(
        "webhook_id_reused",
        f"This webhook-id was already used by {used_by}: every request MiniVoice signs "
        "has an id of its own, so this one is a replay.",
        status=409,
    )
