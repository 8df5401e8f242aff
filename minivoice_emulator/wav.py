"""A recording's WAV: 8 kHz, mono, 16-bit, like a phone line, of a given length.

Silence, with whatever was said during the recording placed at the moment it was said
(`minivoice_emulator.voice` speaks it). A length is whole seconds, so the size is known
before the audio is made (`wav_size`), as MiniVoice's metadata and webhook say it.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Iterable

SAMPLE_RATE = 8000
SAMPLE_WIDTH = 2  # bytes: 16-bit signed little-endian PCM
HEADER_BYTES = 44  # what `wave` writes for PCM
BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_WIDTH


def wav_size(duration_seconds: int) -> int:
    """The size in bytes of `wav_bytes(duration_seconds, …)`, without building it."""
    return HEADER_BYTES + BYTES_PER_SECOND * duration_seconds


def wav_bytes(duration_seconds: int, sounds: Iterable[tuple[float, bytes]] = ()) -> bytes:
    """`duration_seconds` of silence with each (offset in seconds, PCM frames) laid over
    it; a sound that runs past the end is cut there, as the recorder stopped."""
    frames = bytearray(BYTES_PER_SECOND * duration_seconds)
    for offset, pcm in sounds:
        start = max(0, round(offset * SAMPLE_RATE)) * SAMPLE_WIDTH
        if start >= len(frames):
            continue
        piece = pcm[: len(frames) - start]
        piece = piece[: len(piece) - len(piece) % SAMPLE_WIDTH]
        frames[start : start + len(piece)] = piece
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(bytes(frames))
    return buffer.getvalue()
