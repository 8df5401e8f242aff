"""The reference view: parses the JSON and inserts one row, through the app's stack."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from bench.reference import TABLE, create_reference_table

URL = "/bench/reference/"


@pytest.fixture
def reference_urls(settings, db):
    settings.ROOT_URLCONF = "bench.urls"
    create_reference_table()


def _rows() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT webhook_id, raw_body, payload FROM {TABLE} ORDER BY id")
        return cursor.fetchall()


def test_a_json_body_is_inserted_as_one_row_and_accepted(client, reference_urls):
    body = json.dumps({"event": "call.ringing", "call": {"id": "call_ref"}})

    response = client.post(URL, data=body, content_type="application/json", HTTP_WEBHOOK_ID="m1")

    assert response.status_code == 202
    [(webhook_id, raw_body, payload)] = _rows()
    assert webhook_id == "m1"
    assert raw_body == body
    stored = payload if isinstance(payload, dict) else json.loads(payload)
    assert stored == {"event": "call.ringing", "call": {"id": "call_ref"}}


def test_a_body_that_is_not_json_is_refused_and_not_stored(client, reference_urls):
    response = client.post(URL, data="{not json", content_type="application/json")

    assert response.status_code == 400
    assert _rows() == []


def test_only_post_is_answered(client, reference_urls):
    assert client.get(URL).status_code == 405
    assert _rows() == []


def test_the_apps_urls_are_served_beside_it(client, reference_urls):
    # Unsigned: the app's own view answers, with its own refusal.
    response = client.post("/minivoice/webhooks/", data="{}", content_type="application/json")

    assert response.status_code == 401
