"""A worker killed mid-download: real processes, a real SIGKILL.

The emulator runs as `manage.py minivoice_emulator --fault rec_kill=stall-once`, so the
first download of the recording's media stops halfway; `manage.py fetch_recordings`
(the fetch a worker runs, in a process of its own) is killed with SIGKILL once its
temporary file holds part of the audio. Nothing of it may stay in storage or in the
temporary directory; the dead worker's claim holds off another try until it runs out
(MINIVOICE_RECORDING_FETCH_LEASE_SECONDS), and then the download is tried again and
stored whole. The processes share a SQLite file of their own, whatever database the
suite runs on.

Where production's parts are (PostgreSQL and a broker, as `.ci/run` runs the suite), the
same with a real Celery worker: its pool process is killed mid-download, and Celery's
late acknowledgement hands the task to the next one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from calls.models import Call
from minivoice_emulator import api
from minivoice_emulator.runner import PlayedCall, PlayedRecording
from minivoice_emulator.tests.processes import MANAGE, environment, manage, running
from minivoice_emulator.transport import opener
from minivoice_site.celery import app as celery_app
from recordings.models import Recording
from recordings.work import FETCH_RECORDING_AUDIO

KEY = "kill-test-key"
LEASE_SECONDS = 20  # longer than the slowest start-up of a command on a busy machine
SECONDS_OF_AUDIO = 60  # 960,044 bytes: the worker reads it in 64 KiB chunks

SEED = (
    "from calls.models import Call; from recordings.models import Recording; "
    "call = Call.objects.create(minivoice_id='call_kill', status='ended'); "
    "Recording.objects.create(call=call, minivoice_id='rec_kill', status='completed', "
    "format='wav', duration_seconds=60)"
)


@pytest.fixture
def places(tmp_path) -> dict[str, Path]:
    made = {name: tmp_path / name for name in ("media", "spool")}
    for path in made.values():
        path.mkdir()
    return made | {"database": tmp_path / "db.sqlite3"}


@pytest.fixture
def emulator_url(places):
    """The emulator's own process, stalling the first download of rec_kill's media."""
    env = environment(f"sqlite:///{places['database']}", MINIVOICE_API_KEY=KEY)
    args = ["--port", "0", "--fault", "rec_kill=stall-once", "--slow-seconds", "120"]
    with running("minivoice_emulator", *args, env=env) as process:
        url = process.stdout.readline().split(" on ")[1].split()[0]
        start = datetime(2026, 5, 29, 12, tzinfo=UTC)
        played = PlayedCall(call_id="call_kill", scenario="happy", started_at=start)
        played.recordings["rec_kill"] = PlayedRecording(
            "rec_kill", "completed", started_at=start, duration_seconds=SECONDS_OF_AUDIO
        )
        api.register_call(api_url=url, api_key=KEY, played=played)
        yield url


@pytest.fixture
def app_env(places, emulator_url) -> dict:
    env = environment(
        f"sqlite:///{places['database']}",
        MINIVOICE_API_URL=emulator_url,
        MINIVOICE_API_KEY=KEY,
        MINIVOICE_API_TIMEOUT_SECONDS="120",  # the stalled worker waits; it is killed first
        MINIVOICE_RECORDING_FETCH_LEASE_SECONDS=str(LEASE_SECONDS),
        MINIVOICE_TRANSCRIBE="false",
        MEDIA_ROOT=str(places["media"]),
        TMPDIR=str(places["spool"]),
    )
    for args in (["migrate", "--no-input"], ["shell", "--no-imports", "-c", SEED]):
        result = manage(*args, env=env)
        assert result.returncode == 0, result.stderr
    return env


def spooled_bytes(pid: int, spool: Path) -> int:
    """How much of the audio the process holds in its temporary file (0: none yet).

    The download's spool is `tempfile.TemporaryFile`: unnamed from the start (O_TMPFILE,
    `#<inode>`) or unlinked at once (`recording-…`); other temporary files a process may
    keep there (a Celery pool's) are not it.
    """
    spooled = re.compile(rf"{re.escape(str(spool))}/(#\d+|recording-\w+) \(deleted\)")
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if spooled.fullmatch(os.readlink(fd)):
                return fd.stat().st_size
        except FileNotFoundError:  # closed meanwhile
            continue
    return 0


def claimed_at(database: Path) -> float:
    """When a worker claimed rec_kill's download (a Unix time), read from the processes'
    SQLite file: the claim a killed worker leaves behind."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        (since,) = db.execute(
            "SELECT audio_fetching_since FROM recordings_recording WHERE minivoice_id = ?",
            ("rec_kill",),
        ).fetchone()
    assert since is not None, "the killed worker's claim is gone"
    return datetime.fromisoformat(since).replace(tzinfo=UTC).timestamp()


