"""The app served on loopback for the emulator to play against."""

from __future__ import annotations

import pytest
from django.core.servers.basehttp import WSGIServer
from django.db import connection
from django.test.testcases import LiveServerThread, QuietWSGIRequestHandler
from pytest_django.live_server_helper import LiveServer


class OneRequestAtATimeThread(LiveServerThread):
    """Django's live server, answering one request at a time in its own thread.

    SQLite's in-memory test database is one connection shared by every thread that
    serves it, and one sqlite3 connection used by two threads at once fails ("database
    table is locked"); the database serialises writers anyway. `make run`'s runserver on
    a SQLite file, and PostgreSQL, take requests concurrently (see test_make_run_setup).
    """

    server_class = WSGIServer

    def _create_server(self, connections_override=None):
        return WSGIServer(
            (self.host, self.port), QuietWSGIRequestHandler, allow_reuse_address=False
        )


@pytest.fixture(scope="session")
def one_request_at_a_time_server():
    """Started once, like pytest-django's own live_server, and stopped at the end."""
    server = LiveServer("127.0.0.1:0", start=False)
    server.thread.__class__ = OneRequestAtATimeThread
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app_server(request, transactional_db):
    """The app over real HTTP: threaded on PostgreSQL, one request at a time on SQLite's
    in-memory test database."""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        return request.getfixturevalue("one_request_at_a_time_server")
    return request.getfixturevalue("live_server")
