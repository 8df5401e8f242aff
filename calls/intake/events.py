"""Webhook intake: store a signed delivery once, then see that a worker gets it.

Applying it is `calls.processing.batch`; the view calls one function here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from django.db import transaction
from django.db.models import F

from calls import dispatch
from calls.intake.inbound import InboundRequest
from calls.intake.webhook_ids import webhook_id_reused, webhook_id_used_by
from calls.models import WebhookEvent
from calls.protocol import contract
from calls.rows import insert_row

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Intake:
    event: WebhookEvent
    created: bool  # False: a retry of a delivery we already had


def event_ingest(*, request: InboundRequest) -> Intake:
    """Store a signed delivery once, then hand it to a worker after commit.

    The unique webhook_id makes two copies arriving at once store one row. A retry of a
    delivery whose processing never finished is handed to a worker again.
    """
    try:
        payload = contract.parse_json_object(request.body)
    except contract.MalformedRequest:
        payload = None
    facts = contract.read_event_facts(payload or {})
    # One webhook-id namespace across both endpoints. Every body the answer_url accepted
    # lacks an event type (it refuses envelopes), so only such bodies need the look-up.
    if not facts.event_type and webhook_id_used_by(request.webhook_id) == "answer":
        raise webhook_id_reused(used_by="an answer_url request")
    event, created = _insert_once(
        WebhookEvent(
            webhook_id=request.webhook_id,
            event_type=facts.event_type,
            call_minivoice_id=facts.call_id,
            occurred_at=facts.occurred_at,
            headers=request.headers,
            raw_body=request.body_text,
            payload=payload,
            state=WebhookEvent.State.PENDING
            if payload is not None
            else WebhookEvent.State.MALFORMED,
        )
    )
    if not created:
        # A retry, or a copy sent twice: counted for support, stored once.
        WebhookEvent.objects.filter(pk=event.pk).update(deliveries=F("deliveries") + 1)
    if not event.is_done:
        # After commit, so a worker never looks for a row not yet visible. Sending cannot
        # fail the request (see calls.dispatch): the stored row is what counts.
        transaction.on_commit(partial(dispatch.send_events, [event.pk]))
    return Intake(event=event, created=created)


def _insert_once(event: WebhookEvent) -> tuple[WebhookEvent, bool]:
    """Store `event`, or find the one already stored with its webhook-id.

    One INSERT … ON CONFLICT DO NOTHING when it is new, which is nearly always: the unique
    webhook_id decides a race, and no row back means "we have it". (get_or_create would
    SELECT first, then open a transaction around the INSERT: four round trips on the hot
    path; and a conflict raises nothing, so no savepoint is needed inside a transaction.)
    """
    if insert_row(event, ignore_conflicts=True):
        return event, True
    return WebhookEvent.objects.get(webhook_id=event.webhook_id), False
