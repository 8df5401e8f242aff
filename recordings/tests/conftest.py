"""MiniVoice's REST API for the recordings' tests: the emulator, served on loopback over
real HTTP, with the app's settings pointed at it and audio stored under a temporary
MEDIA_ROOT."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from calls.tests.browser import chromium_page
from conftest import minivoice_event
from minivoice_emulator import api

API_KEY = "recordings-test-key"


@dataclass
class Emulator:
    server: api.EmulatorServer
    media_root: Path

    @property
    def state(self) -> api.EmulatorState:
        return self.server.state

    def add_recording(
        self, recording_id: str, *, call_id: str = "call_123", seconds: int = 3, spoken=()
    ) -> None:
        """Tell the emulator a recording completed, as `simulate_call` does."""
        self.state.register(
            {
                "call": {"id": call_id, "status": "completed"},
                "recordings": [
                    {
                        "id": recording_id,
                        "status": "completed",
                        "duration_seconds": seconds,
                        "created_at": "2026-05-29T12:00:00Z",
                        "completed_at": "2026-05-29T12:00:05Z",
                        "spoken": [
                            {"offset_seconds": offset, "text": text, "speaker": "prompt"}
                            for offset, text in spoken
                        ],
                    }
                ],
            }
        )

    def media(self, recording_id: str) -> bytes:
        return self.state.media(recording_id)

    def sha256(self, recording_id: str) -> str:
        return hashlib.sha256(self.media(recording_id)).hexdigest()

    def stored_files(self) -> list[Path]:
        return sorted(path for path in self.media_root.rglob("*") if path.is_file())

    def fault(self, spec: str) -> None:
        self.state.faults = [api.parse_fault(spec)]


@pytest.fixture
def emulator(settings, tmp_path) -> Emulator:
    """The emulator on a free port; the app's API settings and MEDIA_ROOT point at it.

    Quick timeouts and few tries, so a fault's whole round of retries takes a second.
    """
    state = api.EmulatorState(api_key=API_KEY, slow_seconds=2, seed=1)
    server = api.serve(host="127.0.0.1", port=0, state=state)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    settings.MINIVOICE_API_URL = server.url
    settings.MINIVOICE_API_KEY = API_KEY
    settings.MINIVOICE_API_TIMEOUT_SECONDS = 0.5
    settings.MINIVOICE_RECORDING_FETCH_MAX_TRIES = 3
    settings.MEDIA_ROOT = tmp_path / "media"
    yield Emulator(server=server, media_root=tmp_path / "media")
    server.shutdown()
    server.server_close()


def completed_event(recording_id: str, *, call_id: str = "call_123", seconds: int = 3) -> dict:
    """recording.completed as MiniVoice sends it (CONTRACT.md §2)."""
    return minivoice_event(
        "recording.completed",
        call_id=call_id,
        created_at=datetime(2026, 5, 29, 12, 0, 5, tzinfo=UTC).isoformat().replace("+00:00", "Z"),
        recording_id=recording_id,
        status="completed",
        duration_seconds=seconds,
        format="wav",
        size_bytes=44 + 16000 * seconds,
    )


@pytest.fixture
def page(monkeypatch):
    """Chromium at 1400 px, for the browser tests (set up after the data: fixtures listed
    before it; see calls/tests/browser.py)."""
    with chromium_page(monkeypatch) as tab:
        yield tab
