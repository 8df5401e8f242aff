"""The reference: the least a Django view can do with a webhook.

Parse the JSON, INSERT one row of the same size as a stored delivery (its id, time, raw
body and parsed payload) into a table of its own, answer 202. No signature, no dedupe,
no broker: the floor the project's intake is measured against.
"""

from __future__ import annotations

import json

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

TABLE = "bench_reference"

_CREATE = {
    "postgresql": f"""
        CREATE TABLE IF NOT EXISTS {TABLE} (
            id bigserial PRIMARY KEY,
            webhook_id varchar(255) NOT NULL,
            received_at timestamptz NOT NULL,
            raw_body text NOT NULL,
            payload jsonb
        )""",
    "sqlite": f"""
        CREATE TABLE IF NOT EXISTS {TABLE} (
            id integer PRIMARY KEY AUTOINCREMENT,
            webhook_id varchar(255) NOT NULL,
            received_at datetime NOT NULL,
            raw_body text NOT NULL,
            payload text
        )""",
}


def create_reference_table() -> None:
    """Made by the harness, never by a migration: it is not part of the app."""
    with connection.cursor() as cursor:
        cursor.execute(_CREATE[connection.vendor])


@csrf_exempt
def reference_insert(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(status=405)
    try:
        payload = json.loads(request.body)
    except ValueError:
        return HttpResponse(b'{"error": "malformed_json"}', status=400)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (webhook_id, received_at, raw_body, payload) "
            "VALUES (%s, %s, %s, %s)",
            [
                request.headers.get("webhook-id", ""),
                timezone.now(),
                request.body.decode(errors="replace"),
                json.dumps(payload),
            ],
        )
    return HttpResponse(b'{"status": "accepted"}', status=202, content_type="application/json")
