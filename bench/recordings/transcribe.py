"""Transcription timed through the app's own code, in a process of its own.

    python -m bench.recordings.transcribe PK [PK...]   (started by the benchmark)

Loads the app (the run's database and MEDIA_ROOT, from the environment) and calls
`recordings.transcribing.recording_transcribe` on each stored recording in turn, as the
recordings worker's task does, timing each: wall seconds and this process's CPU seconds
(all its threads). The first one also loads the model; the benchmark gives a short
recording first so that the figures after it are the transcription's alone. Prints one
line, `BENCH_TRANSCRIBED <json>`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import django

from bench import processes
from bench.load import HarnessError

RESULT_PREFIX = "BENCH_TRANSCRIBED "


def main(argv: list[str]) -> int:
    try:
        pks = [int(value) for value in argv]
    except ValueError:
        print("usage: python -m bench.recordings.transcribe PK [PK...]", file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minivoice_site.settings")
    django.setup()
    # After django.setup(): the app's modules need its settings and models loaded.
    from recordings.transcribing import recording_transcribe  # noqa: PLC0415

    timed = []
    for pk in pks:
        wall, cpu = time.perf_counter(), time.process_time()
        state = recording_transcribe(recording_pk=pk)
        timed.append(
            {
                "pk": pk,
                "state": state,
                "wall_seconds": round(time.perf_counter() - wall, 3),
                "cpu_seconds": round(time.process_time() - cpu, 3),
            }
        )
    print(RESULT_PREFIX + json.dumps(timed), flush=True)
    return 0


def transcribe(pks: list[int], *, env: dict, log: Path, timeout: float = 600) -> list[dict]:
    """Run this module on `pks` with the app's environment `env`; its timings."""
    command = [sys.executable, "-m", "bench.recordings.transcribe", *map(str, pks)]
    try:
        done = subprocess.run(
            command, cwd=processes.ROOT, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise HarnessError(f"transcribing took longer than {timeout:.0f}s") from None
    log.write_text(done.stdout + done.stderr)
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line.removeprefix(RESULT_PREFIX))
    raise HarnessError(f"transcribing failed ({done.returncode}):\n{done.stderr[-2000:]}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
