"""MiniVoice's REST API (CONTRACT.md §3), served on loopback for local work and tests.

A threaded `http.server`: small, no dependency, one process. It knows the calls and
recordings that `simulate_call --api-url` registered with it (`POST /_emulator/calls`,
behind the same key): a call is registered again just before each `recording.completed`
is sent, so a recording is known from the moment MiniVoice says it exists, and once more
when the call ends. Each completed recording is served as a real WAV of its duration in
which the prompts and the caller's words are spoken where they were said
(`minivoice_emulator.wav`, `.voice`); Range requests are honoured, and faults injected
on demand so the app's fetching code can be tested against a server that misbehaves the
way real ones do.
"""

from __future__ import annotations

import hmac
import json
import random
import re
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urlsplit

from minivoice_emulator import voice, wav
from minivoice_emulator.payloads import iso
from minivoice_emulator.runner import PlayedCall, PlayedRecording
from minivoice_emulator.transport import Unreachable, opener

FAULT_KINDS = {
    "404": "the recording is not found",
    "500-once": "the first request for it fails with 500, the next ones succeed",
    "slow": "answers only after --slow-seconds (past a client's timeout)",
    "truncated": "the media's body stops halfway, though Content-Length promised it all",
    "size-mismatch": "the metadata's size_bytes does not match the media served",
    "not-audio": "the media is as long as promised, but not a WAV (nor any audio)",
    "stall-once": "the first download of the media stops halfway for --slow-seconds before "
    "the rest comes (a worker to kill mid-download); the next ones are whole",
}
ID_MAX_LENGTH = 128
MAX_REGISTRATION_BYTES = 1024 * 1024
_RECORDING = re.compile(r"/v1/recordings/([^/]+)(/media)?")
_CALL = re.compile(r"/v1/calls/([^/]+)")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
MAX_SPOKEN = 200  # words said per recording that the emulator keeps
MEDIA_CACHED = 4  # recordings' WAVs kept made (an hour's is 58 MB)


@dataclass(frozen=True)
class Fault:
    kind: str
    recording_id: str | None = None  # one recording, or…
    rate: float | None = None  # …this share of all recordings


def parse_fault(spec: str) -> Fault:
    """`rec_123=404` (one recording) or `25%=500-once` (a share of them); else ValueError."""
    target, separator, kind = spec.partition("=")
    if not separator or not target or kind not in FAULT_KINDS:
        raise ValueError(
            f"--fault {spec!r}: expected RECORDING_ID=KIND or PERCENT%=KIND, "
            f"KIND one of {', '.join(FAULT_KINDS)}"
        )
    if target.endswith("%"):
        try:
            rate = float(target[:-1]) / 100
        except ValueError:
            rate = -1.0
        if not 0 <= rate <= 1:
            raise ValueError(f"--fault {spec!r}: the rate must be from 0% to 100%")
        return Fault(kind, rate=rate)
    if len(target) > ID_MAX_LENGTH or not target.isprintable():
        raise ValueError(f"--fault {spec!r}: that is not a recording id")
    return Fault(kind, recording_id=target)


def call_document(played: PlayedCall) -> dict:
    """What `simulate_call` tells the emulator about a call it played."""
    return {
        "call": {
            "id": played.call_id,
            "status": played.final_status or "in_progress",
            "duration_seconds": played.duration_seconds,
            "started_at": iso(played.started_at),
            "ended_at": iso(played.ended_at) if played.ended_at else None,
            "from": "+15550100",
            "to": "+15550199",
            "direction": "inbound",
        },
        "recordings": [
            {
                "id": recording.recording_id,
                "status": recording.status,
                "duration_seconds": recording.duration_seconds,
                "created_at": iso(recording.started_at or played.started_at),
                "completed_at": iso(recording.completed_at) if recording.completed_at else None,
                "spoken": _heard(played, recording),
            }
            for recording in played.recordings.values()
        ],
    }


def _heard(played: PlayedCall, recording: PlayedRecording) -> list[dict]:
    """What the recording heard: the words said while it ran, at their offset into it."""
    if recording.started_at is None:
        return []
    end = recording.stopped_at
    return [
        {
            "offset_seconds": (spoken.at - recording.started_at).total_seconds(),
            "text": spoken.text,
            "speaker": spoken.speaker,
        }
        for spoken in played.spoken
        if spoken.at >= recording.started_at and (end is None or spoken.at < end)
    ]


