"""A real WAV file of a given length: 8 kHz, mono, 8-bit, a quiet tone.

Small on purpose (8,000 bytes a second), so a test can fetch a minute of "audio" fast.
"""

from __future__ import annotations

import io
import math
import wave

SAMPLE_RATE = 8000
SAMPLE_WIDTH = 1  # bytes: 8-bit unsigned PCM
HEADER_BYTES = 44  # what `wave` writes for PCM


def wav_size(duration_seconds: int) -> int:
    """The size in bytes of `wav_bytes(duration_seconds)`, without building it."""
    return HEADER_BYTES + SAMPLE_RATE * SAMPLE_WIDTH * duration_seconds


# One second of a 440 Hz tone at low volume, repeated: 440 whole cycles fit in a second,
# so the seams are silent.
_SECOND = bytes(
    128 + round(24 * math.sin(2 * math.pi * 440 * index / SAMPLE_RATE))
    for index in range(SAMPLE_RATE)
)


def wav_bytes(duration_seconds: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(_SECOND * duration_seconds)
    return buffer.getvalue()
