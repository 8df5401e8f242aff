"""What the emulated API knows: the calls and recordings registered with it, the faults
asked for, and the documents it serves of them."""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass

from minivoice_emulator import voice, wav
from minivoice_emulator.payloads import iso
from minivoice_emulator.runner import PlayedCall, PlayedRecording

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
