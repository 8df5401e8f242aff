"""gunicorn's threaded worker, with a request's headers read before it takes a thread.

The stock `gthread` worker hands a connection to a thread as soon as its first bytes
arrive, and the thread then waits, with no time limit, for the rest of the headers: a
client that sends half its headers and stops holds a thread for good, and as many such
clients as there are threads stop intake altogether (MiniVoice gives up after 10 s).

Here the worker's event loop, which waits on every connection at once, reads the head of
each request without blocking and hands the connection to a thread only once the head is
whole (the blank line that ends the headers has arrived), the bytes read pushed back
for gunicorn's parser. A connection whose head is not whole `REQUEST_READ_TIMEOUT_SECONDS`
after it connected (or, kept alive, after its next request began) is answered 408 and
closed, by the loop, holding no thread meanwhile. From then on the thread reads the body
with the same timeout on each read (set on the socket here and again in
`minivoice_site.wsgi`), so no part of a request's read is unbounded.

gunicorn documents `worker_class` as taking the path of a worker class of one's own;
the methods overridden here are the gthread worker's own (gunicorn is pinned in
requirements.txt, and calls/tests/test_gunicorn.py runs this worker as production does).
TLS terminated by gunicorn itself keeps the stock behaviour: its bytes cannot be read
before the TLS layer is set up (production terminates TLS in the proxy).
"""

from __future__ import annotations

import contextlib
import json
import selectors
import time
from functools import partial

from django.conf import settings
from gunicorn.workers.gthread import TConn, ThreadWorker

END_OF_HEAD = b"\r\n\r\n"
# Past this many bytes without the end of the headers, the parser gets them as they are
# and refuses them (gunicorn's limits: 4094 bytes of request line, 100 fields of 8190).
MAX_HEAD_BYTES = 64 * 1024

_TIMEOUT_BODY = json.dumps(
    {
        "error": {
            "code": "request_timeout",
            "message": "the request's headers did not arrive in time",
        }
    }
).encode()
TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(_TIMEOUT_BODY) + _TIMEOUT_BODY
)


class HeadConn(TConn):
    """A connection with the head of its next request as read so far."""

    def __init__(self, cfg, sock, client, server):
        super().__init__(cfg, sock, client, server)
        self.head = bytearray()
        self.head_deadline = time.monotonic() + settings.REQUEST_READ_TIMEOUT_SECONDS

    def init(self):
        super().init()
        # A timeout on each read and write from here on (the body, an unread body skipped
        # before the next request, the answer); the stock worker blocks with none.
        self.sock.settimeout(settings.REQUEST_READ_TIMEOUT_SECONDS)


class HeadReadingThreadWorker(ThreadWorker):
    """`gthread`, except that a thread gets a connection only once its head is whole."""

    def init_process(self):
        # Connections whose head is still coming, oldest deadline first (a dict keeps the
        # order of insertion, and every deadline is "now + the same timeout").
        self.reading: dict[HeadConn, None] = {}
        super().init_process()

    def accept(self, server, listener):
        if self.cfg.is_ssl:
            return super().accept(server, listener)
        try:
            sock, client = listener.accept()
        except BlockingIOError:
            return  # another worker took it
        except ConnectionAbortedError:
            return
        conn = HeadConn(self.cfg, sock, client, server)
        self.nr_conns += 1
        self.reading[conn] = None
        with self._lock:
            self.poller.register(
                conn.sock, selectors.EVENT_READ, partial(self.on_client_socket_readable, conn)
            )

    def on_client_socket_readable(self, conn, client):
        if self.cfg.is_ssl:
            return super().on_client_socket_readable(conn, client)
        if conn.initialized and conn not in self.reading:
            # A kept-alive connection's next request begins: out of the keep-alive queue,
            # its head timed from now.
            with self._lock:
                try:
                    self._keep.remove(conn)
                except ValueError:
                    return  # closed by the keep-alive timeout meanwhile
            conn.head_deadline = time.monotonic() + settings.REQUEST_READ_TIMEOUT_SECONDS
            self.reading[conn] = None
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return  # nothing after all: wait for more
        except OSError:
            data = b""
        if not data:
            self._drop(conn)  # the client went away before its request was whole
            return
        conn.head += data
        if END_OF_HEAD in conn.head or len(conn.head) > MAX_HEAD_BYTES:
            self._hand_over(conn)

    def _hand_over(self, conn: HeadConn) -> None:
        """The head is whole: a thread parses it (from the bytes read) and runs the app."""
        del self.reading[conn]
        with self._lock:
            self.poller.unregister(conn.sock)
        head, conn.head = bytes(conn.head), bytearray()
        conn.init()
        conn.parser.unreader.unread(head)
        future = self.tpool.submit(self.handle, conn)
        self._wrap_future(future, conn)

    def _drop(self, conn: HeadConn, answer: bytes = b"") -> None:
        del self.reading[conn]
        with self._lock, contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)  # unless the system dropped it already
        if answer:
            # Non-blocking and best effort: it fits any socket buffer.
            with contextlib.suppress(OSError):
                conn.sock.send(answer)
        self.nr_conns -= 1
        conn.close()

    def murder_keepalived(self):
        """Run by the loop about every second: the stock keep-alive timeout, and ours."""
        super().murder_keepalived()
        now = time.monotonic()
        while self.reading:
            conn = next(iter(self.reading))
            if conn.head_deadline > now:
                break
            self._drop(conn, TIMEOUT_ANSWER if conn.head else b"")
