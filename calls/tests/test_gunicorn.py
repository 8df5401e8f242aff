"""A real gunicorn, production's server, hands the webhook view signed chunked deliveries.

Django reads no body from a request without a Content-Length; gunicorn de-chunks the
stream and marks it terminated, and the view reads it from there. The test client cannot
show that, so gunicorn runs here in its own process, configured as in production, on the
test database. That database must be shared between processes: PostgreSQL, as `.ci/run`
sets it; on the laptop default (SQLite in memory) this is skipped and says why.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connection

from calls.models import Call, WebhookEvent
from calls.protocol.signatures import signed_headers
from calls.tests.test_settings import SETTINGS_VARIABLES
from calls.tests.test_worker import _database_url
from conftest import TEST_SECRET, WEBHOOK_URL, minivoice_event
from recordings.models import Recording

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs DATABASE_URL=postgres://… that gunicorn's worker can share (.ci/run sets it)",
)

MAX_BODY = 256 * 1024
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


@pytest.fixture
def gunicorn_port(tmp_path) -> Iterator[int]:
    """`gunicorn minivoice_site.wsgi` on a free loopback port, with one worker.

    No CELERY_BROKER_URL, so its tasks run in-process: a delivery is processed before
    gunicorn answers. Behind production's TLS proxy, hence the forwarded-proto setting.
    """
    yield from _serve(tmp_path, "--workers", "1")


@pytest.fixture
def production_gunicorn_port(tmp_path) -> Iterator[int]:
    """gunicorn exactly as production runs it: its settings from gunicorn.conf.py alone
    (only the address differs), with a short body-read timeout to keep the test quick."""
    yield from _serve(tmp_path, env={"REQUEST_READ_TIMEOUT_SECONDS": "2"})


def _serve(tmp_path, *arguments: str, env: dict | None = None) -> Iterator[int]:
    log = tmp_path / "gunicorn.log"
    environment = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    environment.update(
        DATABASE_URL=_database_url(),
        MINIVOICE_WEBHOOK_SECRET=TEST_SECRET,
        ALLOWED_HOSTS="127.0.0.1",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        SECURE_PROXY_SSL_HEADER="true",
        **(env or {}),
    )
    command = [
        sys.executable, "-m", "gunicorn", "minivoice_site.wsgi",
        "--bind", "127.0.0.1:0", *arguments,
    ]  # fmt: skip
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        port = _wait_until_answering(process, log)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_answering(process: subprocess.Popen, log, *, timeout: float = 30) -> int:
    """The port gunicorn bound (port 0: no other program can take it meanwhile), once a
    request gets an answer."""
    deadline = time.monotonic() + timeout
    port = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited ({process.returncode}):\n{log.read_text()[-4000:]}")
        if port is None:
            found = LISTENING.search(log.read_text())
            port = int(found.group(1)) if found else None
        if port is not None:
            try:
                status, _, _ = _request(port, "GET", body=None, headers={}, timeout=5)
            except OSError:
                pass
            else:
                assert status == 405, log.read_text()[-4000:]  # our view, answering
                return port
        time.sleep(0.2)
    pytest.fail(f"gunicorn did not answer in {timeout}s:\n{log.read_text()[-4000:]}")


def _request(
    port: int, method: str, *, body, headers: dict, timeout: float = 30, chunked: bool = True
) -> tuple[int, dict, bytes]:
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        client.request(
            method,
            WEBHOOK_URL,
            body=body,
            headers={"X-Forwarded-Proto": "https", **headers},
            encode_chunked=chunked and body is not None,
        )
        response = client.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        client.close()


def post_chunked(port: int, body: bytes, *, webhook_id: str, sizes: list[int]):
    """POST `body` signed like MiniVoice's, with Transfer-Encoding: chunked and no
    Content-Length, cut into chunks of `sizes` bytes (then the rest)."""

    def chunks() -> Iterator[bytes]:
        offset = 0
        for size in sizes:
            yield body[offset : offset + size]
            offset += size
        yield body[offset:]

    headers = signed_headers(body=body, secret=TEST_SECRET, webhook_id=webhook_id)
    headers.update({"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    return _request(port, "POST", body=chunks(), headers=headers)


@pytest.mark.django_db(transaction=True)
def test_signed_chunked_delivery_through_gunicorn_is_stored_byte_for_byte(gunicorn_port):
    payload = minivoice_event("recording.started", call_id="call_gunicorn", recording_id="rec_g")
    payload["variables"] = {"caller_name": "Zoë Ångström"}
    body = json.dumps(payload, indent=2, ensure_ascii=False).encode()
    # Cuts that fall anywhere, one inside the two bytes of "ë": only the whole is text.
    split_inside_e = body.index("ë".encode()) + 1
    webhook_id = f"msg_{uuid.uuid4().hex}"

    status, headers, answer = post_chunked(
        gunicorn_port, body, webhook_id=webhook_id, sizes=[1, 9, split_inside_e - 10]
    )

    assert status == 202, answer
    assert headers["Content-Type"] == "application/json"
    assert json.loads(answer) == {"status": "accepted", "webhook_id": webhook_id}
    event = WebhookEvent.objects.get()
    assert event.webhook_id == webhook_id
    assert event.raw_body == body.decode()
    assert event.payload == payload
    assert event.state == WebhookEvent.State.PROCESSED, event.error
    assert Recording.objects.get().call == Call.objects.get(minivoice_id="call_gunicorn")


@pytest.mark.django_db(transaction=True)
def test_chunked_delivery_over_256_kib_through_gunicorn_is_refused_and_not_stored(
    gunicorn_port,
):
    empty = json.dumps(minivoice_event(padding="")).encode()
    body = json.dumps(minivoice_event(padding="x" * (MAX_BODY + 1 - len(empty)))).encode()
    assert len(body) == MAX_BODY + 1

    status, headers, answer = post_chunked(
        gunicorn_port, body, webhook_id="msg_too_big", sizes=[64 * 1024] * 4
    )

    assert status == 413, answer
    assert headers["Content-Type"] == "application/json"
    assert json.loads(answer)["error"]["code"] == "payload_too_large"
    assert not WebhookEvent.objects.exists()
    assert not Call.objects.exists()


def _raw_request(port: int, head: bytes, body: bytes = b"", *, timeout: float = 15) -> bytes:
    """Send bytes as they are (http.client would not send a broken chunk), read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as client:
        client.sendall(head + body)
        client.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    return answer


