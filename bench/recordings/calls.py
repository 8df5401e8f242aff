"""The benchmark's recorded calls, as MiniVoice would make them known to the app.

Each call is registered with the emulator (which then serves its recording's metadata and
WAV), and its webhooks are signed and posted to the app's intake over HTTP; the events
worker turns them into a call and a completed recording whose audio is pending. Its
fetch is then asked for by task name on the `recordings` queue, as `recordings.work`
asks for it, and the rows are read back from the database.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from celery import Celery
from kombu import Connection

from bench import signing
from bench.load import HarnessError
from bench.recordings.speech import Spoken
from minivoice_emulator.wav import wav_size

# recordings.work's names (not imported: the harness does not load the app's settings;
# a test holds them to the app's).
FETCH_TASK = "recordings.tasks.fetch_recording_audio"
QUEUE = "recordings"
RECORDINGS = "recordings_recording"
COLUMNS = (
    "id", "minivoice_id", "status", "duration_seconds", "audio_state", "audio_size_bytes",
    "audio_sha256", "audio_error", "audio_first_try_at", "audio_stored_at",
    "transcript_state", "transcript", "transcript_error", "transcribed_at",
)  # fmt: skip


@dataclass(frozen=True)
class RecordedCall:
    call_id: str
    recording_id: str
    duration_seconds: int
    said: tuple[Spoken, ...] = ()

    @property
    def size_bytes(self) -> int:
        return wav_size(self.duration_seconds)


def recorded_call(name: str, *, run: str, duration_seconds: int, said=()) -> RecordedCall:
    return RecordedCall(
        call_id=f"call_{run}_{name}",
        recording_id=f"rec_{run}_{name}",
        duration_seconds=duration_seconds,
        said=tuple(said),
    )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def registration(call: RecordedCall, *, ended_at: datetime) -> dict:
    """What the emulator is told of the call (minivoice_emulator.api.call_document)."""
    started_at = ended_at - timedelta(seconds=call.duration_seconds + 5)
    return {
        "call": {
            "id": call.call_id,
            "status": "completed",
            "duration_seconds": call.duration_seconds + 5,
            "started_at": _iso(started_at),
            "ended_at": _iso(ended_at),
            "from": "+15550100",
            "to": "+15550199",
            "direction": "inbound",
        },
        "recordings": [
            {
                "id": call.recording_id,
                "status": "completed",
                "duration_seconds": call.duration_seconds,
                "created_at": _iso(started_at),
                "completed_at": _iso(ended_at),
                "spoken": [
                    {"offset_seconds": s.offset_seconds, "text": s.text, "speaker": "prompt"}
                    for s in call.said
                ],
            }
        ],
    }


def webhook_bodies(call: RecordedCall, *, at: datetime) -> list[bytes]:
    """The call's deliveries in MiniVoice's order, its recording completed as a WAV."""
    events = [
        ("call.initiated", "initiated", {}),
        ("call.answered", "in_progress", {}),
        ("recording.started", "in_progress", {"recording_id": call.recording_id}),
        (
            "recording.completed",
            "in_progress",
            {
                "recording_id": call.recording_id,
                "duration_seconds": call.duration_seconds,
                "format": "wav",
                "size_bytes": call.size_bytes,
            },
        ),
        (
            "call.completed",
            "completed",
            {"status": "completed", "duration_seconds": call.duration_seconds + 5},
        ),
    ]
    return [
        json.dumps(
            {
                "event": event,
                "created_at": _iso(at),
                "call": {
                    "id": call.call_id,
                    "status": status,
                    "direction": "inbound",
                    "from": "+15550100",
                    "to": "+15550199",
                },
                "variables": {"queue": "billing", "lang": "en"},
                "data": {"call_id": call.call_id, **data},
            }
        ).encode()
        for event, status, data in events
    ]


def _post(url: str, *, headers: dict, body: bytes, what: str) -> None:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            if not 200 <= response.status < 300:
                raise HarnessError(f"{what} answered HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        raise HarnessError(f"{what} answered HTTP {exc.code}: {exc.read()[:300]!r}") from None
    except OSError as exc:
        raise HarnessError(f"{what} could not be reached: {exc}") from None


def register(calls: Iterable[RecordedCall], *, api_url: str, api_key: str) -> None:
    """Tell the emulator about the calls, as `simulate_call --api-url` does."""
    now = datetime.now(tz=UTC)
    for call in calls:
        _post(
            f"{api_url}/_emulator/calls",
            headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
            body=json.dumps(registration(call, ended_at=now)).encode(),
            what="the emulator's registration",
        )


def post_webhooks(calls: Iterable[RecordedCall], *, base_url: str, secret: str) -> None:
    """Sign and post each call's deliveries to the app's webhook intake."""
    now = datetime.now(tz=UTC)
    timestamp = int(now.timestamp())
    for call in calls:
        for n, body in enumerate(webhook_bodies(call, at=now)):
            webhook_id = f"msg_{call.call_id}_{n}"
            _post(
                f"{base_url}/minivoice/webhooks/",
                headers={
                    "Content-Type": "application/json",
                    "webhook-id": webhook_id,
                    "webhook-timestamp": str(timestamp),
                    "webhook-signature": signing.sign(
                        secret=secret, webhook_id=webhook_id, timestamp=timestamp, body=body
                    ),
                    "X-Forwarded-Proto": "https",
                },
                body=body,
                what="the app's webhook intake",
            )


def rows(conn: psycopg.Connection, calls: Iterable[RecordedCall]) -> dict[str, dict]:
    """The calls' recordings as the app stored them, by MiniVoice recording id."""
    ids = [call.recording_id for call in calls]
    found = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM {RECORDINGS} WHERE minivoice_id = ANY(%s)", [ids]
    ).fetchall()
    return {row[1]: dict(zip(COLUMNS, row, strict=True)) for row in found}


