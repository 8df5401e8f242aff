"""bench-scale: COPY lines the database takes as real calls, problems and deliveries; the
fill; the pages it times; the queries it counts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from bench import rows
from bench.scale import fill, pages, queries, sizes
from bench.scale.__main__ import main
from calls.models import Call, CallProblem, WebhookEvent
from calls.tests.test_worker import _database_url
from recordings.models import Recording

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_call_and_event_lines_have_one_field_per_column():
    call = rows.call_row(7, created=NOW)
    event = rows.event_row(7, 3, created=NOW, webhook_id="msg_x")

    assert call.endswith("\n") and event.endswith("\n")
    assert len(call.rstrip("\n").split("\t")) == len(rows.CALL_COLUMNS)
    assert len(event.rstrip("\n").split("\t")) == len(rows.EVENT_COLUMNS)


def test_event_body_is_the_json_of_a_delivery_for_its_call():
    fields = dict(
        zip(
            rows.EVENT_COLUMNS,
            rows.event_row(7, 3, created=NOW, webhook_id="msg_x").rstrip("\n").split("\t"),
            strict=True,
        )
    )

    body = json.loads(fields["raw_body"])
    assert body["call"]["id"] == fields["call_minivoice_id"] == rows.call_id(7)
    assert body["event"] == fields["event_type"]
    assert json.loads(fields["headers"])["webhook-id"] == "msg_x"
    assert 330 <= len(fields["raw_body"]) <= 430


def test_a_few_calls_are_live_so_the_status_filter_finds_some():
    statuses = [rows.call_row(n, created=NOW).split("\t")[4] for n in range(1, 1001)]

    assert 0 < statuses.count("in_progress") < 50
    assert statuses.count("ended") > 900


def test_problem_codes_and_severities_are_the_apps():
    assert set(rows.PROBLEM_WORDS) == set(CallProblem.Code.values)
    assert {severity for severity, _ in rows.PROBLEM_WORDS.values()} <= set(
        CallProblem.Severity.values
    )


def test_a_few_percent_of_calls_have_problems_each_code_comes_round_and_live_ones_are_stuck():
    calls = 30_000
    problems = {n: rows.call_problems(n) for n in range(calls)}
    with_some = [n for n, codes in problems.items() if codes]
    codes = [code for found in problems.values() for code in found]

    assert 0.02 <= len(with_some) / calls <= 0.05
    assert any(len(found) == 2 for found in problems.values())
    assert all(len(set(found)) == len(found) for found in problems.values())  # once per call
    assert set(codes) == set(CallProblem.Code.values)
    for n in with_some:
        live = rows.call_status(n) != "ended"
        assert (problems[n] == [rows.STUCK]) is live


def test_problem_line_has_one_field_per_column_and_alerts_only_errors():
    error = rows.problem_row(12, "recording_failed", created=NOW).rstrip("\n").split("\t")
    warning = rows.problem_row(12, "ended_early", created=NOW).rstrip("\n").split("\t")

    assert len(error) == len(warning) == len(rows.PROBLEM_COLUMNS)
    assert error[:3] == ["12", "recording_failed", "error"]
    assert error[-1] == error[-2] and warning[-1] == r"\N"


def test_newest_call_with_a_code_is_the_lowest_number_that_has_it():
    n = rows.newest_call_with("processing_failed", calls=10_000)

    assert "processing_failed" in rows.call_problems(n)
    assert not any("processing_failed" in rows.call_problems(k) for k in range(n))
    assert rows.newest_call_with("processing_failed", calls=n) is None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_fill_copies_calls_and_ten_events_each_plus_the_big_call():
    made = fill.fill(_database_url(), calls=120, big_call_events=50, now=NOW)

    assert made["calls"] == Call.objects.count() == 120
    assert made["events"] == WebhookEvent.objects.count() == 120 * 10 + 50
    big = WebhookEvent.objects.filter(call_minivoice_id=rows.call_id(0))
    assert big.count() == 50 + 10
    event = WebhookEvent.objects.filter(webhook_id="msg_s000000042_3").get()
    assert event.payload["call"]["id"] == rows.call_id(42)
    assert event.state == WebhookEvent.State.PROCESSED
    assert Call.objects.get(minivoice_id=rows.call_id(0)).created_at == NOW
    # Ids follow time, as rows that arrived one by one: oldest first.
    assert Call.objects.order_by("pk").first().created_at < NOW
    assert Call.objects.order_by("pk").last().minivoice_id == rows.call_id(0)
    oldest, newest = WebhookEvent.objects.order_by("pk")[0], WebhookEvent.objects.latest("pk")
    assert oldest.received_at < newest.received_at


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("order", fill.FILL_ORDERS)
def test_fill_copies_each_calls_problems_onto_that_call(order):
    made = fill.fill(_database_url(), calls=600, big_call_events=5, now=NOW, order=order)

    expected = {(rows.call_id(n), code) for n in range(600) for code in rows.call_problems(n)}
    stored = set(CallProblem.objects.values_list("call__minivoice_id", "code"))
    assert stored == expected
    assert made["problems"] == len(expected) > 20
    call = Call.objects.get(minivoice_id=rows.call_id(30))
    problem = CallProblem.objects.filter(call=call).first()
    assert problem.detected_at > call.created_at


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_newest_first_fill_puts_ids_against_time_with_the_same_rows():
    made = fill.fill(_database_url(), calls=120, big_call_events=50, now=NOW, order="newest-first")

    assert (made["order"], WebhookEvent.objects.count()) == ("newest-first", 120 * 10 + 50)
    assert Call.objects.order_by("pk").first().minivoice_id == rows.call_id(0)
    oldest, newest = WebhookEvent.objects.order_by("pk")[0], WebhookEvent.objects.latest("pk")
    assert oldest.received_at > newest.received_at
    assert WebhookEvent.objects.filter(webhook_id="msg_s000000042_3").exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_sizes_give_the_events_table_per_million_and_each_of_its_indexes():
    made = fill.fill(_database_url(), calls=200, big_call_events=10, now=NOW)

    found = sizes.database_sizes(_database_url(), events=made["events"])

    assert "calls_event_unique_webhook_id" in found["events_index_mb"]
    assert sum(found["events_index_mb"].values()) == pytest.approx(
        found["events_indexes_mb"], abs=0.1 * len(found["events_index_mb"])
    )
    assert found["avg_bytes"]["raw_body"] > 300


def test_call_numbers_run_oldest_first_unless_asked_otherwise():
    assert list(fill.call_numbers(4)) == [3, 2, 1, 0]
    assert list(fill.call_numbers(4, order="newest-first")) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="fill order"):
        fill.call_numbers(4, order="sideways")


def test_bad_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--calls", "5"])

    assert exited.value.code == 2
    assert "--calls must be 100 or more" in capsys.readouterr().err


def test_the_timed_pages_include_both_problem_filters_and_a_small_call_page():
    urls = pages.pages(now=NOW, calls=10_000, big_call_pk=7, small_call_pk=8)

    newest = rows.newest_call_with(pages.TIMED_PROBLEM, calls=10_000)
    assert urls["call list: with problems"] == (
        "/admin/calls/call/?has_problems=yes",
        "call_s000000000",
    )
    assert urls[f"call list: problem {pages.TIMED_PROBLEM}"] == (
        f"/admin/calls/call/?problem={pages.TIMED_PROBLEM}",
        rows.call_id(newest),
    )
    assert urls["call page, 10 events"][0] == "/admin/calls/call/8/change/"


def test_a_count_over_a_big_table_with_neither_where_nor_limit_is_unbounded():
    whole = queries.count_statement('SELECT COUNT(*) AS "__count" FROM "calls_call"', seconds=0.2)
    capped = queries.count_statement(
        'SELECT COUNT(*) FROM (SELECT 1 FROM "calls_webhookevent" LIMIT 10001) subquery',
        seconds=0.001,
    )
    one_call = queries.count_statement(
        'SELECT COUNT(*) FROM "calls_webhookevent" WHERE "call_minivoice_id" = \'c\'', seconds=0
    )
    small = queries.count_statement('SELECT COUNT(*) FROM "django_session"', seconds=0)
    filtered = queries.count_statement(
        'SELECT COUNT(*) FROM (SELECT 1 FROM "calls_call" WHERE EXISTS(SELECT 1 FROM '
        '"calls_callproblem" U0 WHERE U0."call_id" = ("calls_call"."id") LIMIT 1) '
        "LIMIT 10001) subquery",
        seconds=0,
    )

    assert whole["unbounded"] and whole["ms"] == 200 and whole["tables"] == ["calls_call"]
    assert capped["limit"] == 10001 and not capped["unbounded"]
    assert one_call["where"] and not one_call["unbounded"]
    assert not small["unbounded"]
    assert filtered["limit"] == 10001  # the outer query's, not the EXISTS' LIMIT 1


@pytest.mark.django_db
def test_count_queries_counts_each_page_and_keeps_its_count_statements(admin_user):
    paths = {"call list": "/admin/calls/call/", "events": "/admin/calls/webhookevent/"}

    counted = queries.count_queries(paths, username=admin_user.username, host="testserver")

    assert set(counted) == set(paths)
    assert all(page["queries"] > 0 for page in counted.values())
    counts = counted["call list"]["counts"]
    assert counts and all(c["limit"] and not c["unbounded"] for c in counts), counts


def test_the_summary_compares_the_call_pages_and_sets_unbounded_counts_apart():
    unbounded = {"unbounded": True, "ms": 250.0}
    summary = queries.queries_summary(
        {
            "call page, 5,000 events": {"queries": 14, "counts": []},
            "call page, 10 events": {"queries": 14, "counts": [{"unbounded": False, "ms": 1.0}]},
            "call list (default)": {"queries": 9, "counts": [unbounded]},
        }
    )

    assert summary["call_page"] == {"5000_events": 14, "10_events": 14, "same": True}
    assert summary["count_statements"] == 2
    assert summary["unbounded_counts"] == [{"page": "call list (default)", **unbounded}]
    assert summary["slowest_count_ms"] == 250.0


def test_calls_reach_flow_steps_as_the_answer_url_leaves_them_with_a_rare_one_to_filter():
    steps = [rows.call_flow_step(n) for n in range(1, 2001)]
    fields = dict(
        zip(rows.CALL_COLUMNS, rows.call_row(1, created=NOW).rstrip("\n").split("\t"), strict=True)
    )

    assert (fields["flow"], fields["flow_step"]) == rows.call_flow_step(1)[:2]
    assert fields["flow_position"] == "Main line v3, step 'record' (pressed 1)"
    rare = sum(1 for flow, step, _ in steps if (flow, step) == (rows.FLOW, rows.RARE_STEP))
    assert 0 < rare / len(steps) <= 0.06
    assert {flow for flow, _, _ in steps} == {rows.FLOW, "default"}
    # A live call on the consent IVR is still at the greeting.
    live = [n for n in range(1, 2001) if rows.call_status(n) != "ended"]
    assert {rows.call_flow_step(n)[1] for n in live} == {"greeting", "start"}


def test_the_timed_pages_include_the_flow_and_last_step_filters():
    urls = pages.pages(now=NOW, calls=10_000, big_call_pk=7, small_call_pk=8)

    rare = rows.newest_call_at(rows.FLOW, rows.RARE_STEP, calls=10_000)
    assert urls[f"call list: flow {rows.FLOW}, last step {rows.RARE_STEP}"] == (
        "/admin/calls/call/?flow=Main+line&flow_step=goodbye",
        rows.call_id(rare),
    )
    assert rows.call_flow_step(rare)[:2] == (rows.FLOW, rows.RARE_STEP)
    assert urls[f"call list: flow {rows.FLOW}"][0] == "/admin/calls/call/?flow=Main+line"


# -- The front page's week ----------------------------------------------------------------


def test_the_fill_puts_the_share_asked_for_in_the_last_week_and_the_rest_before():
    calls = 10_000
    times = [fill.created_at(n, calls=calls, now=NOW) for n in range(calls)]

    in_week = [t for t in times if NOW - t < fill.LAST_WEEK]
    assert len(in_week) == 6_000  # the 600,000 of 1,000,000
    assert times == sorted(times, reverse=True)  # call 0 newest, no two parts overlapping
    assert times[0] == NOW and NOW - fill.SPAN < times[-1] < NOW - fill.SPAN * 0.99


def test_a_share_of_7_in_90_spreads_the_calls_evenly_as_before():
    even = 7 / 90
    for n in (0, 1, 333, 777, 778, 5_000, 9_999):
        spread = fill.created_at(n, calls=10_000, now=NOW, last_week_share=even)
        assert abs(spread - (NOW - fill.SPAN * (n / 10_000))) <= timedelta(milliseconds=1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        fill.created_at(1, calls=10, now=NOW, last_week_share=1)


def test_a_last_week_share_out_of_range_exits_2(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--calls", "1000", "--last-week-share", "60"])

    assert exited.value.code == 2
    assert "--last-week-share must be between 0 and 1" in capsys.readouterr().err


def test_recording_lines_have_one_field_per_column_and_every_outcome_comes_round():
    statuses = [rows.call_recording(n) for n in range(6_000)]
    line = rows.recording_row(41, 2, "completed", created=NOW)

    assert len(line.rstrip("\n").split("\t")) == len(rows.RECORDING_COLUMNS)
    recorded = [status for status in statuses if status]
    assert 0.4 < len(recorded) / len(statuses) < 0.5  # every other ended call
    assert {status: recorded.count(status) for status in set(recorded)}.keys() == {
        "completed",
        "failed",
        "started",
    }
    assert not any(rows.call_recording(n) for n in range(6_000) if rows.call_status(n) != "ended")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_fill_copies_each_calls_recording_onto_that_call_at_its_time():
    made = fill.fill(_database_url(), calls=600, big_call_events=5, now=NOW)

    expected = {(rows.call_id(n), status) for n in range(600) if (status := rows.call_recording(n))}
    stored = set(Recording.objects.values_list("call__minivoice_id", "status"))
    assert stored == expected and made["recordings"] == len(expected)
    assert made["last_week"] == 360
    completed = next(n for n in range(600) if rows.call_recording(n) == "completed")
    recording = Recording.objects.get(call__minivoice_id=rows.call_id(completed))
    assert recording.created_at == recording.call.created_at
    assert recording.completed_at > recording.started_at
