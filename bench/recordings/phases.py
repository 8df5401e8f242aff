"""The benchmark's first phases: the recordings made known, downloaded over plain HTTP,
fetched by the recordings worker while its memory is sampled, and transcribed."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench import processes
from bench.cpu import descendants, process_cpu_seconds
from bench.load import HarnessError
from bench.recordings import calls, emulator, memory, transcribe
from bench.recordings.calls import RecordedCall, Work
from bench.recordings.speech import reference_text
from bench.recordings.wer import word_error_rate

DOWNLOADS = 3  # timed plain downloads of the long recording, after one that warms it


@dataclass
class Parts:
    """What the run started, as the phases need it."""

    dsn: str
    conn: psycopg.Connection
    env: dict  # the app's environment: no MiniVoice API, no transcripts
    logs: Path
    base_url: str  # gunicorn
    secret: str
    api_url: str  # the emulator
    api_key: str
    work: Work
    server_pid: int
    events_pid: int
    pools: Path

    def worker_env(self, *, transcribe: bool) -> dict:
        """The recordings worker's: MiniVoice's API is the emulator."""
        return self.env | {
            "MINIVOICE_API_URL": self.api_url,
            "MINIVOICE_TRANSCRIBE": "true" if transcribe else "false",
        }


def make_known(parts: Parts, recorded: list[RecordedCall], *, timeout: float = 60) -> dict:
    """Register the calls with the emulator and post their webhooks; once the events
    worker has processed them, their recordings' rows."""
    calls.register(recorded, api_url=parts.api_url, api_key=parts.api_key)
    calls.post_webhooks(recorded, base_url=parts.base_url, secret=parts.secret)
    return calls.wait_for_rows(
        parts.conn, recorded, until=calls.completed, what="processing their webhooks",
        timeout=timeout,
    )  # fmt: skip


def measure_download(parts: Parts, long: RecordedCall, *, downloads: int = DOWNLOADS) -> dict:
    """The long recording's media over plain HTTP: once to warm the emulator (it makes
    the WAV on the first request) and to take its SHA-256, then `downloads` times timed."""
    url = f"{parts.api_url}/v1/recordings/{long.recording_id}/media"
    first = emulator.download(url, api_key=parts.api_key, digest=True)
    if first.size_bytes != long.size_bytes:
        raise HarnessError(f"the emulator served {first.size_bytes} bytes, not {long.size_bytes}")
    timed = [emulator.download(url, api_key=parts.api_key) for _ in range(downloads)]
    rates = [d.mb_per_second for d in timed]
    return {
        "size_bytes": first.size_bytes,
        "sha256": first.sha256,
        "first_seconds": round(first.seconds, 3),
        "seconds": [round(d.seconds, 3) for d in timed],
        "mb_per_second": [round(r, 1) for r in rates],
        "median_mb_per_second": round(statistics.median(rates), 1),
    }


def measure_fetch(
    parts: Parts, *, warm_up: list[RecordedCall], long: RecordedCall, sha256: str
) -> dict:
    """The recordings worker (production's command, `-Q recordings`, one process) fetches
    the `warm_up` recordings, then the long one while its pool process's resident memory
    is sampled; transcripts are off here, so the fetch alone is measured."""
    log_name = "recordings-worker-fetch.log"
    with processes.celery_worker(
        env=parts.worker_env(transcribe=False), workdir=parts.logs, concurrency=1,
        queues=calls.QUEUE, log_name=log_name,
    ) as worker:  # fmt: skip
        child = memory.only_child(worker.pid)
        found = calls.rows(parts.conn, [*warm_up, long])
        # The first task in a fresh process imports and connects: not the download's cost.
        parts.work.fetch(found[c.recording_id]["id"] for c in warm_up)
        calls.wait_for_rows(
            parts.conn, warm_up, until=calls.stored, what="fetching the warm-up recordings",
            timeout=120,
        )  # fmt: skip
        time.sleep(0.5)
        baseline = memory.read_status(child)
        reset = memory.reset_peak(child)
        sampler = memory.RssSampler(child)
        cpu_before = process_cpu_seconds(child)
        sampler.start()
        try:
            started = time.perf_counter()
            parts.work.fetch([found[long.recording_id]["id"]])
            row = calls.wait_for_rows(
                parts.conn, [long], until=calls.stored, what="fetching the long recording",
                timeout=600,
            )[long.recording_id]  # fmt: skip
            seen_after = time.perf_counter() - started
        finally:
            sampler.stop()
        after = memory.read_status(child)
        # Its CPU shows that this process, the one sampled, did the fetch.
        child_cpu = process_cpu_seconds(child) - cpu_before
        if child not in descendants(worker.pid) or not after:
            raise HarnessError("the recordings worker's process changed during the fetch")
    grew = memory.growth(
        baseline_kb=baseline["VmRSS"],
        peak_kb=after["VmHWM"],
        sampled_kb=[kb for _, kb in sampler.samples],
        reset=reset,
    )
    fetch_seconds = (row["audio_stored_at"] - row["audio_first_try_at"]).total_seconds()
    return {
        "memory": grew
        | {
            "after_kb": after["VmRSS"],
            "samples": len(sampler.samples),
            "pid": child,
            "cpu_seconds": round(child_cpu, 3),
        },
        "fetch": {
            "duration_seconds": long.duration_seconds,
            "size_bytes": row["audio_size_bytes"],
            "size_matches": row["audio_size_bytes"] == long.size_bytes,
            "sha256_matches": row["audio_sha256"] == sha256,
            "seconds": round(fetch_seconds, 3),
            "seen_after_seconds": round(seen_after, 3),
            "mb_per_second": round(row["audio_size_bytes"] / 1e6 / fetch_seconds, 1)
            if fetch_seconds > 0
            else None,
        },
        "worker_log": log_name,
    }


def measure_transcription(parts: Parts, *, warm: RecordedCall, speech: RecordedCall) -> dict:
    """The app's transcription (`recording_transcribe`, default model) of the speech
    recording, after the warm one has loaded the model; and its word error rate."""
    found = calls.rows(parts.conn, [warm, speech])
    first, timed = transcribe.transcribe(
        [found[warm.recording_id]["id"], found[speech.recording_id]["id"]],
        env=parts.env | {"MINIVOICE_TRANSCRIBE": "true"},
        log=parts.logs / "transcribe.log",
    )
    row = calls.rows(parts.conn, [speech])[speech.recording_id]
    if row["transcript_state"] != "done":
        raise HarnessError(
            f"the transcript is {row['transcript_state']}: {row['transcript_error']}"
        )
    said = reference_text(speech.said)
    alignment = word_error_rate(said, row["transcript"])
    seconds = speech.duration_seconds
    return {
        "audio_seconds": seconds,
        "wall_seconds": timed["wall_seconds"],
        "cpu_seconds": timed["cpu_seconds"],
        "rtf_cpu": round(timed["cpu_seconds"] / seconds, 4),
        "rtf_wall": round(timed["wall_seconds"] / seconds, 4),
        "first_with_model_load": first,
        "said": said,
        "heard": row["transcript"],
        "words_said": alignment.reference_words,
        "substitutions": alignment.substitutions,
        "deletions": alignment.deletions,
        "insertions": alignment.insertions,
        "wer": alignment.wer,
        "edits": alignment.edits,
    }
