"""What the soak checks once everything drained, in SQL on its own database and on the
audio files the app stored: nothing lost, no effect twice, every recording's audio the
bytes MiniVoice (the emulator) served.

The tables are the app's (`calls_webhookevent`, `recordings_recording`…): the harness
reads them as `call_timeline` would, without importing the app's models, so it runs
without Django's settings.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg

DONE_STATES = ("processed", "ignored", "malformed")  # calls.models.WebhookEvent.DONE_STATES

# Each: what is counted, and the statement that counts it (0 when all is well).
DUPLICATES = {
    "webhook events stored twice for one webhook-id": """
        SELECT count(*) - count(DISTINCT webhook_id) FROM calls_webhookevent""",
    "answers logged twice for one request": """
        SELECT count(webhook_id) - count(DISTINCT webhook_id) FROM calls_answerexchange""",
    "calls stored twice for one MiniVoice id": """
        SELECT count(*) - count(DISTINCT minivoice_id) FROM calls_call""",
    "recordings stored twice for one MiniVoice id": """
        SELECT count(minivoice_id) - count(DISTINCT minivoice_id) FROM recordings_recording""",
    "problems raised twice on one call": """
        SELECT count(*) - count(DISTINCT (call_id, code)) FROM calls_callproblem""",
}

PENDING_SQL = "SELECT count(*) FROM calls_webhookevent WHERE NOT (state = ANY(%s))"
AUDIO_DUE_SQL = """
    SELECT count(*) FROM recordings_recording
    WHERE status = 'completed' AND audio_state = 'pending'"""


@dataclass
class Findings:
    webhooks_sent: int = 0  # distinct webhook-ids the emulator sent
    events_stored: int = 0
    never_acknowledged: int = 0  # the emulator gave up on them
    acknowledged_not_stored: int = 0
    stored_not_processed: int = 0
    recordings_completed: int = 0
    audio_stored: int = 0
    audio_missing: int = 0  # a completed recording with no audio stored
    audio_mismatched: list[str] = field(default_factory=list)  # recording ids
    audio_files: int = 0
    duplicates: dict[str, int] = field(default_factory=dict)
    not_processed_states: dict[str, int] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return (
            self.never_acknowledged
            + self.acknowledged_not_stored
            + self.stored_not_processed
            + self.audio_missing
        )

    @property
    def duplicated(self) -> int:
        extra_files = max(0, self.audio_files - self.audio_stored)
        return sum(self.duplicates.values()) + extra_files

    def as_dict(self) -> dict:
        return asdict(self) | {"lost": self.lost, "duplicated": self.duplicated}


def backlog(conn: psycopg.Connection) -> tuple[int, int]:
    """(events not yet done, completed recordings whose audio is still to fetch)."""
    events = conn.execute(PENDING_SQL, (list(DONE_STATES),)).fetchone()[0]
    audio = conn.execute(AUDIO_DUE_SQL).fetchone()[0]
    return events, audio


def calls_started(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) FROM calls_call").fetchone()[0]


def examine(
    conn: psycopg.Connection,
    *,
    webhooks_sent: int,
    never_acknowledged: int,
    media_root: Path,
    api_url: str,
    api_key: str,
) -> Findings:
    found = Findings(webhooks_sent=webhooks_sent, never_acknowledged=never_acknowledged)
    found.events_stored = conn.execute("SELECT count(*) FROM calls_webhookevent").fetchone()[0]
    # Every webhook-id the emulator sent is distinct: one not stored was acknowledged (the
    # emulator retries until it is) and then lost, unless the emulator gave up on it.
    found.acknowledged_not_stored = max(0, webhooks_sent - never_acknowledged - found.events_stored)
    found.not_processed_states = dict(
        conn.execute(
            "SELECT state, count(*) FROM calls_webhookevent WHERE NOT (state = ANY(%s)) "
            "GROUP BY state",
            (list(DONE_STATES),),
        ).fetchall()
    )
    found.stored_not_processed = sum(found.not_processed_states.values())
    found.duplicates = {what: conn.execute(sql).fetchone()[0] for what, sql in DUPLICATES.items()}
    recordings = conn.execute(
        "SELECT minivoice_id, audio_state, audio_key, audio_sha256 FROM recordings_recording "
        "WHERE status = 'completed'"
    ).fetchall()
    found.recordings_completed = len(recordings)
    stored = [(rid, key, sha) for rid, state, key, sha in recordings if state == "stored"]
    found.audio_stored = len(stored)
    found.audio_missing = found.recordings_completed - found.audio_stored
    audio_folder = media_root / "recordings"
    found.audio_files = sum(1 for path in audio_folder.rglob("*") if path.is_file())

    def mismatch(row: tuple[str, str, str]) -> str | None:
        recording_id, key, sha = row
        path = media_root / key
        on_disk = _sha256_file(path) if path.is_file() else "(no file)"
        served = _sha256_served(f"{api_url}/v1/recordings/{recording_id}/media", api_key)
        return None if on_disk == sha == served else recording_id

    with ThreadPoolExecutor(max_workers=4) as pool:
        found.audio_mismatched = [rid for rid in pool.map(mismatch, stored) if rid]
    found.audio_missing += len(found.audio_mismatched)
    return found


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as audio:
        while chunk := audio.read(64 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256_served(url: str, api_key: str) -> str:
    """The SHA-256 of what the emulator serves at `url` (its audio is made the same way
    each time from what the call's recording heard)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"})
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            while chunk := response.read(64 * 1024):
                digest.update(chunk)
    except (urllib.error.URLError, OSError) as exc:
        return f"(not served: {exc})"
    return digest.hexdigest()
