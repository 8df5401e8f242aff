"""The error envelope every endpoint answers with: {"error": {"code": …, "message": …}}."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


def envelope(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


class ApiError(APIException):
    """An answer with a status, a machine-readable code and a sentence for people."""

    def __init__(self, *, status_code: int, code: str, message: str) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.code = code
        self.message = message


def envelope_exception_handler(exc: Exception, context: dict) -> Response:
    """DRF's handler, answering in our envelope; an unexpected crash becomes a JSON 500."""
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in %s", context.get("view"), exc_info=exc)
        return Response(
            envelope("internal_error", "Something went wrong on our side."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, ApiError):
        code, message = exc.code, exc.message
    elif isinstance(exc, APIException):
        code, message = exc.default_code, _message(exc.detail)
    else:  # Http404 or PermissionDenied from Django, which DRF translates.
        code = _DJANGO_CODES.get(type(exc), "error")
        message = _message(response.data.get("detail", ""))
    response.data = envelope(code, message)
    return response


# The codes DRF gives the same refusals of its own.
_DJANGO_CODES = {
    Http404: exceptions.NotFound.default_code,
    PermissionDenied: exceptions.PermissionDenied.default_code,
}


def _message(detail: object) -> str:
    if isinstance(detail, list):
        return " ".join(str(item) for item in detail)
    if isinstance(detail, dict):
        return " ".join(f"{key}: {_message(value)}" for key, value in detail.items())
    return str(detail)
