"""Issue 16's "Done when", end to end in real processes: `flows import` of the issue's file
on a migrated database, runserver, then `simulate_call --flow "Main line"` with each key,
`call_timeline --json`, and `flows check` refusing a flow that records before consent."""

from __future__ import annotations

import json
import sqlite3

import pytest

from calls.flows.examples import CONSENT_IVR
from calls.tests.flow_data import main_line
from minivoice_emulator.tests.processes import environment, free_port, manage, running


@pytest.fixture(scope="module")
def imported_app(tmp_path_factory):
    """A migrated SQLite file (no dev_setup: nothing loaded but the seed's default flow),
    the issue's file imported and published, and runserver on it: (env, app URL, db)."""
    directory = tmp_path_factory.mktemp("flows-e2e")
    database = directory / "db.sqlite3"
    env = environment(f"sqlite:///{database}")
    assert manage("migrate", "--noinput", env=env).returncode == 0
    imported = manage("flows", "import", str(CONSENT_IVR), "--publish", env=env)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "New flow 'Main line': published as v1." in imported.stdout
    port = free_port()
    with running("runserver", "--noreload", f"127.0.0.1:{port}", env=env) as app:
        yield env, f"http://127.0.0.1:{port}", database
    assert "Traceback" not in app.stderr_text


def play(imported_app, *keys: str) -> tuple[str, dict]:
    """simulate_call --flow "Main line" with these keys: (call id, its timeline JSON)."""
    env, base_url, _ = imported_app
    digits = [f"--digits={key}" for key in keys]
    played = manage(
        "simulate_call",
        "--base-url",
        base_url,
        "--wait",
        "60",  # runserver may still be starting
        "--flow",
        "Main line",
        *digits,
        "--json",
        env=env,
    )
    assert played.returncode == 0, played.stdout[-3000:] + played.stderr[-3000:]
    [call] = json.loads(played.stdout)["calls"]
    assert call["verdict"] == "ok", call
    timeline = manage("call_timeline", call["call_id"], "--json", env=env)
    assert timeline.returncode == 0, timeline.stderr
    return call["call_id"], json.loads(timeline.stdout)


def answers(timeline: dict) -> list[tuple]:
    return [
        (entry["flow"], entry["flow_version"], entry["step"])
        for entry in timeline["entries"]
        if entry["kind"] == "answer_url"
    ]


def test_pressing_1_exits_0_with_a_recording_and_no_problem(imported_app):
    call_id, timeline = play(imported_app, "1")

    assert answers(timeline) == [("Main line", 1, "greeting"), ("Main line", 1, "record")]
    assert [r["status"] for r in timeline["recordings"]] == ["completed"]
    assert timeline["problems"] == []
    with sqlite3.connect(imported_app[2]) as db:
        (position,) = db.execute(
            "SELECT flow_position FROM calls_call WHERE minivoice_id = ?", (call_id,)
        ).fetchone()
    assert position == "Main line v1, step 'record' (pressed 1)"


def test_pressing_2_exits_0_with_no_recording_and_no_problem(imported_app):
    _, timeline = play(imported_app, "2")

    assert answers(timeline) == [("Main line", 1, "greeting"), ("Main line", 1, "no_recording")]
    assert timeline["recordings"] == []
    assert timeline["problems"] == []


def test_no_input_twice_ends_at_goodbye(imported_app):
    _, timeline = play(imported_app, "none", "none")

    assert answers(timeline)[-1] == ("Main line", 1, "goodbye")
    assert [step for _, _, step in answers(timeline)] == ["greeting", "greeting_again", "goodbye"]


def test_flows_check_refuses_a_flow_that_records_before_consent(imported_app, tmp_path):
    env, _, _ = imported_app
    early = main_line(name="Early recorder", numbers=["+15550198"], test_numbers=[])
    early["steps"]["greeting"]["actions"].insert(0, {"start_recording": {}})
    path = tmp_path / "early.json"
    path.write_text(json.dumps(early))

    checked = manage("flows", "check", str(path), env=env)
    imported = manage("flows", "import", str(path), "--publish", env=env)

    assert checked.returncode == 1
    assert "error    steps.greeting.actions[0]" in checked.stdout
    assert "consent" in checked.stdout
    assert imported.returncode == 1
    with sqlite3.connect(imported_app[2]) as db:
        assert not db.execute("SELECT 1 FROM calls_flow WHERE name = 'Early recorder'").fetchall()
