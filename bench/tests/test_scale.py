"""bench-scale's rows: COPY lines the database takes as real calls and deliveries."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.db import connection

from bench import scale
from calls.models import Call, WebhookEvent
from calls.tests.test_worker import _database_url

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_call_and_event_lines_have_one_field_per_column():
    call = scale.call_row(7, created=NOW)
    event = scale.event_row(7, 3, created=NOW, webhook_id="msg_x")

    assert call.endswith("\n") and event.endswith("\n")
    assert len(call.rstrip("\n").split("\t")) == len(scale.CALL_COLUMNS)
    assert len(event.rstrip("\n").split("\t")) == len(scale.EVENT_COLUMNS)


def test_event_body_is_the_json_of_a_delivery_for_its_call():
    fields = dict(
        zip(
            scale.EVENT_COLUMNS,
            scale.event_row(7, 3, created=NOW, webhook_id="msg_x").rstrip("\n").split("\t"),
            strict=True,
        )
    )

    body = json.loads(fields["raw_body"])
    assert body["call"]["id"] == fields["call_minivoice_id"] == scale.call_id(7)
    assert body["event"] == fields["event_type"]
    assert json.loads(fields["headers"])["webhook-id"] == "msg_x"
    assert 330 <= len(fields["raw_body"]) <= 430


def test_a_few_calls_are_live_so_the_status_filter_finds_some():
    statuses = [scale.call_row(n, created=NOW).split("\t")[4] for n in range(1, 1001)]

    assert 0 < statuses.count("in_progress") < 50
    assert statuses.count("ended") > 900


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_fill_copies_calls_and_ten_events_each_plus_the_big_call():
    made = scale.fill(_database_url(), calls=120, big_call_events=50, now=NOW)

    assert made["calls"] == Call.objects.count() == 120
    assert made["events"] == WebhookEvent.objects.count() == 120 * 10 + 50
    big = WebhookEvent.objects.filter(call_minivoice_id=scale.call_id(0))
    assert big.count() == 50 + 10
    event = WebhookEvent.objects.filter(webhook_id="msg_s000000042_3").get()
    assert event.payload["call"]["id"] == scale.call_id(42)
    assert event.state == WebhookEvent.State.PROCESSED
    assert Call.objects.get(minivoice_id=scale.call_id(0)).created_at == NOW
    # Ids follow time, as rows that arrived one by one: oldest first.
    assert Call.objects.order_by("pk").first().created_at < NOW
    assert Call.objects.order_by("pk").last().minivoice_id == scale.call_id(0)
    oldest, newest = WebhookEvent.objects.order_by("pk")[0], WebhookEvent.objects.latest("pk")
    assert oldest.received_at < newest.received_at


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_newest_first_fill_puts_ids_against_time_with_the_same_rows():
    made = scale.fill(_database_url(), calls=120, big_call_events=50, now=NOW, order="newest-first")

    assert (made["order"], WebhookEvent.objects.count()) == ("newest-first", 120 * 10 + 50)
    assert Call.objects.order_by("pk").first().minivoice_id == scale.call_id(0)
    oldest, newest = WebhookEvent.objects.order_by("pk")[0], WebhookEvent.objects.latest("pk")
    assert oldest.received_at > newest.received_at
    assert WebhookEvent.objects.filter(webhook_id="msg_s000000042_3").exists()


def test_call_numbers_run_oldest_first_unless_asked_otherwise():
    assert list(scale.call_numbers(4)) == [3, 2, 1, 0]
    assert list(scale.call_numbers(4, order="newest-first")) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="fill order"):
        scale.call_numbers(4, order="sideways")


def test_bad_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as exited:
        scale.main(["--calls", "5"])

    assert exited.value.code == 2
    assert "--calls must be 100 or more" in capsys.readouterr().err
