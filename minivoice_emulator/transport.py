"""Delivering MiniVoice's requests over real HTTP, the way MiniVoice does, or worse.

Webhooks are retried on any non-2xx answer or no answer, as the contract says MiniVoice
does, with a back-off shorter than MiniVoice's (a test run must not wait minutes): a
refusal (4xx) a few times within a second, since waiting does not change a signature;
no answer, a 5xx, a 408 or a 429 for up to half a minute, the app being away for a
while (a database or gunicorn restarting) and back. With chaos, they
also arrive shuffled, some twice (sometimes both copies at the same moment), and one
is sent and abandoned before its answer, as a timed-out delivery is, then retried.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from minivoice_emulator.payloads import encode, signed_json_headers

WEBHOOK_PATH = "/minivoice/webhooks/"
ANSWER_PATH = "/minivoice/answer/"
RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4)  # seconds between tries after a refusal; then it is lost
# The app away (no answer, 5xx, 408, 429): the same back-off, doubling up to this much
# between tries, until this long after the first try; then the delivery is lost.
AWAY_MAX_DELAY = 2.0
AWAY_RETRY_SECONDS = 30.0
AWAY_STATUSES = (408, 429)
DUPLICATE_RATE = 0.2
CONCURRENT_DUPLICATE_RATE = 0.15

# Loopback and local names only: never through a proxy the environment may name.
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Unreachable(Exception):
    """Nothing answered at the URL (refused, timed out, not resolvable)."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    latency_ms: float


@dataclass
class Delivery:
    """One webhook, and what happened to it on the wire."""

    webhook_id: str
    event: str
    at: datetime
    payload: dict
    attempts: int = 0  # every send, abandoned ones included
    acknowledged: int = 0  # sends the app answered with 2xx
    last_status: int | None = None

    @property
    def body(self) -> bytes:
        return encode(self.payload)


@dataclass
class Latencies:
    """Milliseconds per request, shared by every call of a session (thread-safe)."""

    answer_url: list[float] = field(default_factory=list)
    webhook: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, value: float) -> None:
        with self.lock:
            getattr(self, kind).append(value)


