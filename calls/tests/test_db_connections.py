"""Which database errors close the connection after the request or task
(minivoice_site.db_connections), and that a task closes it."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection, utils
from psycopg import errors

from calls import tasks
from calls.models import WebhookEvent
from conftest import minivoice_event
from minivoice_site.db_connections import cured_by_reconnecting


def _wrapped(error: Exception) -> utils.DatabaseError:
    """As Django raises it: its own class, the driver's error as the cause."""
    try:
        try:
            raise error
        except Exception as cause:
            raise utils.InternalError(str(cause)) from cause
    except utils.InternalError as wrapped:
        return wrapped


@pytest.mark.parametrize(
    ("error", "cured"),
    [
        (errors.ReadOnlySqlTransaction("read-only"), True),
        (errors.AdminShutdown("terminating"), True),
        (errors.CannotConnectNow("starting up"), True),
        (errors.ConnectionFailure("gone"), True),
        (errors.UniqueViolation("duplicate key"), False),
        (errors.SerializationFailure("retry"), False),
        (RuntimeError("not the database"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_only_errors_a_new_connection_may_not_meet_close_it(error, cured):
    assert cured_by_reconnecting(_wrapped(error)) is cured
    assert cured_by_reconnecting(error) is cured


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a read-only session: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_task_whose_writes_were_refused_leaves_no_read_only_connection_behind():
    event = WebhookEvent.objects.create(
        webhook_id="msg_read_only",
        event_type="call.ringing",
        call_minivoice_id="call_1",
        raw_body="{}",
        payload=minivoice_event("call.ringing", call_id="call_1"),
    )
    with connection.cursor() as cursor:  # this connection only, as if opened read-only
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    try:
        result = tasks.process_webhook_event.apply(args=[event.pk])
    finally:
        read_only = connection.connection is not None
        connection.close()  # whatever happened, the test database's clean-up can write

    assert not read_only

    assert isinstance(result.result, utils.DatabaseError)  # marking it failed was refused too
    # Closed after the task (above): the next one connects anew and may write (before,
    # the connection stayed read-only until CONN_MAX_AGE).
    tasks.process_webhook_event.apply(args=[event.pk])
    event.refresh_from_db()
    assert event.state == WebhookEvent.State.PROCESSED


@pytest.mark.django_db
def test_a_drain_that_finds_the_database_away_drains_again_once_it_is_back(monkeypatch):
    # A PostgreSQL restart under a worker: its drain fails on the dropped connection.
    # Left at that, the stored events waited for the sweep's two minutes.
    tries = []

    def away_then_back() -> int:
        tries.append(1)
        if len(tries) < 3:
            raise OperationalError("terminating connection due to administrator command")
        return 5

    monkeypatch.setattr(tasks, "events_drain", away_then_back)

    result = tasks.drain_pending_events.apply()

    assert (result.get(), len(tries)) == (5, 3)


@pytest.mark.django_db
def test_a_drain_whose_events_themselves_fail_is_not_tried_again(monkeypatch):
    # Only the database going away is worth another try; anything else is a bug, which
    # the events' own retries (their rows) take care of.
    tries = []

    def broken() -> int:
        tries.append(1)
        raise ValueError("a bug")

    monkeypatch.setattr(tasks, "events_drain", broken)

    result = tasks.drain_pending_events.apply()

    assert isinstance(result.result, ValueError)
    assert len(tries) == 1
