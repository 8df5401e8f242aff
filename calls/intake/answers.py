"""The answer_url: record the call, pick its actions, log the exact answer we give.

The view calls one function here. Everything that changes several rows happens inside
one transaction, and slow work never runs inside one.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Mapping
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from calls import flows
from calls.flows.steps import answer_step
from calls.intake.errors import envelope
from calls.intake.inbound import InboundRequest
from calls.intake.webhook_ids import webhook_id_reused
from calls.models import AnswerExchange, Call
from calls.protocol import contract
from calls.protocol.actions import ensure_valid_json
from calls.rows import call_and_exchange_insert, call_create_or_lock, insert_row, update_row

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
            raise webhook_id_reused(used_by="a webhook event")  # and the call rolls back
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