def recording_json(env: dict) -> dict:
    result = manage("call_timeline", "call_kill", "--json", env=env)
    assert result.returncode == 0, result.stderr
    [recording] = json.loads(result.stdout)["recordings"]
    return recording


def files_under(path: Path) -> list[Path]:
    return sorted(found for found in path.rglob("*") if found.is_file())


def test_a_worker_killed_mid_download_leaves_nothing_and_the_download_is_tried_again(
    places, emulator_url, app_env
):
    worker = subprocess.Popen(
        [sys.executable, MANAGE, "fetch_recordings", "--id", "rec_kill"],
        env=app_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while (held := spooled_bytes(worker.pid, places["spool"])) == 0:
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, "the worker never started downloading"
            time.sleep(0.05)
        time.sleep(0.3)  # let it take in what the emulator sent before the stall
        held = spooled_bytes(worker.pid, places["spool"])
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.kill()
        worker.communicate()
    assert worker.returncode == -signal.SIGKILL
    total = 44 + 16000 * SECONDS_OF_AUDIO
    assert 0 < held < total  # killed mid-download, not before or after

    # Nothing half-written anywhere: not in storage, not in the temporary directory.
    assert files_under(places["media"]) == []
    assert files_under(places["spool"]) == []

    # The dead worker's claim holds off another try until it runs out…
    claimed = claimed_at(places["database"])
    busy = manage("fetch_recordings", "--id", "rec_kill", env=app_env)
    assert time.time() < claimed + LEASE_SECONDS, "too slow to see the claim held"
    assert busy.returncode == 0, busy.stderr
    assert "1 still pending" in busy.stdout
    assert "another worker has been fetching it since" in busy.stdout
    assert files_under(places["media"]) == []
    recording = recording_json(app_env)
    assert (recording["audio_state"], recording["audio_sha256"]) == ("pending", None)

    # …and then the download is tried again, and stored whole.
    time.sleep(max(0.0, claimed + LEASE_SECONDS + 0.5 - time.time()))
    again = manage("fetch_recordings", "--id", "rec_kill", env=app_env)
    assert again.returncode == 0, again.stderr
    assert "Fetched 1 recording(s): 1 stored." in again.stdout
    request = urllib.request.Request(
        f"{emulator_url}/v1/recordings/rec_kill/media", headers={"Authorization": f"Bearer {KEY}"}
    )
    with opener.open(request, timeout=10) as response:
        media = response.read()
    recording = recording_json(app_env)
    assert recording["audio_state"] == "stored"
    assert (recording["audio_size_bytes"], recording["audio_sha256"]) == (
        total,
        hashlib.sha256(media).hexdigest(),
    )
    [stored] = files_under(places["media"])
    assert stored.read_bytes() == media
    assert files_under(places["spool"]) == []


# -- The same with a real Celery worker -----------------------------------------------------


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}{port}/{db['NAME']}"


def _children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except (FileNotFoundError, ProcessLookupError):
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


