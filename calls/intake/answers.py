"""The answer_url: record the call, pick its actions, log the exact answer we give.

The view calls one function here. Everything that changes several rows happens inside
one transaction, and slow work never runs inside one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.utils import timezone

from calls import flows
from calls.flows.steps import flow_position, pressed_on, with_actions
from calls.intake.errors import envelope
from calls.intake.inbound import InboundRequest
from calls.intake.webhook_ids import webhook_id_reused
from calls.models import AnswerExchange, Call
from calls.protocol import contract
from calls.protocol.actions import ensure_valid_json
from calls.rows import (
    call_and_exchange_insert,
    call_create_or_lock,
    call_read,
    follow_up_insert,
    insert_row,
    update_row,
)

logger = logging.getLogger(__name__)

# How long an answer waits for a database that went away (a restart takes a second or
# so) before the caller gets the apology (the view's fallback), and between tries; well
# within the 10 seconds MiniVoice gives a webhook (CONTRACT.md says none for an answer).
DATABASE_AWAY_SECONDS = 3.0
DATABASE_RETRY_PAUSE = 0.25


# -- answer_url ---------------------------------------------------------------------------


def answer_call(
    *, request: InboundRequest, answer: contract.AnswerRequest, answer_url: str = ""
) -> AnswerExchange:
    """Record the call, pick its actions and log the exact answer we give MiniVoice.

    `answer_url` is this endpoint's absolute URL, where a collect or a redirect sends
    MiniVoice back (with a signed step token).

    A request replayed with a webhook-id we answered already gets that same answer and
    changes nothing: a retry is harmless, and a captured signature buys nothing new. The
    exchange's unique webhook_id decides it, on the insert that logs the answer: a replay
    fails there, which rolls back all it did, and reads back the exchange stored first.
    Replays are rare, so the usual request pays no lookup for them.

    A database that went away for a moment (a restart, a failover) is waited for, up to
    DATABASE_AWAY_SECONDS: the caller is better served by the flow a second later than
    by the apology now.
    """
    away_until = time.monotonic() + DATABASE_AWAY_SECONDS
    while True:
        try:
            return _answer_or_replay(request=request, answer=answer, answer_url=answer_url)
        except (OperationalError, InterfaceError):
            # Safe to try again: nothing was stored, or all of it was and the next try
            # reads it back as a replay.
            if time.monotonic() + DATABASE_RETRY_PAUSE >= away_until:
                raise  # the view answers the apology
            logger.warning("answer_url: database away; trying again", exc_info=True)
            # A new connection once the server is back (unless inside a caller's
            # transaction); one that could not even connect has nothing to close.
            with contextlib.suppress(DatabaseError):
                if transaction.get_autocommit():
                    connection.close()
            time.sleep(DATABASE_RETRY_PAUSE)


def _answer_or_replay(
    *, request: InboundRequest, answer: contract.AnswerRequest, answer_url: str
) -> AnswerExchange:
    try:
        return _answer_and_log(request=request, answer=answer, answer_url=answer_url)
    except _Replayed:
        # A replay, or the same request twice at once: the first one logged is the answer.
        return AnswerExchange.objects.get(webhook_id=request.webhook_id)


class _Replayed(Exception):
    """The request's webhook-id has an exchange already: undo this copy's changes."""


def _answer_and_log(
    *, request: InboundRequest, answer: contract.AnswerRequest, answer_url: str
) -> AnswerExchange:
    now = timezone.now()
    # The one thing read from a URL: our own signed token, naming the step that handed
    # the call back (CONTRACT.md §1, "Step URLs").
    step = _Step(token=contract.step_token(request.query_string), answer_url=answer_url)
    if not step.token:
        # Usually the call's first request: the call is new, and both rows are known in
        # full before anything is written, so they are stored in one statement. It stores
        # nothing if the flows changed since this process last read them.
        call = _new_call(answer, now=now)
        exchange, revision = _answer(call, request=request, answer=answer, now=now, step=step)
        try:
            if call_and_exchange_insert(
                call, exchange, webhook_id=request.webhook_id, flows_revision=revision
            ):
                return exchange
        except IntegrityError:
            pass  # its webhook-id has an exchange: the general path below tells why
    else:
        # A follow-up: the call is read, and its exchange and changes written in one
        # statement if no other request of the call changed it meanwhile (PostgreSQL).
        stored = call_read(answer.call_id, webhook_id=request.webhook_id)
        if stored is not None and not stored.webhook_id_is_an_event_s:
            exchange, _ = _answer(stored.call, request=request, answer=answer, now=now, step=step)
            if follow_up_insert(stored, exchange):
                return exchange
    # A follow-up that could not be written at once, or a first request whose call
    # exists anyway (a redirect of MiniVoice's own), or a replay, or a webhook-id that is
    # an event's, or the flows changed: lock the call, and answer from what is stored.
    with transaction.atomic():
        call, used_by_event = call_create_or_lock(
            _new_call(answer, now=now), webhook_id=request.webhook_id
        )
        if request.webhook_id and used_by_event:
            raise webhook_id_reused(used_by="a webhook event")  # and the call rolls back
        if not step.token:
            step = _Step(token="", answer_url=answer_url, revision=flows.revision_now())
        exchange, _ = _answer(call, request=request, answer=answer, now=now, step=step)
        update_row(call)
        if not insert_row(exchange, ignore_conflicts=True):
            raise _Replayed  # out of the atomic block: the call's changes roll back
        return exchange


@dataclass(frozen=True)
class _Step:
    """What picks the step: a follow-up's token, where follow-ups come back, and the
    flows revision when it was read (None: the kept copy is trusted)."""

    token: str
    answer_url: str
    revision: int | None = None


def _new_call(answer: contract.AnswerRequest, *, now: datetime) -> Call:
    """The call this request names, as it starts when we first hear of it."""
    return Call(minivoice_id=answer.call_id, started_at=answer.created_at or now)


def _answer(
    call: Call,
    *,
    request: InboundRequest,
    answer: contract.AnswerRequest,
    now: datetime,
    step: _Step,
) -> tuple[AnswerExchange, int]:
    """Bring `call` up to date with this request, in memory, and build the exchange that
    logs our answer (unsaved); and the flows revision the answer was chosen at."""
    at = answer.created_at or now
    call.fill_details(
        direction=answer.direction,
        from_number=answer.from_number,
        to_number=answer.to_number,
    )
    call.mark_answered(at)  # MiniVoice asks the answer_url once the call is answered.
    position, payload, body, error = _build_answer(call=call, variables=answer.variables, step=step)
    where = flow_position(
        position.flow,
        version=position.version,
        step=position.step,
        draft=position.draft,
        pressed=pressed_on(request.query_string, answer.variables),
    )
    call.note_step(with_actions(where, payload), at=at)
    call.note_flow_step(flow=position.flow, step=position.step, position=where)
    exchange = AnswerExchange(
        call=call,
        call_minivoice_id=call.minivoice_id,
        received_at=now,
        occurred_at=answer.created_at,
        webhook_id=request.webhook_id,
        flow=position.flow,
        flow_version=position.version,
        flow_draft=position.draft,
        step=position.step,
        consent=position.consent,
        consent_required=position.consent_required,
        response_status=200,
        response_body=body,
        variables=answer.variables,
        error=error,
        **_exchange_request_fields(request),
    )
    return exchange, position.revision


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


def _build_answer(
    *, call: Call, variables: Mapping, step: _Step
) -> tuple[flows.Position, dict, str, str]:
    """(position, payload, body, error): where in which flow the call is, its actions and
    the JSON text that answers with them, or the safe fallback's if they fail.

    MiniVoice rejects an invalid payload and the caller hears nothing, so any failure
    here, a bug, an invalid flow or a bad step token, still answers with valid actions,
    and the exchange keeps the reason. What is checked is the text MiniVoice gets.
    """
    try:
        position, payload = flows.actions_for_call(
            call=call,
            variables=variables,
            step_token=step.token,
            answer_url=step.answer_url,
            revision=step.revision,
        )
        body = json.dumps(payload)
        ensure_valid_json(body)
        error = position.reason
    except Exception:
        logger.exception("Building the answer for call %s failed", call.minivoice_id)
        position = flows.Position(flow=flows.FALLBACK_FLOW, revision=-1)
        payload = flows.FALLBACK_PAYLOAD
        return position, payload, json.dumps(payload), traceback.format_exc()
    return position, payload, body, error
