"""What the benchmark's recordings say: the shipped flows' prompts, spoken one after
another by the emulator's voice (espeak-ng, 8 kHz like a phone line).

The prompts are every `say` of the consent IVR the harness ships
(`bench/consent_flow.json`, issue 16's example) and of the flows `migrate` made in the
run's database (the seed's default flow), read from there rather than copied here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import psycopg

from bench.follow_up import FLOW_FILE
from minivoice_emulator import voice
from minivoice_emulator.wav import BYTES_PER_SECOND

LEAD_SECONDS = 0.5  # silence before the first prompt, as a recording starts
GAP_SECONDS = 1.0  # between prompts: what the runner leaves, and what Whisper needs


def say_texts(document: dict) -> list[str]:
    """Every `say` text of a flow document, in the order of its steps, once each."""
    found: list[str] = []
    for step in document.get("steps", {}).values():
        for action in step.get("actions", []):
            text = action.get("say", {}).get("text") if isinstance(action, dict) else None
            if isinstance(text, str) and text.strip() and text not in found:
                found.append(text)
    return found


def shipped_prompts(dsn: str) -> list[str]:
    """The consent IVR's prompts, then those of every flow published in the database."""
    prompts = say_texts(json.loads(FLOW_FILE.read_text()))
    with psycopg.connect(dsn, autocommit=True) as conn:
        documents = conn.execute("SELECT document FROM calls_flowversion ORDER BY id").fetchall()
    for (document,) in documents:
        prompts += [text for text in say_texts(document) if text not in prompts]
    return prompts


@dataclass(frozen=True)
class Spoken:
    offset_seconds: float
    text: str


def spoken_seconds(text: str) -> float:
    """How long the emulator's voice takes to say `text`."""
    return len(voice.speech(text)) / BYTES_PER_SECOND


def layout(
    prompts: Iterable[str],
    *,
    repeats: int = 1,
    duration_of: Callable[[str], float] = spoken_seconds,
) -> tuple[list[Spoken], int]:
    """The prompts said in order, `repeats` times, each after a gap; and the whole
    seconds the recording needs to hold them all (the emulator's lengths are whole)."""
    said: list[Spoken] = []
    at = LEAD_SECONDS
    for _ in range(repeats):
        for text in prompts:
            said.append(Spoken(round(at, 3), text))
            at += duration_of(text) + GAP_SECONDS
    return said, max(1, math.ceil(at))


def reference_text(said: Iterable[Spoken]) -> str:
    """What a perfect transcript would say."""
    return " ".join(spoken.text for spoken in said)
