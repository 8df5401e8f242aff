"""The soak, CI-sized: 100 calls through its own PostgreSQL and Redis (so it runs in both
of `.ci/run`'s legs), with the broker restarted, a worker killed with kill -9 and
PostgreSQL restarted; nothing lost, nothing twice, every verdict holds. Skipped, saying
why, on a machine without PostgreSQL's server programs or redis-server."""

from __future__ import annotations

import json

import pytest

from soak import mix, servers
from soak.run import main

MISSING = servers.missing_programs()


@pytest.mark.skipif(bool(MISSING), reason=f"the soak needs {', '.join(MISSING)}")
def test_a_hundred_calls_with_three_faults_lose_nothing_and_do_nothing_twice(tmp_path):
    assert main(["--calls", "100", "--output", str(tmp_path)]) == 0

    results = json.loads((tmp_path / "soak-latest.json").read_text())
    found = results["findings"]
    assert results["passed"]
    assert (found["lost"], found["duplicated"]) == (0, 0)
    assert results["calls"]["played"] == 100
    assert results["calls"]["verdicts_failed"] == 0
    assert [f["name"] for f in results["faults"] if f["seconds"] and not f["error"]] == [
        "broker restarted",
        "events worker killed with kill -9",
        "PostgreSQL restarted",
    ]
    assert found["webhooks_sent"] == found["events_stored"] > 0
    assert found["recordings_completed"] == found["audio_stored"] > 0
    assert found["audio_mismatched"] == []


def test_bad_arguments_are_refused_in_one_line(capsys):
    with pytest.raises(SystemExit) as refused:
        main(["--calls", "5"])

    assert refused.value.code == 2
    assert "--calls must be from 10 to 100000" in capsys.readouterr().err


@pytest.mark.parametrize(("calls", "concurrency"), [(100, 16), (2000, 16), (10, 5), (13, 64)])
def test_the_mix_shares_out_every_call_and_the_concurrency(calls, concurrency):
    plan = mix.planned(calls, concurrency)

    assert sum(count for _, count, _ in plan) == calls
    assert sum(threads for _, _, threads in plan) <= max(concurrency, len(mix.PARTS))
    assert all(1 <= threads <= count for _, count, threads in plan)
