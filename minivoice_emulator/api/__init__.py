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

Three modules: `state` (what it knows, its faults, its documents), `server` (the HTTP
routes), `client` (registering a played call with it).
"""

from __future__ import annotations

from minivoice_emulator.api.client import register_call
from minivoice_emulator.api.server import EmulatorServer, serve
from minivoice_emulator.api.state import (
    FAULT_KINDS,
    EmulatorState,
    Fault,
    call_document,
    parse_fault,
)
from minivoice_emulator.transport import Unreachable

__all__ = [
    "FAULT_KINDS",
    "EmulatorServer",
    "EmulatorState",
    "Fault",
    "Unreachable",
    "call_document",
    "parse_fault",
    "register_call",
    "serve",
]