def _read_answer(client: socket.socket) -> bytes:
    """One whole HTTP answer from a kept-alive connection (headers, then Content-Length)."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += client.recv(65536) or b"-"
    head, _, body = answer.partition(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    while len(body) < length:
        body += client.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.mark.django_db(transaction=True)
def test_malformed_chunked_body_is_a_400_not_a_500(gunicorn_port):
    body = json.dumps(minivoice_event()).encode()
    headers = signed_headers(body=body, secret=TEST_SECRET, webhook_id="msg_bad_chunk")
    head = (
        f"POST {WEBHOOK_URL} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        + "Connection: close\r\n\r\n"
    ).encode()

    answer = _raw_request(gunicorn_port, head, b"zz\r\n" + body + b"\r\n0\r\n\r\n")

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 400 Bad Request", answer
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["error"]["code"] == "unreadable_body"
    assert not WebhookEvent.objects.exists()


def test_each_worker_takes_its_start_up_objects_out_of_garbage_collection(
    production_gunicorn_port, tmp_path
):
    # gunicorn.conf.py's post_worker_init: a full collection then skips Django's
    # start-up objects, which live as long as the worker.
    frozen = re.findall(r"Froze (\d+) start-up objects", (tmp_path / "gunicorn.log").read_text())
    assert frozen
    assert min(int(count) for count in frozen) > 10_000


@pytest.mark.django_db(transaction=True)
def test_slow_clients_do_not_stall_intake(production_gunicorn_port):
    """Clients that declare more body than they send must not hold up a real delivery."""
    port = production_gunicorn_port
    stalled = []
    for number in range(8):
        client = socket.create_connection(("127.0.0.1", port), timeout=15)
        client.sendall(
            f"POST {WEBHOOK_URL} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
            f"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n".encode()
            + b'{"event": "slow %d"' % number  # 100-odd bytes short of what was declared
        )
        stalled.append(client)
    try:
        payload = minivoice_event("call.ringing", call_id="call_in_time")
        body = json.dumps(payload).encode()
        headers = signed_headers(body=body, secret=TEST_SECRET, webhook_id="msg_in_time")
        headers["Content-Type"] = "application/json"

        started = time.monotonic()
        status, _, answer = _request(port, "POST", body=body, headers=headers, chunked=False)
        waited = time.monotonic() - started

        assert status == 202, answer
        # Before gunicorn.conf.py, one sync worker made this wait ~30 s (its timeout).
        assert waited < 2, f"a real delivery waited {waited:.1f} s behind 8 slow clients"
        # The slow clients are cut off once the read timeout (2 s here) passes.
        for client in stalled:
            answer = _read_answer(client)
            assert answer.startswith(b"HTTP/1.1 400"), answer
            error = json.loads(answer.partition(b"\r\n\r\n")[2])["error"]
            assert error["code"] == "unreadable_body"
    finally:
        for client in stalled:
            client.close()
    assert list(WebhookEvent.objects.values_list("webhook_id", flat=True)) == ["msg_in_time"]


def _stall_headers(port: int, count: int) -> list[socket.socket]:
    """`count` connections that send half their headers and then say nothing more."""
    stalled = []
    for number in range(count):
        client = socket.create_connection(("127.0.0.1", port), timeout=15)
        client.sendall(
            f"POST {WEBHOOK_URL} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"X-Stalled: {number}\r\nContent-Ty".encode()
        )
        stalled.append(client)
    return stalled


def _deliver_signed(port: int, webhook_id: str, *, timeout: float) -> tuple[int, float]:
    body = json.dumps(minivoice_event("call.ringing", call_id=f"call_{webhook_id}")).encode()
    headers = signed_headers(body=body, secret=TEST_SECRET, webhook_id=webhook_id)
    headers["Content-Type"] = "application/json"
    started = time.monotonic()
    try:
        status, _, _ = _request(
            port, "POST", body=body, headers=headers, chunked=False, timeout=timeout
        )
    except TimeoutError:
        status = 0
    return status, time.monotonic() - started


@pytest.mark.django_db(transaction=True)
def test_clients_that_stall_their_headers_do_not_stall_intake(production_gunicorn_port):
    """100 connections that sent half their headers (more than gunicorn has threads) must
    not hold up real deliveries; and each is cut off once the read timeout passes."""
    port = production_gunicorn_port
    # Each worker process's first requests are slow (imports, connections): not measured.
    with ThreadPoolExecutor(max_workers=12) as pool:
        warm = list(
            pool.map(lambda n: _deliver_signed(port, f"msg_warm_{n}", timeout=30), range(12))
        )
    assert {status for status, _ in warm} == {202}, warm
    stalled = _stall_headers(port, 100)
    try:
        time.sleep(0.5)  # gunicorn has seen every one of them
        answers = [_deliver_signed(port, f"msg_in_time_{n}", timeout=5) for n in range(6)]

        # Before the read of headers was bounded, each stalled connection held a thread
        # for good: every delivery timed out.
        for status, waited in answers:
            assert status == 202, answers
            assert waited < 1, f"a real delivery waited {waited:.1f} s: {answers}"
        # Each stalled connection is answered 408 and closed once the read timeout (2 s
        # here) has passed since it connected.
        deadline = time.monotonic() + 10
        for client in stalled:
            client.settimeout(max(0.1, deadline - time.monotonic()))
            answer = b""
            while chunk := client.recv(65536):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 408"), answer
            error = json.loads(answer.partition(b"\r\n\r\n")[2])["error"]
            assert error["code"] == "request_timeout"
    finally:
        for client in stalled:
            client.close()
    stored = set(WebhookEvent.objects.values_list("webhook_id", flat=True))
    assert stored == {
        f"msg_{kind}_{n}" for kind, many in [("warm", 12), ("in_time", 6)] for n in range(many)
    }


@pytest.mark.django_db(transaction=True)
def test_a_kept_alive_connection_is_served_again_and_its_stalled_next_request_cut_off(
    production_gunicorn_port,
):
    body = json.dumps(minivoice_event("call.ringing", call_id="call_kept")).encode()

    def head(webhook_id: str) -> bytes:
        headers = signed_headers(body=body, secret=TEST_SECRET, webhook_id=webhook_id)
        return (
            f"POST {WEBHOOK_URL} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            + "\r\n"
        ).encode()

    with socket.create_connection(("127.0.0.1", production_gunicorn_port), timeout=10) as client:
        for webhook_id in ["msg_kept_1", "msg_kept_2"]:
            # The head in two pieces, the second a moment later: read as one.
            whole = head(webhook_id)
            client.sendall(whole[:40])
            time.sleep(0.2)
            client.sendall(whole[40:] + body)
            assert _read_answer(client).startswith(b"HTTP/1.1 202"), webhook_id
        client.sendall(head("msg_kept_3")[:60])  # and then nothing more
        started = time.monotonic()
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
        waited = time.monotonic() - started

    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert 1 < waited < 5  # the read timeout is 2 s here
    stored = set(WebhookEvent.objects.values_list("webhook_id", flat=True))
    assert stored == {"msg_kept_1", "msg_kept_2"}
