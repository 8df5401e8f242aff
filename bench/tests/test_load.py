"""wrk with bench/signed.lua against a real loopback server: each request is signed,
sent once, and counted as the harness reports it.

Needs Debian's wrk (`make test` installs it, as `make bench` does).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import signing
from bench.load import HarnessError, parse_wrk_output, pool_size, run_load
from calls.protocol.signatures import verify_signature

requires_wrk = pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (make test installs it)"
)


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as gunicorn answers wrk
    received: list[tuple[dict, bytes]]
    fail_every: int = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers.items()), body))
        failing = self.fail_every and len(self.received) % self.fail_every == 0
        self.send_response(500 if failing else 202)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, type[Recorder]]]:
    handler = type("Handler", (Recorder,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/minivoice/webhooks/", handler
    finally:
        server.shutdown()
        server.server_close()


def _load(url, secret, tmp_path, **overrides):
    options = dict(
        url=url, endpoint="webhook", kind="webhook", secret=secret, run_id="lt1",
        connections=4, seconds=1, ceiling_rps=20_000, server_pid=os.getpid(), workdir=tmp_path,
    )  # fmt: skip
    return run_load(**(options | overrides))


@requires_wrk
def test_every_request_wrk_sends_is_signed_unique_and_counted(recorder, tmp_path):
    url, handler = recorder
    secret = signing.new_secret()

    result = _load(url, secret, tmp_path)

    received = handler.received
    assert result.requests > 20
    # wrk counts completed requests; the server may have one in flight per connection more.
    assert result.requests <= len(received) <= result.requests + 4
    ids = [headers["webhook-id"] for headers, _ in received]
    assert len(set(ids)) == len(ids)
    for headers, body in received:
        assert headers["Content-Type"] == "application/json"
        assert headers["X-Forwarded-Proto"] == "https"
        verify_signature(body=body, headers=headers, secrets=[secret])
    assert result.non2xx == 0 and result.non2xx_share == 0
    assert 0 < result.p50_ms <= result.p99_ms <= result.max_ms
    assert 0 < result.wrk_cpu_share < 2


@requires_wrk
def test_non_2xx_answers_are_counted_with_the_first_bad_status(recorder, tmp_path):
    url, handler = recorder
    handler.fail_every = 5

    result = _load(url, signing.new_secret(), tmp_path)

    assert result.non2xx > 0
    assert result.first_bad_status == 500
    assert result.non2xx_share == pytest.approx(0.2, abs=0.05)


@requires_wrk
def test_a_pool_that_runs_out_fails_the_harness_rather_than_repeat_ids(recorder, tmp_path):
    url, _ = recorder

    with pytest.raises(HarnessError, match=r"pool of .* ran out"):
        _load(url, signing.new_secret(), tmp_path, ceiling_rps=1, seconds=2)


@requires_wrk
def test_a_delay_holds_the_rate_down(recorder, tmp_path):
    url, _ = recorder

    result = _load(url, signing.new_secret(), tmp_path, connections=2, seconds=2, delay_ms=50)

    # Two connections, each waiting 50 ms between requests: at most ~40 req/s.
    assert 10 < result.rps <= 42


@requires_wrk
def test_a_server_that_is_not_there_fails_the_harness(tmp_path):
    with pytest.raises(HarnessError):
        _load("http://127.0.0.1:9/none/", signing.new_secret(), tmp_path)


def test_wrk_output_without_a_result_line_is_a_harness_error():
    assert parse_wrk_output('noise\nBENCH_RESULT {"requests": 3}\n') == {"requests": 3}
    with pytest.raises(HarnessError, match="no result line"):
        parse_wrk_output("unable to connect to 127.0.0.1:9 Connection refused")


def test_pool_is_sized_for_the_ceiling_rate_plus_requests_in_flight():
    assert pool_size(seconds=10, connections=32, ceiling_rps=5000) == 50_000 + 128 + 100