@pytest.mark.worker
@pytest.mark.skipif(
    settings.CELERY_TASK_ALWAYS_EAGER or connection.vendor != "postgresql",
    reason="needs CELERY_BROKER_URL and DATABASE_URL=postgres://… (.ci/run sets both)",
)
@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_killed_mid_download_hands_the_task_on_and_it_is_stored(places):
    """The pool process downloading is killed; Celery hands its unacknowledged task to
    the next pool process, which finds the dead one's claim, waits for it to run out and
    stores the audio whole."""
    state = api.EmulatorState(
        api_key=KEY, faults=[api.parse_fault("rec_kill=stall-once")], slow_seconds=120
    )
    server = api.serve(host="127.0.0.1", port=0, state=state)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    state.register(
        {
            "call": {"id": "call_kill", "status": "completed"},
            "recordings": [
                {"id": "rec_kill", "status": "completed", "duration_seconds": SECONDS_OF_AUDIO}
            ],
        }
    )
    call = Call.objects.create(minivoice_id="call_kill", status=Call.Status.ENDED)
    recording = Recording.objects.create(
        call=call, minivoice_id="rec_kill", status=Recording.Status.COMPLETED, format="wav"
    )
    queue = f"test-kill-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DEBUG": "true",
        "MINIVOICE_API_URL": server.url,
        "MINIVOICE_API_KEY": KEY,
        "MINIVOICE_API_TIMEOUT_SECONDS": "120",
        "MINIVOICE_RECORDING_FETCH_LEASE_SECONDS": str(LEASE_SECONDS),
        "MINIVOICE_TRANSCRIBE": "false",
        "MEDIA_ROOT": str(places["media"]),
        "TMPDIR": str(places["spool"]),
    }
    command = [
        sys.executable, "-m", "celery", "-A", "minivoice_site", "worker", "--queues", queue,
        "--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    log = places["spool"].parent / "worker.log"
    with log.open("w") as output:
        worker = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    eager, celery_app.conf.CELERY_TASK_ALWAYS_EAGER = (
        celery_app.conf.CELERY_TASK_ALWAYS_EAGER,
        False,
    )
    try:
        # The environment's broker, the worker's, named here: an earlier test's own broker
        # may linger in the app's connection pool.
        with celery_app.connection_for_write(os.environ["CELERY_BROKER_URL"]) as broker:
            celery_app.send_task(
                FETCH_RECORDING_AUDIO, args=(recording.pk,), queue=queue, connection=broker
            )
        deadline = time.monotonic() + 90
        downloading = None
        while downloading is None:
            assert worker.poll() is None, log.read_text()[-4000:]
            assert time.monotonic() < deadline, f"no download began:\n{log.read_text()[-4000:]}"
            downloading = next(
                (pid for pid in _children(worker.pid) if spooled_bytes(pid, places["spool"])),
                None,
            )
            time.sleep(0.05)
        time.sleep(0.3)  # let it take in what the emulator sent before the stall
        held = spooled_bytes(downloading, places["spool"])
        os.kill(downloading, signal.SIGKILL)
        assert 0 < held < 44 + 16000 * SECONDS_OF_AUDIO  # killed mid-download
        assert files_under(places["media"]) == []

        # Within the claim's lease and a little: not a fixed wait of a minute or more.
        deadline = time.monotonic() + LEASE_SECONDS + 25
        while recording.audio_state != "stored":
            assert time.monotonic() < deadline, f"not stored:\n{log.read_text()[-4000:]}"
            time.sleep(0.2)
            recording.refresh_from_db()
    finally:
        celery_app.conf.CELERY_TASK_ALWAYS_EAGER = eager
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        server.shutdown()
        server.server_close()
    said = log.read_text()
    assert "exited with 'signal 9 (SIGKILL)'" in said
    assert "retry: Retry in" in said  # the task handed on found the dead one's claim
    media = state.media("rec_kill")
    assert (recording.audio_size_bytes, recording.audio_sha256) == (
        len(media),
        hashlib.sha256(media).hexdigest(),
    )
    assert recording.audio_tries == 2  # the killed try, then the one after its claim ran out
    [stored] = files_under(places["media"])
    assert stored.read_bytes() == media
    assert files_under(places["spool"]) == []
