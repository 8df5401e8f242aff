"""The emulated API's HTTP server: routes, Range requests and injected faults."""

from __future__ import annotations

import hmac
import json
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from minivoice_emulator import wav
from minivoice_emulator.api.state import (
    MAX_REGISTRATION_BYTES,
    EmulatorState,
)

_RECORDING = re.compile(r"/v1/recordings/([^/]+)(/media)?")
_CALL = re.compile(r"/v1/calls/([^/]+)")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: EmulatorState, *, quiet: bool = True):
        super().__init__(address, Handler)
        self.state = state
        self.quiet = quiet

    def handle_error(self, request, client_address) -> None:
        # A client that gave up waiting (the slow fault's whole point) is no error here.
        if self.quiet and isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class Handler(BaseHTTPRequestHandler):
    server: EmulatorServer
    server_version = "MiniVoiceEmulator/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)

    # Every method answers; those the API does not have get 405 in the envelope.
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _not_allowed(self) -> None:
        self._drain()
        self._error(405, "method_not_allowed", f"{self.command} is not supported here.")

    do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _not_allowed

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        if not self._authorized():
            self._drain()
            self._error(401, "unauthorized", "Send Authorization: Bearer <your API key>.")
            return
        if method == "POST":
            if path == "/_emulator/calls":
                self._register()
            else:
                self._drain()
                self._error(405, "method_not_allowed", "POST is not supported here.")
            return
        if match := _RECORDING.fullmatch(path):
            self._recording(unquote(match[1]), media=bool(match[2]))
        elif match := _CALL.fullmatch(path):
            call = self.server.state.calls.get(unquote(match[1]))
            if call is None:
                self._error(404, "not_found", "No such call.")
            else:
                self._json(200, call)
        else:
            self._error(404, "not_found", "No such resource.")

    def _authorized(self) -> bool:
        given = self.headers.get("Authorization", "")
        scheme, _, key = given.partition(" ")
        expected = self.server.state.api_key
        return (
            scheme.lower() == "bearer"
            and bool(expected)
            and hmac.compare_digest(key.strip().encode(), expected.encode())
        )

    def _register(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_REGISTRATION_BYTES:
            self._drain()
            self._error(400, "bad_request", "Send a JSON body with a Content-Length.")
            return
        try:
            self.server.state.register(json.loads(self.rfile.read(length)))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self._error(400, "bad_request", f"Not a call document: {exc}")
            return
        self._json(201, {"status": "registered"})

    def _recording(self, recording_id: str, *, media: bool) -> None:
        state = self.server.state
        recording = state.recordings.get(recording_id)
        fault = state.fault_for(recording_id)
        if recording is None or fault == "404":
            self._error(404, "not_found", "No such recording.")
            return
        if fault == "500-once" and state.first_time(recording_id, self.path):
            self._error(500, "internal_error", "Something went wrong; try again.")
            return
        if fault == "slow":
            time.sleep(state.slow_seconds)
        duration = recording.get("duration_seconds")
        completed = recording.get("status") == "completed" and duration is not None
        if not media:
            size = wav.wav_size(duration) if completed else None
            if fault == "size-mismatch" and size is not None:
                size += 1000
            self._json(
                200,
                {
                    "id": recording_id,
                    "call_id": recording["call_id"],
                    "status": recording.get("status"),
                    "duration_seconds": duration,
                    "format": "wav" if completed else None,
                    "size_bytes": size,
                    "media_url": f"{self.server.url}/v1/recordings/{recording_id}/media"
                    if completed
                    else None,
                    "created_at": recording.get("created_at"),
                    "completed_at": recording.get("completed_at"),
                },
            )
            return
        if not completed:
            self._error(404, "no_media", "This recording has no media (it did not complete).")
            return
        data = state.media(recording_id)
        if fault == "not-audio":
            data = _not_audio(len(data))
        stall = fault == "stall-once" and state.first_time(recording_id, self.path)
        self._media(
            data, truncated=fault == "truncated", stall_seconds=state.slow_seconds if stall else 0
        )

    def _media(self, data: bytes, *, truncated: bool, stall_seconds: float = 0) -> None:
        total = len(data)
        status, start, end = 200, 0, total - 1
        header = self.headers.get("Range")
        if header:
            span = _byte_range(header, total)
            if span is None:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{total}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status, (start, end) = 206, span
        body = data[start : end + 1]
        self.send_response(status)
        self.send_header("Content-Type", "audio/wav")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{total}")
        if truncated:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if stall_seconds:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            time.sleep(stall_seconds)
            self.wfile.write(body[len(body) // 2 :])
            return
        self.wfile.write(body[: len(body) // 2] if truncated else body)

    def _json(self, status: int, document: dict) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, code: str, message: str) -> None:
        self._json(status, {"error": {"code": code, "message": message}})

    def _drain(self) -> None:
        """Read and drop a body we will not use, so keep-alive stays in step."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if 0 < length <= MAX_REGISTRATION_BYTES:
            self.rfile.read(length)
        elif length:
            self.close_connection = True


def _not_audio(size: int) -> bytes:
    line = b"This is not audio: MiniVoice served the wrong file.\n"
    return (line * (size // len(line) + 1))[:size]


def _byte_range(header: str, total: int) -> tuple[int, int] | None:
    """(first, last) byte of a single `bytes=` range within `total`; None if unsatisfiable.

    Several ranges at once are answered with the first (a server may ignore the rest).
    """
    match = _RANGE.fullmatch(header.split(",")[0].strip())
    if not match or not (match[1] or match[2]):
        return None
    if not match[1]:  # bytes=-N: the last N bytes
        length = int(match[2])
        if length == 0:
            return None
        return max(0, total - length), total - 1
    start = int(match[1])
    end = int(match[2]) if match[2] else total - 1
    if start >= total or end < start:
        return None
    return start, min(end, total - 1)


def serve(*, host: str, port: int, state: EmulatorState, quiet: bool = True) -> EmulatorServer:
    """A bound server (port 0: any free port); call serve_forever() or run it in a thread."""
    return EmulatorServer((host, port), state, quiet=quiet)
