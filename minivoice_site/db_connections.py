"""Persistent database connections that a new connection would cure are closed.

Connections are kept between requests (CONN_MAX_AGE, 600 s in production), and Django
closes one early only if it is broken. Some failures leave a connection that works but
will keep failing: one opened while the database was read-only (`ALTER DATABASE … SET
default_transaction_read_only`, a failover that left us on a standby) refuses every
write for its whole life, even once the database takes writes again. So a statement
that fails for such a reason marks its connection, and the connection is closed once the
request (or Celery task) is over: the next one opens a new connection, which sees the
database as it is now.

Built on Django's documented database instrumentation (`connection.execute_wrapper`),
around each request (`CloseCuredConnectionsMiddleware`) and each task (`CheckedTask`,
the Celery app's task class): every query passes through it, the request path's own
statements (`calls.rows`, on `connection.cursor()`) included, whether or not the view
catches the error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from celery import Task
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse

# SQLSTATEs after which this connection fails but a new one may not: the session is
# read-only (25006: a read-only default, a standby) or the server is going away (57P01
# admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now); class 08 is a broken
# connection, closed by Django too. A serialization failure or a constraint is not here:
# a new connection changes nothing for them.
CURED_BY_RECONNECTING = {"25006", "57P01", "57P02", "57P03"}
CURED_BY_RECONNECTING_CLASSES = {"08"}


def cured_by_reconnecting(error: BaseException) -> bool:
    """Whether `error` (Django's wrapper of a driver error, or the driver's own) is one a
    new connection may not meet."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        sqlstate = getattr(current, "sqlstate", None)  # psycopg's errors carry it
        if isinstance(sqlstate, str) and (
            sqlstate in CURED_BY_RECONNECTING or sqlstate[:2] in CURED_BY_RECONNECTING_CLASSES
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


class _Watch:
    """An execute wrapper (Django's database instrumentation) that notes whether a
    statement failed for a reason a new connection may cure."""

    __slots__ = ("failed",)

    def __init__(self) -> None:
        self.failed = False

    def __call__(self, execute: Callable, sql, params, many, context):
        try:
            return execute(sql, params, many, context)
        except Exception as error:
            if cured_by_reconnecting(error):
                self.failed = True
            raise


@contextlib.contextmanager
def closing_connections_cured_by_reconnecting() -> Iterator[None]:
    """Run the block; if one of its statements failed for a reason a new connection may
    cure, close this thread's connection when the block ends."""
    db, watch = connections[DEFAULT_DB_ALIAS], _Watch()
    try:
        with db.execute_wrapper(watch):
            yield
    finally:
        if watch.failed:
            db.close()


class CloseCuredConnectionsMiddleware:
    """Around every request: see `closing_connections_cured_by_reconnecting`, written out
    here because every request, MiniVoice's too, passes through it (a few µs this way)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        db, watch = connections[DEFAULT_DB_ALIAS], _Watch()
        try:
            with db.execute_wrapper(watch):
                return self.get_response(request)
        finally:
            if watch.failed:
                db.close()


class CheckedTask(Task):
    """Every Celery task of the app: see `closing_connections_cured_by_reconnecting`."""

    def __call__(self, *args, **kwargs):
        with closing_connections_cured_by_reconnecting():
            return super().__call__(*args, **kwargs)
