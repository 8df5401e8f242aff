"""MiniVoice's two doors into the app: the answer_url and the webhook receiver.

Both answer within milliseconds: they check, store, and leave the rest to services and
Celery. Every refusal uses the error envelope (calls.intake.errors) with the status documented in
the README.
"""

from __future__ import annotations

import json
import logging
import traceback

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.views import APIView

from calls.intake import schema as openapi
from calls.intake.answers import answer_call, answer_fallback, answer_refuse
from calls.intake.errors import ApiError
from calls.intake.events import event_ingest
from calls.intake.inbound import InboundRequest, read_headers, read_inbound
from calls.models import WebhookEvent
from calls.protocol import contract
from calls.protocol.signatures import SIGNATURE_HEADERS, SignatureError, verify_signature

logger = logging.getLogger(__name__)

JSON_TYPES = {"application/json"}
ANSWER_TYPES = {"application/json", "application/x-www-form-urlencoded"}


class IgnoreAcceptHeader(BaseContentNegotiation):
    """Always answer JSON: MiniVoice must get JSON whatever its Accept header says."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class MiniVoiceView(APIView):
    """MiniVoice proves itself by signature (calls.protocol.signatures), which the views check on
    the raw body they read themselves: no user, permission or parser of DRF's applies."""

    content_negotiation_class = IgnoreAcceptHeader
    authentication_classes = ()
    permission_classes = ()
    parser_classes = ()
    schema = openapi.BodyRequired()

    def perform_authentication(self, request: Request) -> None:
        """No user to find (DRF's documented way: `request.user` would be looked up
        lazily, and nothing here asks for it)."""


class AnswerView(MiniVoiceView):
    """MiniVoice asks what to do on a call; we answer with a valid action payload."""

    http_method_names = ["get", "post"]

    @extend_schema(
        operation_id="answer_get",
        summary="The answer_url, asked with GET (local development only)",
        description=(
            "Without a webhook secret (a laptop before `dev_setup`) MiniVoice may ask with "
            "query parameters, unsigned: any parameter not named here is a variable. With "
            "a secret set, every GET is refused: its query string cannot be signed."
        ),
        tags=["MiniVoice"],
        parameters=[*openapi.ANSWER_GET_QUERY, *openapi.signature_headers(required=False)],
        responses=openapi.ANSWER_GET_RESPONSES,
    )
    def get(self, request: Request) -> HttpResponse:
        return self.answer(request)

    @extend_schema(
        operation_id="answer",
        summary="The answer_url: the actions to run on a call",
        description=(
            "MiniVoice asks when a call is answered, and again after a collect or a "
            "redirect (at the step url this application wrote). Signed like a webhook; "
            "with a secret set only the signed body counts."
        ),
        tags=["MiniVoice"],
        parameters=[*openapi.ANSWER_QUERY, *openapi.signature_headers(required=True)],
        request={
            "application/json": openapi.AnswerRequest,
            "application/x-www-form-urlencoded": openapi.AnswerForm,
        },
        responses=openapi.ANSWER_RESPONSES,
    )
    def post(self, request: Request) -> HttpResponse:
        return self.answer(request)

    def answer(self, request: Request) -> HttpResponse:
        inbound = read_inbound(request._request, max_bytes=contract.MAX_ANSWER_BODY_BYTES)
        signed = bool(settings.MINIVOICE_WEBHOOK_SECRETS)
        if signed:
            require_signature(request._request, inbound)
        try:
            answer = contract.parse_answer_request(
                method=inbound.method,
                query=inbound.query_string,
                body=inbound.body,
                content_type=inbound.content_type,
                signed=signed,
            )
            exchange = answer_call(
                request=inbound,
                answer=answer,
                answer_url=request._request.build_absolute_uri(request._request.path),
            )
        except contract.MalformedRequest as problem:
            body = answer_refuse(request=inbound, problem=problem)
            return json_response(body, status=problem.status)
        except Exception:
            # Even with the database gone, the caller hears an apology, not silence.
            logger.exception("answer_url failed for call %s", answer.call_id)
            body = answer_fallback(
                request=inbound, call_id=answer.call_id, error=traceback.format_exc()
            )
            return json_response(body, status=200)
        return json_response(exchange.response_body, status=exchange.response_status)


class WebhookView(MiniVoiceView):
    """MiniVoice reports an event: verify, store once, acknowledge, process later."""

    http_method_names = ["post"]

    @extend_schema(
        operation_id="webhook",
        summary="MiniVoice's webhooks: one event per request",
        description=(
            "Verified, stored once per webhook-id, acknowledged at once and processed in "
            "the background. Only unsigned, badly signed or malformed requests get 4xx."
        ),
        tags=["MiniVoice"],
        parameters=openapi.signature_headers(required=True),
        request={"application/json": openapi.WebhookEvent},
        responses=openapi.WEBHOOK_RESPONSES,
    )
    def post(self, request: Request) -> HttpResponse:
        inbound = read_inbound(request._request, max_bytes=contract.MAX_WEBHOOK_BODY_BYTES)
        if inbound.content_type not in JSON_TYPES:
            raise ApiError(
                status_code=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                code="unsupported_media_type",
                message="Webhooks must be sent as application/json.",
            )
        if not settings.MINIVOICE_WEBHOOK_SECRETS:
            # 503, not 2xx: MiniVoice keeps retrying until the secret is set.
            raise ApiError(
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                code="not_configured",
                message="The webhook secret is not configured yet.",
            )
        require_signature(request._request, inbound)

        try:
            intake = event_ingest(request=inbound)
        except contract.MalformedRequest as problem:
            raise ApiError(
                status_code=problem.status, code=problem.code, message=problem.message
            ) from None
        if intake.created and intake.event.state == WebhookEvent.State.MALFORMED:
            # Kept, and refused once. Its retries answer 2xx like any duplicate: we have
            # it, and MiniVoice must not retry it forever.
            raise ApiError(
                status_code=status.HTTP_400_BAD_REQUEST,
                code="malformed_json",
                message="The body is not a JSON object. It was kept for support.",
            )
        body = {
            "status": "accepted" if intake.created else "duplicate",
            "webhook_id": inbound.webhook_id,
        }
        code = status.HTTP_202_ACCEPTED if intake.created else status.HTTP_200_OK
        return json_response(json.dumps(body), status=code)


def require_signature(request: HttpRequest, inbound: InboundRequest) -> None:
    try:
        verify_signature(
            body=inbound.body,
            headers=read_headers(request, SIGNATURE_HEADERS),
            secrets=settings.MINIVOICE_WEBHOOK_SECRETS,
        )
    except SignatureError as exc:
        raise ApiError(
            status_code=status.HTTP_401_UNAUTHORIZED, code="invalid_signature", message=str(exc)
        ) from None


def json_response(body: str, *, status: int) -> HttpResponse:
    """Answer with exactly `body`, the text we also log (as UTF-8 bytes: given text,
    the response would look its charset up again in its own Content-Type)."""
    return HttpResponse(body.encode(), status=status, content_type="application/json")
