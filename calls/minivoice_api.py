"""MiniVoice's REST API (CONTRACT.md §3): the one place this app asks it anything.

`GET {MINIVOICE_API_URL}/v1/recordings/{id}` for a recording's metadata, `GET {media_url}`
for its bytes, `GET {MINIVOICE_API_URL}/v1/calls/{id}` for a call's final data, all with
`Authorization: Bearer {MINIVOICE_API_KEY}`. The recordings app fetches audio with it;
the sweep (`calls.problems.lookups`) asks it what webhooks did not say. Every way a
request can go wrong becomes a `FetchError` that says, in words for support, what
happened and whether trying again may help (timeouts, 5xx, 429, a cut-off body: yes;
404, a refused key, a recording that failed: no).
"""

from __future__ import annotations

import http.client
import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from urllib.error import HTTPError, URLError
from urllib.parse import quote

from django.conf import settings

from calls.protocol import contract

METADATA_MAX_BYTES = 64 * 1024
# No proxy from the environment: MiniVoice's API is reached as configured, and the
# Bearer key goes nowhere else.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class FetchError(Exception):
    """A request that failed; `retryable` says whether another try may succeed, and
    `not_found` that MiniVoice answered that it has no such thing (404 or 410)."""

    def __init__(self, reason: str, *, retryable: bool, not_found: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.not_found = not_found


@dataclass(frozen=True)
class RecordingInfo:
    """What MiniVoice's API says of a recording, whatever its status; each field checked,
    None (or "") where it said nothing usable."""

    recording_id: str
    status: str  # "started", "completed", "failed", or whatever MiniVoice said
    duration_seconds: int | None
    size_bytes: int | None
    media_url: str
    format: str
    completed_at: datetime | None


@dataclass(frozen=True)
class Metadata:
    """A completed recording's metadata: what fetching its audio needs."""

    recording_id: str
    status: str
    size_bytes: int | None
    media_url: str
    format: str


@dataclass(frozen=True)
class CallData:
    """MiniVoice's final data of a call (CONTRACT.md §3)."""

    call_id: str
    status: str  # a final status (contract.CALL_END_STATUSES) once the call ended
    duration_seconds: int | None
    started_at: datetime | None
    ended_at: datetime | None

    @property
    def ended(self) -> bool:
        return self.status in contract.CALL_END_STATUSES


def api_configured() -> bool:
    return bool(settings.MINIVOICE_API_URL)


def recording_info(recording_id: str) -> RecordingInfo:
    """What MiniVoice says of the recording now, whatever its status; else FetchError."""
    document = _document(f"/v1/recordings/{quote(recording_id, safe='')}", "the recording")
    status = contract.text(document.get("status"), max_length=32)
    media_url = contract.text(document.get("media_url"))
    return RecordingInfo(
        recording_id=recording_id,
        status=status,
        duration_seconds=contract.whole_number(document.get("duration_seconds")),
        size_bytes=_size(document.get("size_bytes")),
        media_url=media_url if media_url.startswith(("http://", "https://")) else "",
        format=contract.text(document.get("format"), max_length=32),
        completed_at=contract.parse_timestamp(document.get("completed_at")),
    )


def recording_metadata(recording_id: str) -> Metadata:
    """The recording's metadata, once MiniVoice says its audio exists; else FetchError."""
    document = _document(
        f"/v1/recordings/{quote(recording_id, safe='')}", "the recording's metadata"
    )
    return _metadata(recording_id, document)


def call_data(call_id: str) -> CallData:
    """MiniVoice's data of the call now (ended or not); else FetchError."""
    document = _document(f"/v1/calls/{quote(call_id, safe='')}", "the call")
    return CallData(
        call_id=call_id,
        status=contract.text(document.get("status"), max_length=32),
        duration_seconds=contract.whole_number(document.get("duration_seconds")),
        started_at=contract.parse_timestamp(document.get("started_at")),
        ended_at=contract.parse_timestamp(document.get("ended_at")),
    )


def _document(path: str, what: str) -> dict:
    base = settings.MINIVOICE_API_URL.rstrip("/")
    if not base:
        raise FetchError(
            f"MINIVOICE_API_URL is not set, so MiniVoice cannot be asked for {what}.",
            retryable=False,
        )
    with _get(base + path, what=what) as response:
        body = _Guarded(response, what=what).read(METADATA_MAX_BYTES + 1)
    if len(body) > METADATA_MAX_BYTES:
        raise FetchError(f"MiniVoice's answer for {what} is too large.", retryable=False)
    try:
        document = json.loads(body)
    except ValueError:
        raise FetchError(f"MiniVoice's answer for {what} is not JSON.", retryable=True) from None
    if not isinstance(document, dict):
        raise FetchError(f"MiniVoice's answer for {what} is not a JSON object.", retryable=True)
    return document


def _size(value: object) -> int | None:
    return contract.whole_number(value, maximum=2**63 - 1)


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
        yield _Guarded(response, what="the audio")


class _Guarded:
    """A response whose reads turn a cut-off or stalled body into a retryable FetchError.

    http.client ends a body that stops short of its Content-Length as if it were whole,
    so the bytes are counted here against what the header promised.
    """

    def __init__(self, response: http.client.HTTPResponse, *, what: str) -> None:
        self._response = response
        self._what = what
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
                f"MiniVoice stopped sending {self._what} for {seconds} s.", retryable=True
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise FetchError(
                f"The download of {self._what} broke off: {exc}.", retryable=True
            ) from None
        self._received += len(chunk)
        if not chunk and self._promised is not None and self._received < self._promised:
            raise FetchError(
                f"{self._what[0].upper() + self._what[1:]} was cut off after {self._received} "
                f"of the {self._promised} bytes promised (the connection closed early).",
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
        return FetchError(
            f"MiniVoice does not have {what} (HTTP {status}).", retryable=False, not_found=True
        )
    if status in (401, 403):
        return FetchError(
            f"MiniVoice refused our API key for {what} (HTTP {status}): check MINIVOICE_API_KEY.",
            retryable=False,
        )
    if status == 429 or status >= 500:
        return FetchError(f"MiniVoice failed to send {what} (HTTP {status}).", retryable=True)
    return FetchError(f"MiniVoice answered HTTP {status} for {what}.", retryable=False)
