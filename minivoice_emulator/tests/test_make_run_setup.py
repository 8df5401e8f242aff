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
    """A SQLite file set up as `make run` does (migrate, then dev_setup), runserver and
    minivoice_emulator: (env, app URL, API URL, db)."""
    database = directory / "db.sqlite3"
    # The secret is in the environment: dev_setup writes no file into the checkout.
    env = environment(f"sqlite:///{database}", MINIVOICE_API_KEY=KEY)
    migrated = manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    set_up = manage("dev_setup", env=env)
    assert set_up.returncode == 0, set_up.stderr
    assert "Flow 'Main line': loaded from consent-ivr.json and published as v1" in set_up.stdout
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


def test_demo_plays_seven_stories_on_a_new_database_and_nothing_on_the_next_run(
    new_database_app,
):
    env, base_url, _, database = new_database_app

    first = simulate(env, base_url, "--demo")
    second = simulate(env, base_url, "--demo")

    assert first.returncode == 0, first.stderr
    assert first.stdout.count("as expected") == 7, first.stdout
    assert "skipped" in second.stdout
    with sqlite3.connect(database) as db:
        calls = {
            call_id: (status, flow, step)
            for call_id, status, flow, step in db.execute(
                "SELECT minivoice_id, status, flow, flow_step FROM calls_call"
            )
        }
        recordings = dict(db.execute("SELECT minivoice_id, status FROM recordings_recording"))
    assert calls["call_demo_in_progress"][0] == "in_progress"
    assert calls["call_demo_happy"] == ("ended", "default", "start")
    assert recordings["rec_call_demo_recording_fails_1"] == "failed"
    # The consent IVR on +15550199: consent given, declined, and no input twice.
    assert calls["call_demo_consent_given"] == ("ended", "Main line", "record")
    assert calls["call_demo_consent_declined"] == ("ended", "Main line", "no_recording")
    assert calls["call_demo_no_input_twice"] == ("ended", "Main line", "goodbye")
    assert recordings["rec_call_demo_consent_given_1"] == "completed"
    assert not any("consent_declined" in rec or "no_input" in rec for rec in recordings)


def test_a_second_set_up_leaves_the_consent_ivr_as_it_is(served_app):
    env, _, _, database = served_app

    again = manage("dev_setup", env=env)

    assert again.returncode == 0, again.stderr
    assert "Flow 'Main line': there already, left as it is." in again.stdout
    with sqlite3.connect(database) as db:
        versions = db.execute(
            "SELECT v.number FROM calls_flowversion v JOIN calls_flow f ON f.id = v.flow_id "
            "WHERE f.name = 'Main line'"
        ).fetchall()
    assert versions == [(1,)]


@pytest.mark.parametrize(
    ("scenario", "steps", "final"),
    [
        ("no-digits", ["greeting", "greeting_again", "goodbye"], "completed"),
        ("busy-transfer", ["greeting", "no_recording"], "busy"),
    ],
)
def test_no_digits_and_busy_transfer_play_the_consent_ivr_make_run_loads(
    served_app, scenario, steps, final
):
    env, base_url, _, database = served_app

    result = simulate(env, base_url, "--scenario", scenario, "--json")

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    call_id = json.loads(result.stdout)["calls"][0]["call_id"]
    with sqlite3.connect(database) as db:
        served = [
            step
            for (step,) in db.execute(
                "SELECT step FROM calls_answerexchange WHERE call_minivoice_id = ? ORDER BY id",
                (call_id,),
            )
        ]
        (status,) = db.execute(
            "SELECT final_status FROM calls_call WHERE minivoice_id = ?", (call_id,)
        ).fetchone()
    assert (served, status) == (steps, final)


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


def test_a_database_with_no_flows_table_exits_2_with_what_to_do(served_app, tmp_path):
    _, base_url, _, _ = served_app
    env = environment(f"sqlite:///{tmp_path / 'not-migrated.sqlite3'}")

    result = simulate(env, base_url)

    assert result.returncode == 2
    assert "Could not read the app's flows from its database" in result.stderr
    assert "Is it migrated?" in result.stderr
    assert "Traceback" not in result.stderr