def post(url: str, *, body: bytes, headers: dict, timeout: float) -> Reply:
    """POST `body`; any HTTP answer is a Reply, no answer at all is Unreachable."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    started = time.perf_counter()
    try:
        with opener.open(request, timeout=timeout) as response:
            content = response.read()
            status = response.status
    except HTTPError as exc:
        content, status = exc.read(), exc.code
    except (URLError, OSError) as exc:
        raise Unreachable(f"{url}: {getattr(exc, 'reason', exc)}") from None
    return Reply(status=status, body=content, latency_ms=(time.perf_counter() - started) * 1000)


def probe(url: str, *, timeout: float = 5) -> None:
    """Raise Unreachable unless something answers HTTP at `url` (any status will do)."""
    request = urllib.request.Request(url, method="GET")
    try:
        with opener.open(request, timeout=timeout):
            pass
    except HTTPError:
        pass
    except (URLError, OSError, ValueError) as exc:
        raise Unreachable(f"{url}: {getattr(exc, 'reason', exc)}") from None


def send_and_abandon(url: str, *, body: bytes, headers: dict) -> None:
    """Send a whole request and hang up before the answer: a delivery that timed out.

    The app may or may not have acted on it; MiniVoice cannot know, so it retries.
    """
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    try:
        with socket.create_connection((parts.hostname, parts.port or 80), timeout=5) as sock:
            sock.sendall(raw)
    except OSError:
        pass  # as lost as a timed-out delivery: the retry follows either way


def retry_delay(attempt: int, *, reply: Reply | None, since: float) -> float | None:
    """Seconds before the next try of a delivery whose try number `attempt` (from 0) got
    `reply` (None: no answer), first tried at `since` (monotonic); None: give up."""
    away = reply is None or reply.status >= 500 or reply.status in AWAY_STATUSES
    if not away:
        return RETRY_DELAYS[attempt] if attempt < len(RETRY_DELAYS) else None
    delay = min(AWAY_MAX_DELAY, RETRY_DELAYS[0] * 2**attempt)
    if time.monotonic() + delay - since > AWAY_RETRY_SECONDS:
        return None
    return delay


class Transport:
    """Signed requests from one call to the app at `base_url`."""

    def __init__(
        self,
        *,
        base_url: str,
        secret: str,
        latencies: Latencies,
        rng: random.Random | None = None,
        timeout: float = 10,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.latencies = latencies
        self.chaos = rng  # None: deliver in order, once each
        self.timeout = timeout

    # -- answer_url -------------------------------------------------------------------

    def request_answer(self, url: str, payload: dict, *, webhook_id: str) -> Reply:
        """POST the answer_url request, signed; with chaos, the first try times out."""
        body = encode(payload)
        headers = signed_json_headers(body=body, secret=self.secret, webhook_id=webhook_id)
        if self.chaos is not None and self.chaos.random() < 0.5:
            send_and_abandon(url, body=body, headers=headers)
            # A retry keeps its webhook-id: the app must give the same answer once.
            headers = signed_json_headers(body=body, secret=self.secret, webhook_id=webhook_id)
        reply = post(url, body=body, headers=headers, timeout=self.timeout)
        self.latencies.add("answer_url", reply.latency_ms)
        return reply

    # -- webhooks -----------------------------------------------------------------------

    def deliver(self, deliveries: list[Delivery]) -> None:
        if self.chaos is None:
            for delivery in deliveries:
                self._send_until_acknowledged(delivery)
            return
        rng = self.chaos
        order = list(deliveries)
        rng.shuffle(order)
        timed_out = rng.choice(order) if order else None
        late_copies = []
        for delivery in order:
            roll = rng.random()
            if delivery is timed_out:
                delivery.attempts += 1
                send_and_abandon(self.base_url + WEBHOOK_PATH, **self._signed(delivery))
                self._send_until_acknowledged(delivery)
            elif roll < CONCURRENT_DUPLICATE_RATE:
                self._send_twice_at_once(delivery)
            elif roll < CONCURRENT_DUPLICATE_RATE + DUPLICATE_RATE:
                self._send_until_acknowledged(delivery)
                late_copies.append(delivery)
            else:
                self._send_until_acknowledged(delivery)
        for delivery in late_copies:
            self._send_until_acknowledged(delivery)

    def _signed(self, delivery: Delivery) -> dict:
        body = delivery.body
        headers = signed_json_headers(body=body, secret=self.secret, webhook_id=delivery.webhook_id)
        return {"body": body, "headers": headers}

    def _send_until_acknowledged(self, delivery: Delivery) -> None:
        started = time.monotonic()
        for attempt in itertools.count():
            delivery.attempts += 1
            try:
                reply = post(
                    self.base_url + WEBHOOK_PATH, **self._signed(delivery), timeout=self.timeout
                )
            except Unreachable:
                reply = None
            if reply is not None:
                delivery.last_status = reply.status
                self.latencies.add("webhook", reply.latency_ms)
                if 200 <= reply.status < 300:
                    delivery.acknowledged += 1
                    return
            delay = retry_delay(attempt, reply=reply, since=started)
            if delay is None:
                return  # lost: the verdict reports it
            time.sleep(delay)

    def _send_twice_at_once(self, delivery: Delivery) -> None:
        # Each copy counts into its own record (no shared counters across threads).
        shadow = Delivery(delivery.webhook_id, delivery.event, delivery.at, delivery.payload)
        barrier = threading.Barrier(2)

        def send(copy: Delivery) -> None:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=5)
            self._send_until_acknowledged(copy)

        second = threading.Thread(target=send, args=(shadow,))
        second.start()
        send(delivery)
        second.join()
        delivery.attempts += shadow.attempts
        delivery.acknowledged += shadow.acknowledged
