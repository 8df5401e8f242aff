"""What happens when MiniVoice asks for actions or tells us about a call.

Views call one function here; so do the sweep and replay (applying an event is
`calls.processing`). Everything that changes several rows happens inside one transaction,
and slow work never runs inside one.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, QuerySet, Value
from django.utils import timezone

from calls import contract, dispatch, flows
from calls.actions import ensure_valid_json
from calls.errors import envelope
from calls.inbound import InboundRequest
from calls.models import AnswerExchange, Call, WebhookEvent
from calls.rows import call_and_exchange_insert, call_create_or_lock, insert_row, update_row
from calls.steps import answer_step

logger = logging.getLogger(__name__)


# -- answer_url ---------------------------------------------------------------------------


def answer_call(*, request: InboundRequest, answer: contract.AnswerRequest) -> AnswerExchange:
    """Record the call, pick its actions and log the exact answer we give MiniVoice.

    A request replayed with a webhook-id we answered already gets that same answer and
    changes nothing: a retry is harmless, and a captured signature buys nothing new. The
    exchange's unique webhook_id decides it, on the insert that logs the answer: a replay
    fails there, which rolls back all it did, and reads back the exchange stored first.
    Replays are rare, so the usual request pays no lookup for them.
    """
    try:
        return _answer_and_log(request=request, answer=answer)
    except _Replayed:
        # A replay, or the same request twice at once: the first one logged is the answer.
        return AnswerExchange.objects.get(webhook_id=request.webhook_id)


class _Replayed(Exception):
    """The request's webhook-id has an exchange already: undo this copy's changes."""


def _webhook_id_used_by(webhook_id: str) -> str | None:
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


def _answer_and_log(*, request: InboundRequest, answer: contract.AnswerRequest) -> AnswerExchange:
    now = timezone.now()
    # Usually the call's first request: the call is new, and both rows are known in full
    # before anything is written, so they are stored in one statement.
    call = _new_call(answer, now=now)
    exchange = _answer(call, request=request, answer=answer, now=now)
    try:
        if call_and_exchange_insert(call, exchange, webhook_id=request.webhook_id):
            return exchange
    except IntegrityError:
        pass  # its webhook-id has an exchange: the general path below tells why
    # The call exists (a redirect asks again), or the request is a replay, or its
    # webhook-id is an event's: lock the call, and answer from what is stored.
    with transaction.atomic():
        call, used_by_event = call_create_or_lock(
            _new_call(answer, now=now), webhook_id=request.webhook_id
        )
        if request.webhook_id and used_by_event:
            raise _webhook_id_reused(used_by="a webhook event")  # and the call rolls back
        exchange = _answer(call, request=request, answer=answer, now=now)
        update_row(call)
        if not insert_row(exchange, ignore_conflicts=True):
            raise _Replayed  # out of the atomic block: the call's changes roll back
        return exchange


def _new_call(answer: contract.AnswerRequest, *, now: datetime) -> Call:
    """The call this request names, as it starts when we first hear of it."""
    return Call(minivoice_id=answer.call_id, started_at=answer.created_at or now)


def _answer(
    call: Call, *, request: InboundRequest, answer: contract.AnswerRequest, now: datetime
) -> AnswerExchange:
    """Bring `call` up to date with this request, in memory, and build the exchange that
    logs our answer (unsaved)."""
    at = answer.created_at or now
    call.fill_details(
        direction=answer.direction,
        from_number=answer.from_number,
        to_number=answer.to_number,
    )
    call.mark_answered(at)  # MiniVoice asks the answer_url once the call is answered.
    flow, payload, body, error = _build_answer(call=call, variables=answer.variables)
    call.note_step(answer_step(flow, payload), at=at)
    return AnswerExchange(
        call=call,
        call_minivoice_id=call.minivoice_id,
        received_at=now,
        occurred_at=answer.created_at,
        webhook_id=request.webhook_id,
        flow=flow,
        response_status=200,
        response_body=body,
        variables=answer.variables,
        error=error,
        **_exchange_request_fields(request),
    )


def answer_refuse(*, request: InboundRequest, problem: contract.MalformedRequest) -> str:
    """The error answer to a request we cannot act on, logged for support."""
    body = json.dumps(envelope(problem.code, problem.message))
    _log_unattached_answer(
        request=request, status=problem.status, response_body=body, error=problem.message
    )
    return body


def answer_fallback(*, request: InboundRequest, call_id: str, error: str) -> str:
    """The safe actions for when recording the call itself failed, logged if possible."""
    body = json.dumps(flows.FALLBACK_PAYLOAD)
    _log_unattached_answer(
        request=request,
        call_id=call_id,
        status=200,
        response_body=body,
        error=error,
        flow=flows.FALLBACK_FLOW,
    )
    return body


def _log_unattached_answer(
    *,
    request: InboundRequest,
    status: int,
    response_body: str,
    error: str,
    call_id: str = "",
    flow: str = "",
) -> None:
    """Log an answer with no Call row to tie it to, under the call id if the request
    named one. Failing to log never changes the answer."""
    try:
        AnswerExchange.objects.create(
            call=None,
            call_minivoice_id=call_id,
            flow=flow,
            response_status=status,
            response_body=response_body,
            error=error,
            **_exchange_request_fields(request),
        )
    except Exception:
        logger.exception("Could not log an answer_url exchange")


def _exchange_request_fields(request: InboundRequest) -> dict:
    return {
        "method": request.method,
        "query_string": request.query_string,
        "request_headers": request.headers,
        "request_body": request.body_text,
        "duration_ms": request.elapsed_ms(),
    }


def _build_answer(*, call: Call, variables: Mapping) -> tuple[str, dict, str, str]:
    """(flow, payload, body, error): the flow's actions and the JSON text that answers
    with them, or the safe fallback's if they fail.

    MiniVoice rejects an invalid payload and the caller hears nothing, so any failure
    here, a bug or an invalid flow, still answers with valid actions. What is checked is
    the text MiniVoice gets.
    """
    try:
        flow, payload = flows.actions_for_call(call=call, variables=variables)
        body = json.dumps(payload)
        ensure_valid_json(body)
    except Exception:
        logger.exception("Building the answer for call %s failed", call.minivoice_id)
        fallback = flows.FALLBACK_PAYLOAD
        return flows.FALLBACK_FLOW, fallback, json.dumps(fallback), traceback.format_exc()
    return flow, payload, body, ""


def _webhook_id_reused(*, used_by: str) -> contract.MalformedRequest:
    return contract.MalformedRequest(
        "webhook_id_reused",
        f"This webhook-id was already used by {used_by}: every request MiniVoice signs "
        "has an id of its own, so this one is a replay.",
        status=409,
    )


# -- Webhook intake -----------------------------------------------------------------------


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
    if not facts.event_type and _webhook_id_used_by(request.webhook_id) == "answer":
        raise _webhook_id_reused(used_by="an answer_url request")
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


def events_requeue_due(*, pending_for: timedelta, limit: int = 1000) -> int:
    """Hand to a worker again the events that need it; return how many.

    Two kinds: events pending for longer than `pending_for` (no worker took them: the
    broker was down at intake, or a worker died mid-task), and failed events whose retry
    is due (`WebhookEvent.record_failure` set when). Both are made pending and stamped,
    so one still in flight is not sent again before `pending_for` has passed. Processing
    is idempotent, so a worker that was merely slow costs one extra look.
    """
    now = timezone.now()
    due = events_due_for_requeue(pending_for=pending_for, now=now)
    event_ids = list(due.order_by("queued_at").values_list("pk", flat=True)[:limit])
    WebhookEvent.objects.filter(pk__in=event_ids, state__in=_REQUEUED_STATES).update(
        state=WebhookEvent.State.PENDING, queued_at=now, next_attempt_at=None
    )
    if event_ids:
        # Forced: a wake-up whose task was lost may still hold the flag (calls.dispatch).
        dispatch.send_events(event_ids, force_wake=True)
    return len(event_ids)


_REQUEUED_STATES = (WebhookEvent.State.PENDING, WebhookEvent.State.FAILED)


def events_due_for_requeue(
    *, pending_for: timedelta, now: datetime | None = None
) -> QuerySet[WebhookEvent]:
    """What `events_requeue_due` hands to a worker: pending for longer than `pending_for`
    (no worker took it), or failed with a retry that is due."""
    now = now or timezone.now()
    return WebhookEvent.objects.filter(
        Q(state=WebhookEvent.State.PENDING, queued_at__lt=now - pending_for)
        | Q(state=WebhookEvent.State.FAILED, next_attempt_at__lte=now)
    )


@dataclass(frozen=True)
class Replay:
    """What `events_replay` did (or, on a dry run, would do): events sent to a worker, and
    those it left alone."""

    sent: list[int]
    already_done: int  # processed, ignored or malformed: nothing to do again

    def states_now(self) -> dict[str, int]:
        """How many of the sent events are in each state now: in-process mode has
        processed them already; with a worker most are still pending."""
        return dict(
            WebhookEvent.objects.filter(pk__in=self.sent)
            .values_list("state")
            .annotate(count=Count("pk"))
            .values_list("state", "count")
        )


def events_replay(
    *,
    events: QuerySet[WebhookEvent],
    batch_size: int = 500,
    on_batch: Callable[[int], None] | None = None,
    dry_run: bool = False,
) -> Replay:
    """Process the chosen events again, through the same task as a fresh delivery.

    Pending, failed and given-up events are made pending again and sent to a worker,
    oldest first, `batch_size` at a time (in-process mode processes each batch before the
    next; `on_batch` is told each batch's size once it is sent). Done events are left
    alone: applying an event twice changes nothing, so there is nothing to gain. A dry
    run says what would be sent and changes nothing. Support's admin action, the
    `replay_events` command and the sweep's callers all come here.
    """
    now = timezone.now()
    # Counted first: in-process mode has processed the replayed ones by the end.
    already_done = events.filter(state__in=WebhookEvent.DONE_STATES).count()
    chosen = events.filter(state__in=WebhookEvent.REPLAYABLE_STATES)
    sent = list(chosen.order_by("received_at", "pk").values_list("pk", flat=True))
    if dry_run:
        return Replay(sent=sent, already_done=already_done)
    for start in range(0, len(sent), batch_size):
        batch = sent[start : start + batch_size]
        with transaction.atomic():
            WebhookEvent.objects.filter(
                pk__in=batch, state__in=WebhookEvent.REPLAYABLE_STATES
            ).update(state=WebhookEvent.State.PENDING, queued_at=now, next_attempt_at=None)
            transaction.on_commit(partial(dispatch.send_events, batch, force_wake=True))
        if on_batch is not None:
            on_batch(len(batch))
    return Replay(sent=sent, already_done=already_done)
