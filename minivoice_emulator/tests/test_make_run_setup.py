"""`make run`'s setup played for real: runserver on a SQLite file in its own process,
the emulator's API in another, and simulate_call as a third, each a real process
talking over loopback, as a newcomer runs them in three terminals."""

from __future__ import annotations

import io
import json
import sqlite3
import urllib.request
import wave
from contextlib import contextmanager
from pathlib import Path

import pytest

from minivoice_emulator.tests.processes import environment, free_port, manage, running
from minivoice_emulator.transport import opener

KEY = "make-run-key"


@contextmanager
def served(directory: Path):
    """Migrated SQLite file, runserver and minivoice_emulator: (env, app URL, API URL, db)."""
    database = directory / "db.sqlite3"
    env = environment(f"sqlite:///{database}", MINIVOICE_API_KEY=KEY)
    migrated = manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    with (
        running("runserver", "--noreload", f"127.0.0.1:{port}", env=env) as app,
        running("minivoice_emulator", "--port", "0", env=env) as emulator,
    ):
        api_url = emulator.stdout.readline().split(" on ")[1].split()[0]
        yield env, f"http://127.0.0.1:{port}", api_url, database
    assert "Traceback" not in app.stderr_text
    assert "Traceback" not in emulator.stderr_text


@pytest.fixture(scope="module")
def served_app(tmp_path_factory):
    """Shared by the tests that only add calls of their own (started once: it is slow)."""
    with served(tmp_path_factory.mktemp("make-run")) as setup:
        yield setup


@pytest.fixture
def new_database_app(tmp_path):
    with served(tmp_path) as setup:
        yield setup


def simulate(env: dict, base_url: str, *args: str):
    return manage("simulate_call", "--base-url", base_url, "--wait", "60", *args, env=env)


def test_demo_plays_four_stories_on_a_new_database_and_nothing_on_the_next_run(
    new_database_app,
):
    env, base_url, _, database = new_database_app

    first = simulate(env, base_url, "--demo")
    second = simulate(env, base_url, "--demo")

    assert first.returncode == 0, first.stderr
    assert first.stdout.count("as expected") == 4
    assert "skipped" in second.stdout
    with sqlite3.connect(database) as db:
        calls = dict(db.execute("SELECT minivoice_id, status FROM calls_call"))
        recordings = dict(db.execute("SELECT minivoice_id, status FROM recordings_recording"))
    assert calls["call_demo_in_progress"] == "in_progress"
    assert calls["call_demo_happy"] == "ended"
    assert recordings["rec_call_demo_recording_fails_1"] == "failed"


def test_many_concurrent_chaotic_calls_all_hold_and_none_is_lost(served_app):
    env, base_url, api_url, _ = served_app

    result = simulate(
        env,
        base_url,
        "--calls",
        "24",
        "--concurrency",
        "8",
        "--chaos",
        "--api-url",
        api_url,
        "--json",
    )

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    document = json.loads(result.stdout)
    assert {call["verdict"] for call in document["calls"]} == {"ok"}
    summary = document["summary"]
    assert (summary["calls"], summary["lost_deliveries"], summary["verdicts_failed"]) == (24, 0, 0)
    assert summary["deliveries_sent"] > summary["webhooks"]


def test_a_played_recording_is_served_by_the_emulator_as_a_wav_of_its_length(served_app):
    env, base_url, api_url, database = served_app

    result = simulate(env, base_url, "--api-url", api_url, "--json")

    assert result.returncode == 0, result.stderr
    call_id = json.loads(result.stdout)["calls"][0]["call_id"]
    with sqlite3.connect(database) as db:
        recording_id, duration, url = db.execute(
            "SELECT r.minivoice_id, r.duration_seconds, r.url FROM recordings_recording r "
            "JOIN calls_call c ON c.id = r.call_id WHERE c.minivoice_id = ?",
            (call_id,),
        ).fetchone()
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {KEY}"})
    with opener.open(request, timeout=10) as response:
        media = response.read()
    with wave.open(io.BytesIO(media)) as audio:
        assert audio.getnframes() / audio.getframerate() == duration
    assert url.startswith(api_url) and recording_id in url


def test_exit_status_is_2_when_nothing_serves_the_base_url(tmp_path):
    env = environment(f"sqlite:///{tmp_path / 'db.sqlite3'}")

    result = manage("simulate_call", "--base-url", f"http://127.0.0.1:{free_port()}", env=env)

    assert result.returncode == 2
    assert "Is it running (make run)?" in result.stderr
    assert "Traceback" not in result.stderr
