"""MiniVoice's REST API for recordings (CONTRACT.md §3), as this app asks it.

`GET {MINIVOICE_API_URL}/v1/recordings/{id}` for the metadata, then `GET {media_url}` for
the bytes, both with `Authorization: Bearer {MINIVOICE_API_KEY}`. Every way it can go
wrong becomes a `FetchError` that says, in words for support, what happened and whether
trying again may help (timeouts, 5xx, 429, a cut-off body: yes; 404, a refused key, a
recording that failed: no).
"""

from __future__ import annotations

import http.client
import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.error import HTTPError, URLError
from urllib.parse import quote

from django.conf import settings

METADATA_MAX_BYTES = 64 * 1024
# No proxy from the environment: MiniVoice's API is reached as configured, and the
# Bearer key goes nowhere else.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class FetchError(Exception):
    """A try that failed; `retryable` says whether another try may succeed."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


@dataclass(frozen=True)
class Metadata:
    recording_id: str
    status: str
    size_bytes: int | None
    media_url: str
    format: str


def recording_metadata(recording_id: str) -> Metadata:
    """The recording's metadata, once MiniVoice says its audio exists; else FetchError."""
    base = settings.MINIVOICE_API_URL.rstrip("/")
    if not base:
        raise FetchError(
            "MINIVOICE_API_URL is not set, so no audio can be fetched.", retryable=False
        )
    url = f"{base}/v1/recordings/{quote(recording_id, safe='')}"
    with _get(url, what="the recording's metadata") as response:
        body = response.read(METADATA_MAX_BYTES + 1)
    if len(body) > METADATA_MAX_BYTES:
        raise FetchError("MiniVoice's metadata is too large to be metadata.", retryable=False)
    try:
        document = json.loads(body)
    except ValueError:
        raise FetchError("MiniVoice's metadata is not JSON.", retryable=True) from None
    if not isinstance(document, dict):
        raise FetchError("MiniVoice's metadata is not a JSON object.", retryable=True)
    return _metadata(recording_id, document)


def _metadata(recording_id: str, document: dict) -> Metadata:
    status = document.get("status")
    if status == "failed":
        raise FetchError("MiniVoice says the recording failed: it has no audio.", retryable=False)
    if status != "completed":
        raise FetchError(
            f"MiniVoice says the recording is {status!r}, not completed yet.", retryable=True
        )
    size = document.get("size_bytes")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise FetchError(f"MiniVoice's size_bytes is not a size: {size!r}.", retryable=False)
    media_url = document.get("media_url")
    if not isinstance(media_url, str) or not media_url.startswith(("http://", "https://")):
        raise FetchError("MiniVoice's metadata has no http(s) media_url.", retryable=False)
    media_format = document.get("format")
    return Metadata(
        recording_id=recording_id,
        status=status,
        size_bytes=size,
        media_url=media_url,
        format=media_format if isinstance(media_format, str) else "",
    )


@contextmanager
def media(url: str) -> Iterator[http.client.HTTPResponse]:
    """The media's response, to be read in chunks (`read(n)` raises FetchError)."""
    with _get(url, what="the audio") as response:
        yield _Guarded(response)


class _Guarded:
    """A response whose reads turn a cut-off or stalled body into a retryable FetchError.

    http.client ends a body that stops short of its Content-Length as if it were whole,
    so the bytes are counted here against what the header promised.
    """

    def __init__(self, response: http.client.HTTPResponse) -> None:
        self._response = response
        self.headers = response.headers
        length = response.headers.get("Content-Length", "")
        self._promised = int(length) if length.isdigit() else None
        self._received = 0

    def read(self, size: int) -> bytes:
        try:
            chunk = self._response.read(size)
        except http.client.IncompleteRead:
            chunk = b""
        except TimeoutError:
            seconds = settings.MINIVOICE_API_TIMEOUT_SECONDS
            raise FetchError(
                f"MiniVoice stopped sending the audio for {seconds} s.", retryable=True
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise FetchError(f"The audio's download broke off: {exc}.", retryable=True) from None
        self._received += len(chunk)
        if not chunk and self._promised is not None and self._received < self._promised:
            raise FetchError(
                f"The audio was cut off after {self._received} of the {self._promised} bytes "
                "promised (the connection closed early).",
                retryable=True,
            )
        return chunk


@contextmanager
def _get(url: str, *, what: str) -> Iterator[http.client.HTTPResponse]:
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {settings.MINIVOICE_API_KEY}"}
    )
    try:
        response = _opener.open(request, timeout=settings.MINIVOICE_API_TIMEOUT_SECONDS)
    except HTTPError as exc:
        exc.close()
        raise _http_error(exc.code, what=what) from None
    except TimeoutError:
        raise FetchError(
            f"MiniVoice did not answer for {what} within "
            f"{settings.MINIVOICE_API_TIMEOUT_SECONDS} s.",
            retryable=True,
        ) from None
    except (URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(
            f"Could not reach MiniVoice for {what}: {reason}.", retryable=True
        ) from None
    with response:
        yield response


def _http_error(status: int, *, what: str) -> FetchError:
    if status in (404, 410):
        return FetchError(f"MiniVoice does not have {what} (HTTP {status}).", retryable=False)
    if status in (401, 403):
        return FetchError(
            f"MiniVoice refused our API key for {what} (HTTP {status}): check MINIVOICE_API_KEY.",
            retryable=False,
        )
    if status == 429 or status >= 500:
        return FetchError(f"MiniVoice failed to send {what} (HTTP {status}).", retryable=True)
    return FetchError(f"MiniVoice answered HTTP {status} for {what}.", retryable=False)