class EmulatorState:
    """Calls, recordings and faults, shared by the server's threads."""

    def __init__(
        self, *, api_key: str, faults: list[Fault] = (), slow_seconds: float = 15, seed=None
    ):
        self.api_key = api_key
        self.faults = list(faults)
        self.slow_seconds = slow_seconds
        self.calls: dict[str, dict] = {}
        self.recordings: dict[str, dict] = {}
        self._media: dict[str, tuple[str, bytes]] = {}  # id → (what it was made of, WAV)
        self._failed_once: set[tuple[str, str]] = set()
        self._drawn: dict[str, str | None] = {}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def register(self, document: dict) -> None:
        call = document["call"]
        recordings = document.get("recordings", [])
        if not isinstance(call, dict) or not _is_id(call.get("id")):
            raise ValueError("call.id must be a string id")
        if not isinstance(recordings, list) or not all(
            isinstance(item, dict) and _is_id(item.get("id")) for item in recordings
        ):
            raise ValueError("recordings must be a list of objects with an id")
        with self._lock:
            self.calls[call["id"]] = call
            for recording in recordings:
                duration = recording.get("duration_seconds")
                if not isinstance(duration, int) or not 0 <= duration <= 4 * 3600:
                    duration = None
                self.recordings[recording["id"]] = {**recording, "call_id": call["id"]} | {
                    "duration_seconds": duration,
                    "spoken": _spoken(recording.get("spoken")),
                }

    def media(self, recording_id: str) -> bytes:
        """The recording's WAV, made once (and again if what it heard changed)."""
        with self._lock:
            recording = self.recordings[recording_id]
        made_of = json.dumps([recording["duration_seconds"], recording["spoken"]])
        cached = self._media.get(recording_id)
        if cached and cached[0] == made_of:
            return cached[1]
        sounds = [
            (said["offset_seconds"], voice.speech(said["text"], said["speaker"]))
            for said in recording["spoken"]
        ]
        data = wav.wav_bytes(recording["duration_seconds"], sounds)
        with self._lock:
            while len(self._media) >= MEDIA_CACHED:
                self._media.pop(next(iter(self._media)))
            self._media[recording_id] = (made_of, data)
        return data

    def fault_for(self, recording_id: str) -> str | None:
        with self._lock:
            for fault in self.faults:
                if fault.recording_id == recording_id:
                    return fault.kind
            if recording_id not in self._drawn:
                drawn = None
                for fault in self.faults:
                    if fault.rate is not None and self._rng.random() < fault.rate:
                        drawn = fault.kind
                        break
                self._drawn[recording_id] = drawn
            return self._drawn[recording_id]

    def first_time(self, recording_id: str, path: str) -> bool:
        """True once per recording and path (for the 500-once fault)."""
        with self._lock:
            if (recording_id, path) in self._failed_once:
                return False
            self._failed_once.add((recording_id, path))
            return True


def _spoken(value: object) -> list[dict]:
    """The words a registration says a recording heard, the well-formed ones only."""
    if not isinstance(value, list):
        return []
    return [
        {
            "offset_seconds": float(item["offset_seconds"]),
            "text": item["text"][: voice.MAX_TEXT],
            "speaker": item.get("speaker") if item.get("speaker") in voice.VOICES else "prompt",
        }
        for item in value[:MAX_SPOKEN]
        if isinstance(item, dict)
        and isinstance(item.get("text"), str)
        and isinstance(item.get("offset_seconds"), int | float)
        and 0 <= item["offset_seconds"] <= 4 * 3600
    ]


def _is_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= ID_MAX_LENGTH and value.isprintable()


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


def register_call(*, api_url: str, api_key: str, played: PlayedCall, timeout: float = 5) -> None:
    """Tell a running emulator about a played call; raises Unreachable or ValueError."""
    request = urllib.request.Request(
        api_url.rstrip("/") + "/_emulator/calls",
        data=json.dumps(call_document(played)).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    try:
        with opener.open(request, timeout=timeout):
            return
    except HTTPError as exc:
        raise ValueError(f"the emulator at {api_url} answered HTTP {exc.code}") from None
    except (URLError, OSError) as exc:
        raise Unreachable(f"{api_url}: {getattr(exc, 'reason', exc)}") from None
