"""What happens when MiniVoice asks for actions or tells us about a call.

Views call one function here; Celery tasks call `event_process`. Everything that changes
several rows happens inside one transaction, and slow work never runs inside one.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from calls import contract, dispatch, flows
from calls.actions import ensure_valid
from calls.errors import envelope
from calls.models import AnswerExchange, Call, WebhookEvent
from calls.selectors import call_last_step_before
from calls.steps import answer_step, event_step
from recordings.services import recording_apply_event

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundRequest:
    """The parts of an HTTP request from MiniVoice that we keep."""

    method: str
    query_string: str
    headers: dict
    body: bytes
    content_type: str
    started: float  # time.perf_counter() when the request reached the view

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    @property
    def body_text(self) -> str:
        """The body as storable text: undecodable bytes and NUL become U+FFFD."""
        return contract.storable(self.body.decode(errors="replace"))

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 3)


# -- answer_url ---------------------------------------------------------------------------


def answer_call(*, request: InboundRequest, answer: contract.AnswerRequest) -> AnswerExchange:
    """Record the call, pick its actions and log the exact answer we give MiniVoice.

    A request replayed with a webhook-id we answered already gets that same answer and
    changes nothing: a retry is harmless, and a captured signature buys nothing new.
    """
    if request.webhook_id:
        answered = AnswerExchange.objects.filter(webhook_id=request.webhook_id).first()
        if answered is not None:
            return answered
        if WebhookEvent.objects.filter(webhook_id=request.webhook_id).exists():
            raise _webhook_id_reused(used_by="a webhook event")
    try:
        return _answer_and_log(request=request, answer=answer)
    except IntegrityError:
        if not request.webhook_id:
            raise
        # The same request arrived twice at once, and the other copy was logged first.
        return AnswerExchange.objects.get(webhook_id=request.webhook_id)


def _answer_and_log(*, request: InboundRequest, answer: contract.AnswerRequest) -> AnswerExchange:
    now = timezone.now()
    at = answer.created_at or now
    with transaction.atomic():
        call = _call_locked(answer.call_id, defaults={"started_at": at})
        call.fill_details(
            direction=answer.direction,
            from_number=answer.from_number,
            to_number=answer.to_number,
        )
        call.mark_answered(at)  # MiniVoice asks the answer_url once the call is answered.
        flow, payload, error = _build_answer(call=call, variables=answer.variables)
        call.note_step(answer_step(flow, payload), at=at)
        call.save()
        return AnswerExchange.objects.create(
            call=call,
            call_minivoice_id=call.minivoice_id,
            received_at=now,
            occurred_at=answer.created_at,
            webhook_id=request.webhook_id,
            flow=flow,
            response_status=200,
            response_body=json.dumps(payload),
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


def _build_answer(*, call: Call, variables: Mapping) -> tuple[str, dict, str]:
    """(flow, payload, error): the flow's actions, or the safe fallback if they fail.

    MiniVoice rejects an invalid payload and the caller hears nothing, so any failure
    here, a bug or an invalid flow, still answers with valid actions.
    """
    try:
        flow, payload = flows.actions_for_call(call=call, variables=variables)
        ensure_valid(payload)
        json.dumps(payload)
    except Exception:
        logger.exception("Building the answer for call %s failed", call.minivoice_id)
        return flows.FALLBACK_FLOW, flows.FALLBACK_PAYLOAD, traceback.format_exc()
    return flow, payload, ""


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
    answered = AnswerExchange.objects.filter(webhook_id=request.webhook_id)
    if not facts.event_type and answered.exists():
        raise _webhook_id_reused(used_by="an answer_url request")
    event, created = WebhookEvent.objects.get_or_create(
        webhook_id=request.webhook_id,
        defaults={
            "event_type": facts.event_type,
            "call_minivoice_id": facts.call_id,
            "occurred_at": facts.occurred_at,
            "headers": request.headers,
            "raw_body": request.body_text,
            "payload": payload,
            "state": WebhookEvent.State.PENDING
            if payload is not None
            else WebhookEvent.State.MALFORMED,
        },
    )
    if not created:
        # A retry, or a copy sent twice: counted for support, stored once.
        WebhookEvent.objects.filter(pk=event.pk).update(deliveries=F("deliveries") + 1)
    if not event.is_done:
        # After commit, so a worker never looks for a row not yet visible. Sending cannot
        # fail the request (see calls.dispatch): the stored row is what counts.
        transaction.on_commit(partial(dispatch.send_event, event.pk))
    return Intake(event=event, created=created)


def events_requeue_due(*, pending_for: timedelta, limit: int = 1000) -> int:
    """Hand to a worker again the events that need it; return how many were sent.

    Two kinds: events pending for longer than `pending_for` (their task was lost: the
    broker was down at intake, or a worker died mid-task), and failed events whose
    retry is due (`WebhookEvent.record_failure` set when). Both are stamped before they
    are sent, so one still in flight is not sent again before `pending_for` has passed.
    Processing is idempotent, so a task that was merely slow costs one extra look.
    """
    now = timezone.now()
    due = WebhookEvent.objects.filter(
        Q(state=WebhookEvent.State.PENDING, queued_at__lt=now - pending_for)
        | Q(state=WebhookEvent.State.FAILED, next_attempt_at__lte=now)
    )
    event_ids = list(due.order_by("queued_at").values_list("pk", flat=True)[:limit])
    WebhookEvent.objects.filter(pk__in=event_ids, state__in=_REQUEUED_STATES).update(
        queued_at=now, next_attempt_at=now + pending_for
    )
    for event_id in event_ids:
        dispatch.send_event(event_id)
    return len(event_ids)


_REQUEUED_STATES = (WebhookEvent.State.PENDING, WebhookEvent.State.FAILED)


@dataclass(frozen=True)
class Replay:
    """What `events_replay` did: events sent to a worker, and those it left alone."""

    sent: list[int]
    already_done: int  # processed, ignored or malformed: nothing to do again


def events_replay(*, events: QuerySet[WebhookEvent]) -> Replay:
    """Process the chosen events again, through the same task as a fresh delivery.

    Pending, failed and given-up events are made pending again and sent to a worker
    (in-process mode processes them before this returns). Done events are left alone:
    applying an event twice changes nothing, so there is nothing to gain. Support's
    admin action, the `replay_events` command and the sweep's callers all come here.
    """
    now = timezone.now()
    chosen = events.filter(state__in=WebhookEvent.REPLAYABLE_STATES)
    sent = list(chosen.order_by("received_at", "pk").values_list("pk", flat=True))
    for start in range(0, len(sent), 500):
        batch = sent[start : start + 500]
        with transaction.atomic():
            WebhookEvent.objects.filter(
                pk__in=batch, state__in=WebhookEvent.REPLAYABLE_STATES
            ).update(state=WebhookEvent.State.PENDING, queued_at=now, next_attempt_at=None)
            for event_id in batch:
                transaction.on_commit(partial(dispatch.send_event, event_id))
    already_done = events.filter(state__in=WebhookEvent.DONE_STATES).count()
    return Replay(sent=sent, already_done=already_done)


# -- Webhook processing -------------------------------------------------------------------


def event_process(*, event_id: int) -> WebhookEvent | None:
    """Apply one stored event to its call and recordings, exactly once.

    The row lock makes a second worker wait, then see the event done. The effects and the
    PROCESSED state commit together, so a crash halfway leaves the event pending.
    """
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().filter(pk=event_id).first()
        if event is None or event.is_done:
            return event
        if event.event_type not in contract.KNOWN_EVENTS:
            event.state = WebhookEvent.State.IGNORED
            event.error = ""
        elif not event.call_minivoice_id:
            event.state = WebhookEvent.State.IGNORED
            problem = contract.read_event_facts(event.payload).call_id_problem
            event.error = (
                f"{problem} The event was applied to no call."
                if problem
                else "The event names no call id, so it was applied to no call."
            )
        else:
            _apply_event(event)
            event.state = WebhookEvent.State.PROCESSED
            event.error = ""
        event.attempts += 1
        event.processed_at = timezone.now()
        event.next_attempt_at = None
        event.save(update_fields=["state", "error", "attempts", "processed_at", "next_attempt_at"])
    return event


def event_mark_failed(*, event_id: int, error: str) -> WebhookEvent | None:
    """Keep the failure on the event for support and schedule its next try, or give up
    once it has failed for longer than MINIVOICE_EVENT_RETRY_HOURS."""
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().filter(pk=event_id).first()
        if event is None or event.is_done:  # another worker finished it meanwhile
            return event
        event.record_failure(
            error=error,
            now=timezone.now(),
            retry_for=timedelta(hours=settings.MINIVOICE_EVENT_RETRY_HOURS),
        )
        event.save(update_fields=["state", "error", "attempts", "next_attempt_at"])
    return event


def _call_locked(call_id: str, *, defaults: dict | None = None) -> Call:
    """The call with this MiniVoice id, created if new, locked for this transaction."""
    call, _ = Call.objects.get_or_create(minivoice_id=call_id, defaults=defaults or {})
    return Call.objects.select_for_update().get(pk=call.pk)


def _apply_event(event: WebhookEvent) -> None:
    """Move the event's call (and recording) forward and note the caller's step."""
    data = contract.event_data(event.payload)
    at = event.at
    call = _call_locked(event.call_minivoice_id, defaults={"started_at": at})
    envelope_call = contract.event_call(event.payload)
    call.fill_details(
        direction=contract.text(envelope_call.get("direction")),
        from_number=contract.text(envelope_call.get("from")),
        to_number=contract.text(envelope_call.get("to")),
    )
    reported = contract.CALL_PROGRESS_STATUSES.get(contract.text(envelope_call.get("status")))
    if reported:
        call.advance_to(reported)
    if event.event_type in contract.RECORDING_EVENTS:
        recording_apply_event(call=call, event_type=event.event_type, data=data, at=at)
    elif event.event_type == contract.CALL_INITIATED:
        call.mark_initiated(at)
    elif event.event_type == contract.CALL_RINGING:
        call.mark_ringing(at)
    elif event.event_type == contract.CALL_ANSWERED:
        call.mark_answered(at)
    elif event.event_type == contract.CALL_COMPLETED:
        call.mark_ended(
            at,
            final_status=contract.text(data.get("status")),
            duration_seconds=contract.whole_number(data.get("duration_seconds")),
        )
    # answer_url.failed moves nothing: its step says what MiniVoice could not use.
    step = event_step(event.event_type, data)
    if step:
        call.note_step(step, at)
    if call.ended_at and call.last_step_at and call.last_step_at > call.ended_at:
        # The end arrived after news from later on (delivery order is not event order):
        # the caller's last step is the latest one up to the end.
        call.last_step, call.last_step_at = call_last_step_before(call=call, moment=call.ended_at)
    call.save()
