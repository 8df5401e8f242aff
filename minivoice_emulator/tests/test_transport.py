"""How the emulator retries a webhook: briefly after a refusal, for half a minute while
the app is away (no answer, 5xx), as a database restart needs."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from minivoice_emulator import transport
from minivoice_emulator.transport import Delivery, Latencies, Reply, Transport, retry_delay


def _reply(status: int) -> Reply:
    return Reply(status=status, body=b"", latency_ms=1.0)


def test_a_refusal_is_retried_four_times_then_given_up():
    since = time.monotonic()
    delays = [retry_delay(n, reply=_reply(401), since=since) for n in range(6)]

    assert delays == [*transport.RETRY_DELAYS, None, None]


@pytest.mark.parametrize("reply", [None, _reply(500), _reply(503), _reply(408), _reply(429)])
def test_an_app_away_is_retried_with_a_capped_back_off(reply):
    since = time.monotonic()
    delays = [retry_delay(n, reply=reply, since=since) for n in range(10)]

    assert delays[:3] == [0.05, 0.1, 0.2]
    assert delays[-1] == transport.AWAY_MAX_DELAY
    assert None not in delays


def test_an_app_away_is_given_up_after_half_a_minute():
    long_ago = time.monotonic() - transport.AWAY_RETRY_SECONDS

    assert retry_delay(0, reply=None, since=long_ago) is None
    assert retry_delay(0, reply=_reply(503), since=long_ago) is None


class _AwayThenBack(BaseHTTPRequestHandler):
    """Answers 503 to the first `away` requests (a database restarting), then 204."""

    away = 0
    seen = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.lock:
            type(self).seen += 1
            status = 503 if type(self).seen <= type(self).away else 204
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args) -> None:
        pass


def test_a_delivery_answered_503_for_a_while_is_acknowledged_once_the_app_is_back():
    # Eight 503s take about 2.5 s of back-off: longer than the refusal schedule allows.
    _AwayThenBack.away, _AwayThenBack.seen = 8, 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AwayThenBack)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sender = Transport(
            base_url=f"http://127.0.0.1:{server.server_address[1]}",
            secret="whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            latencies=Latencies(),
        )
        delivery = Delivery("msg_away", "call.initiated", datetime.now(tz=UTC), {"event": "x"})
        sender.deliver([delivery])
    finally:
        server.shutdown()
        server.server_close()

    assert (delivery.attempts, delivery.acknowledged, delivery.last_status) == (9, 1, 204)
