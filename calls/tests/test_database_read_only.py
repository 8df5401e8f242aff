"""A database that refused writes for a while: once it takes them again, so does the app.

PostgreSQL made read-only (`ALTER DATABASE … SET default_transaction_read_only = on`, as
an operator does during maintenance, or a failover that leaves the app on a standby) and
then writable again. Each connection opened meanwhile stays read-only for its life, and
production keeps connections for CONN_MAX_AGE (600 s): without care, deliveries keep
failing for ten minutes after the fix. gunicorn runs as production runs it, on the test
database (PostgreSQL only: SQLite has no such switch).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.db import connection

from calls.models import WebhookEvent
from calls.tests.test_gunicorn import _deliver_signed, production_gunicorn_port  # noqa: F401

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs DATABASE_URL=postgres://… that gunicorn's worker can share (.ci/run sets it)",
)


@pytest.fixture
def read_only_switch() -> Iterator:
    """Turns the test database's default to read-only and back, from a connection of its
    own to the server's `postgres` database; always back to writable at the end."""
    db = connection.settings_dict
    name = psycopg.sql.Identifier(db["NAME"])
    admin = psycopg.connect(
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )

    def switch(read_only: bool) -> None:
        statement = (
            "ALTER DATABASE {} SET default_transaction_read_only = on"
            if read_only
            else "ALTER DATABASE {} RESET default_transaction_read_only"
        )
        admin.execute(psycopg.sql.SQL(statement).format(name))

    try:
        yield switch
    finally:
        switch(False)
        admin.close()
        # This process's own connection, if it was opened meanwhile, is read-only too: a
        # new one for the test database's clean-up.
        connection.close()


def _deliveries(port: int, prefix: str) -> list[int]:
    """16 deliveries: 8 one after another (each thread's connection is reused), then 8 at
    once (more threads open theirs)."""
    statuses = [_deliver_signed(port, f"{prefix}_{n}", timeout=10)[0] for n in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses += [
            status
            for status, _ in pool.map(
                lambda n: _deliver_signed(port, f"{prefix}_{n}", timeout=10), range(8, 16)
            )
        ]
    return statuses


@pytest.mark.django_db(transaction=True)
def test_deliveries_are_stored_again_within_a_second_of_the_database_taking_writes(
    production_gunicorn_port,  # noqa: F811
    read_only_switch,
):
    port = production_gunicorn_port
    # Before gunicorn's threads open their connections, so every one is opened read-only.
    read_only_switch(True)

    refused = _deliveries(port, "msg_refused")

    # MiniVoice is told to retry (our 500 envelope, never a traceback), and nothing is kept.
    assert set(refused) == {500}, refused
    assert not WebhookEvent.objects.exists()

    read_only_switch(False)
    time.sleep(1)
    stored = _deliveries(port, "msg_stored")

    # Before, the connections opened while read-only stayed so: 500s for CONN_MAX_AGE.
    assert stored == [202] * 16, stored
    assert WebhookEvent.objects.filter(webhook_id__startswith="msg_stored").count() == 16
    assert not WebhookEvent.objects.filter(webhook_id__startswith="msg_refused").exists()
