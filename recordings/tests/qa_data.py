"""A QA list's worth of recordings, as a support team's week leaves them: most completed
and stored (with real WAV audio in storage and a transcript), some failed with
MiniVoice's reason, some started and never completed, some whose audio could not be
fetched, some pruned; calls answered by two flows and the fallback. Deterministic (a
seeded random), so a test can say what it expects."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from calls.models import AnswerExchange, Call, Flow
from minivoice_emulator import voice, wav
from recordings import storage
from recordings.models import AudioState, Recording, TranscriptState

FLOWS = ["booking", "billing"]
SAID = [
    "Thank you for calling Riverside Dental. I want to cancel my appointment on Friday.",
    "Hello, I'd like to book a cleaning for next week, any morning works for me.",
    "I was charged twice for the same visit, my card is ####-####-####-#### can you check?",
    "Can I move my appointment from Tuesday to Thursday afternoon please?",
    "Hi, I'm calling about the invoice I received, the amount looks wrong to me.",
    "Yes I need to cancel, something came up at work, sorry about that.",
    "What are your opening hours on Saturday?",
    "I'd like to speak to someone about a refund for the last appointment.",
]
FAILURES = ["storage unavailable", "recording limit reached for this account", "codec error"]
UNAVAILABLE = [
    "Gave up: Try 10: MiniVoice answered HTTP 503 Service Unavailable.",
    "Try 1: MiniVoice answered HTTP 404: no such recording.",
    "Gave up: Try 10: MiniVoice said the audio is 1920044 bytes, but sent 65536.",
]
# (outcome, weight): how a busy week's recordings end.
OUTCOMES = [
    ("stored", 60),
    ("fetching", 4),
    ("failed", 10),
    ("started", 8),
    ("unavailable", 10),
    ("pruned", 8),
]


@dataclass(frozen=True)
class Made:
    recording: Recording
    outcome: str  # as the QA list's outcome filter names it
    flow: str


def qa_recordings(count: int, *, seed: int = 7, audio_seconds_cap: int = 90) -> list[Made]:
    """`count` calls, each with one recording, spread over the last ten days.

    Stored audio is real WAV in storage: silence with one spoken line, its length the
    recording's, up to `audio_seconds_cap` (longer recordings keep their stated duration;
    the file is cut, to keep a test's storage small)."""
    chance = random.Random(seed)
    for name in FLOWS:
        Flow.objects.get_or_create(name=name, defaults={"first_step": "welcome"})
    spoken = {}
    now = timezone.now()
    made = []
    for n in range(count):
        outcome = chance.choices([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES])[0]
        flow = chance.choices([*FLOWS, "fallback"], [6, 3, 1])[0]
        began = now - timedelta(minutes=chance.randint(5, 10 * 24 * 60))
        seconds = chance.choice([8, 14, 25, 37, 48, 62, 75, 95, 140, 185, 260, 410, 725])
        call = Call.objects.create(
            minivoice_id=f"call_{began:%m%d}_{n:03}",
            direction="inbound",
            from_number=f"+1555{chance.randint(1000000, 9999999)}",
            to_number="+15550199",
            status=Call.Status.ENDED,
            final_status=Call.FinalStatus.COMPLETED,
            started_at=began,
            answered_at=began + timedelta(seconds=2),
            ended_at=began + timedelta(seconds=seconds + 4),
            duration_seconds=seconds + 4,
            created_at=began,
        )
        AnswerExchange.objects.create(
            call=call,
            call_minivoice_id=call.minivoice_id,
            received_at=began + timedelta(seconds=1),
            method="POST",
            flow=flow,
            flow_version=None if flow == "fallback" else chance.randint(1, 4),
            step="welcome",
            response_status=200,
            response_body='{"actions": []}',
            duration_ms=4.2,
        )
        recording = Recording(
            call=call,
            minivoice_id=f"rec_{call.minivoice_id}",
            started_at=began + timedelta(seconds=3),
            created_at=began + timedelta(seconds=3),
            format="wav",
            status=Recording.Status.COMPLETED,
            duration_seconds=seconds,
            completed_at=began + timedelta(seconds=seconds + 3),
        )
        text = chance.choice(SAID)
        match outcome:
            case "stored":
                length = min(seconds, audio_seconds_cap)
                if text not in spoken:
                    spoken[text] = voice.speech(text, "caller")
                audio = wav.wav_bytes(length, [(0.5, spoken[text])])
                key = storage.audio_key(recording.minivoice_id, "wav")
                recording.audio_key = default_storage.save(key, ContentFile(audio))
                recording.audio_state = AudioState.STORED
                recording.audio_size_bytes = len(audio)
                recording.audio_stored_at = recording.completed_at
                if chance.random() < 0.9:
                    recording.transcript_state = TranscriptState.DONE
                    recording.transcript = text
                    recording.transcript_segments = [
                        {"start_seconds": 0.5, "end_seconds": 4.0, "text": text}
                    ]
            case "fetching":
                recording.audio_error = "Try 2: MiniVoice did not answer within 10 seconds."
            case "failed":
                recording.status = Recording.Status.FAILED
                recording.completed_at = None
                recording.duration_seconds = None
                recording.failed_at = began + timedelta(seconds=5)
                recording.failure_reason = chance.choice(FAILURES)
            case "started":
                recording.status = Recording.Status.STARTED
                recording.completed_at = None
                recording.duration_seconds = None
            case "unavailable":
                recording.audio_state = AudioState.UNAVAILABLE
                recording.audio_error = chance.choice(UNAVAILABLE)
            case "pruned":
                recording.audio_state = AudioState.PRUNED
                recording.transcript_state = TranscriptState.DONE
                recording.transcript = text
        recording.save()
        made.append(Made(recording=recording, outcome=_filter_name(outcome), flow=flow))
    return made


def _filter_name(outcome: str) -> str:
    return {"stored": "completed", "fetching": "completed"}.get(outcome, outcome)
