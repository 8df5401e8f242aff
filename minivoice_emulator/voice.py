"""The emulator's voice: text spoken as MiniVoice's text-to-speech would, by espeak-ng,
made a phone line's 8 kHz mono 16-bit PCM by sox (both from Debian: `make audio-tools`).

Without them, a quiet tone as long as the words would take stands in for the speech, so
the emulator still works on a machine that has neither (its transcripts say nothing).
"""

from __future__ import annotations

import functools
import math
import shutil
import subprocess

from minivoice_emulator.wav import SAMPLE_RATE, SAMPLE_WIDTH

# Words per minute: fast enough that a prompt fits the time the runner gives it (0.4 s a
# word), slow enough to be understood.
WORDS_PER_MINUTE = 175
VOICES = {"prompt": ["-v", "en-us"], "caller": ["-v", "en-us", "-p", "70"]}
TIMEOUT_SECONDS = 30
MAX_TEXT = 2000


def can_speak() -> bool:
    return bool(shutil.which("espeak-ng") and shutil.which("sox"))


@functools.lru_cache(maxsize=256)
def speech(text: str, speaker: str = "prompt") -> bytes:
    """PCM frames (8 kHz, mono, 16-bit signed) of `text` said by `speaker`."""
    text = text[:MAX_TEXT]
    if not can_speak():
        return _tone(seconds=0.4 * max(1, len(text.split())))
    try:
        return _spoken(text, speaker)
    except (OSError, subprocess.SubprocessError):
        # A voice that failed must not take the emulator down: the words become a tone.
        return _tone(seconds=0.4 * max(1, len(text.split())))


def _spoken(text: str, speaker: str) -> bytes:
    espeak = subprocess.run(
        # "--" so that a text beginning with a dash is said, not read as an option.
        [
            "espeak-ng",
            *VOICES.get(speaker, VOICES["prompt"]),
            "-s",
            str(WORDS_PER_MINUTE),
            "--stdout",
            "--",
            text,
        ],
        capture_output=True,
        check=True,
        timeout=TIMEOUT_SECONDS,
    )
    sox = subprocess.run(
        [
            "sox",
            # No dither: sox's default adds random noise, so the same words would make
            # different bytes each time, and a recording's audio (and its SHA-256) would
            # depend on which thread made it first.
            "-D",
            "-t",
            "wav",
            "-",
            "-t",
            "raw",
            "-r",
            str(SAMPLE_RATE),
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            "-L",
            "-",
        ],
        input=espeak.stdout,
        capture_output=True,
        check=True,
        timeout=TIMEOUT_SECONDS,
    )
    return sox.stdout


def _tone(*, seconds: float) -> bytes:
    """A quiet 440 Hz tone: what stands in for speech without espeak-ng."""
    samples = (
        round(2000 * math.sin(2 * math.pi * 440 * index / SAMPLE_RATE))
        for index in range(round(seconds * SAMPLE_RATE))
    )
    return b"".join(sample.to_bytes(SAMPLE_WIDTH, "little", signed=True) for sample in samples)
