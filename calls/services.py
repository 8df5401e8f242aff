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

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from calls import contract, flows
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
    if not event.is_done:
        # robust: a broker that is down must not turn a stored event into a 500. The event
        # stays pending; MiniVoice's retry or `events_requeue_pending` hands it over again.
        transaction.on_commit(lambda: _send_to_worker(event.pk), robust=True)
    return Intake(event=event, created=created)


def _send_to_worker(event_id: int) -> None:
    # Imported here: calls.tasks imports this module for the work its tasks do.
    from calls.tasks import process_webhook_event

    process_webhook_event.delay(event_id)


def events_requeue_pending(*, older_than: timedelta, limit: int = 1000) -> int:
    """Hand events still pending after `older_than` to a worker again; return how many.

    Their task was lost (the broker was down at intake, or a worker died before taking
    it). Processing is idempotent, so a task that was merely slow costs one extra look.
    """
    now = timezone.now()
    pending = WebhookEvent.objects.filter(state=WebhookEvent.State.PENDING)
    stale = pending.filter(queued_at__lt=now - older_than).order_by("queued_at")
    event_ids = list(stale.values_list("pk", flat=True)[:limit])
    # Stamped before sending, so a backlog is re-sent once per `older_than`, not every run.
    pending.filter(pk__in=event_ids).update(queued_at=now)
    for event_id in event_ids:
        _send_to_worker(event_id)
    return len(event_ids)


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
            event.error = "The event names no call id, so it was applied to no call."
        else:
            _apply_event(event)
            event.state = WebhookEvent.State.PROCESSED
            event.error = ""
        event.attempts += 1
        event.processed_at = timezone.now()
        event.save(update_fields=["state", "error", "attempts", "processed_at"])
    return event


def event_mark_failed(*, event_id: int, error: str) -> None:
    """Keep the failure on the event for support; it stays eligible for another try."""
    WebhookEvent.objects.filter(pk=event_id).exclude(state__in=WebhookEvent.DONE_STATES).update(
        state=WebhookEvent.State.FAILED, error=error, attempts=F("attempts") + 1
    )


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