def wait_for_rows(
    conn: psycopg.Connection,
    calls: list[RecordedCall],
    *,
    until: Callable[[dict], bool],
    what: str,
    timeout: float,
) -> dict[str, dict]:
    """Poll until every call's recording row satisfies `until`; HarnessError after
    `timeout` seconds, saying how far they got."""
    deadline = time.monotonic() + timeout
    while True:
        found = rows(conn, calls)
        if len(found) == len(calls) and all(until(row) for row in found.values()):
            return found
        if time.monotonic() > deadline:
            states = {
                c.recording_id: (found.get(c.recording_id) or {}).get("audio_state", "no row")
                for c in calls
            }
            errors = [r["audio_error"] or r["transcript_error"] for r in found.values()]
            raise HarnessError(
                f"{what} did not happen within {timeout:.0f}s: {states} "
                f"{[e for e in errors if e][:3]}"
            )
        time.sleep(0.1)


def completed(row: dict) -> bool:
    return row["status"] == "completed"


def stored(row: dict) -> bool:
    if row["audio_state"] == "unavailable":
        raise HarnessError(
            f"recording {row['minivoice_id']}: audio unavailable: {row['audio_error']}"
        )
    return row["audio_state"] == "stored"


def transcribed(row: dict) -> bool:
    if row["transcript_state"] == "failed":
        raise HarnessError(
            f"recording {row['minivoice_id']}: transcript failed: {row['transcript_error']}"
        )
    return row["transcript_state"] == "done"


class Work:
    """Asks the recordings worker for work by task name, through the run's Redis.

    The connection is given explicitly: Celery would otherwise prefer a
    CELERY_BROKER_URL from the caller's shell to the run's own broker."""

    def __init__(self, broker_url: str) -> None:
        self.app = Celery("bench-recordings", broker=broker_url, set_as_current=False)
        self.connection = Connection(broker_url)
        self.producer = self.app.amqp.Producer(self.connection)

    def fetch(self, recording_pks: Iterable[int]) -> None:
        for pk in recording_pks:
            self.app.send_task(FETCH_TASK, args=(pk,), queue=QUEUE, producer=self.producer)

    def purge(self) -> int:
        """Drop what waits on the `recordings` queue; how many messages."""
        return self.connection.default_channel.queue_purge(QUEUE) or 0

    def close(self) -> None:
        self.connection.release()
        self.app.close()
