"""The parts of an HTTP request from MiniVoice that we keep: read once, bounded.

Both endpoints snapshot the request here first (`read_inbound`), so that everything
after works on plain values: the body read whole or refused, the headers worth keeping,
the content type.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from django.http import HttpRequest
from django.http.request import HttpHeaders
from django.utils.http import parse_header_parameters
from rest_framework import status

from calls.intake.errors import ApiError
from calls.protocol import contract


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


def read_inbound(request: HttpRequest, *, max_bytes: int) -> InboundRequest:
    """Snapshot the request, refusing a body over `max_bytes` without reading all of it.

    Django's own request, not DRF's wrapper: every attribute read through the wrapper is
    a slow `__getattr__` hop, and a delivery reads about twenty.
    """
    started = time.perf_counter()
    body = _read_body(request, max_bytes=max_bytes)
    kept_headers = read_headers(request, contract.KEPT_HEADERS)
    if len(kept_headers.get("webhook-id", "")) > contract.WEBHOOK_ID_MAX_LENGTH:
        raise ApiError(
            status_code=status.HTTP_400_BAD_REQUEST,
            code="invalid_webhook_id",
            message=f"The webhook-id header is longer than {contract.WEBHOOK_ID_MAX_LENGTH} "
            "characters.",
        )
    media_type, _ = parse_header_parameters(request.META.get("CONTENT_TYPE", ""))
    return InboundRequest(
        method=request.method,
        query_string=contract.storable(request.META.get("QUERY_STRING", "")),
        headers=contract.storable(kept_headers),
        body=body,
        content_type=media_type.lower(),
        started=started,
    )


def read_headers(request: HttpRequest, names: Iterable[str]) -> dict[str, str]:
    """The headers `names` that the request has, by their lowercase names.

    Read from META, where the server put them and where `request.headers` reads them
    too: that builds a case-insensitive copy of every header, and lowercases the name on
    each look-up, which costs intake a few percent for the few headers it needs.
    """
    meta = request.META
    found = ((name, meta.get(_meta_key(name))) for name in names)
    return {name: value for name, value in found if value is not None}


@cache
def _meta_key(name: str) -> str:
    """Where WSGI puts header `name` in META: Content-Type and Content-Length without
    the HTTP_ prefix (as Django's `HttpHeaders` reads them)."""
    key = name.upper().replace("-", "_")
    return key if key in HttpHeaders.UNPREFIXED_HEADERS else f"{HttpHeaders.HTTP_PREFIX}{key}"


def _read_body(request: HttpRequest, *, max_bytes: int) -> bytes:
    meta = request.META
    chunked = "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "")
    if not meta.get("CONTENT_LENGTH") and chunked and not meta.get("wsgi.input_terminated"):
        raise ApiError(
            status_code=status.HTTP_411_LENGTH_REQUIRED,
            code="length_required",
            message="Send a Content-Length; this server cannot read chunked bodies.",
        )
    if not chunked:
        try:
            declared = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = -1
        if declared < 0:
            raise ApiError(
                status_code=status.HTTP_400_BAD_REQUEST,
                code="bad_content_length",
                message="The Content-Length header is not a whole number.",
            )
        if declared > max_bytes:
            raise _too_large(max_bytes)
    try:
        if chunked and not meta.get("CONTENT_LENGTH"):
            # The server (gunicorn) ends the chunked stream for us, but Django reads
            # nothing without a Content-Length: read it here, one byte past the limit.
            body = meta["wsgi.input"].read(max_bytes + 1)
        else:
            body = request.body
    except Exception as exc:
        # Whatever the server raises on a broken stream (gunicorn's InvalidChunkSize, a
        # client that stopped sending before its Content-Length, a read timeout): the
        # request is unreadable, which is the client's fault, not a 500.
        raise ApiError(
            status_code=status.HTTP_400_BAD_REQUEST,
            code="unreadable_body",
            message=f"The body could not be read ({type(exc).__name__}).",
        ) from None
    if len(body) > max_bytes:
        raise _too_large(max_bytes)
    return body


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(
        status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        code="payload_too_large",
        message=f"The body is larger than {max_bytes // 1024} KiB.",
    )
