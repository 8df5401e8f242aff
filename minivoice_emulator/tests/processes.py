"""Starting and always stopping the real processes a test needs (manage.py commands)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from conftest import TEST_SECRET

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")


def environment(database_url: str = "", **extra: str) -> dict:
    """A laptop's environment (DEBUG, in-process tasks) with this test's own database."""
    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL", "DATABASE_URL")}
    env.update(DEBUG="true", MINIVOICE_WEBHOOK_SECRET=TEST_SECRET, **extra)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def manage(*args: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, MANAGE, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(*args: str, env: dict):
    """`manage.py <args>` in the background, interrupted (Ctrl-C) and reaped at the end;
    its stderr is then in `process.stderr_text`."""
    with tempfile.TemporaryFile(mode="w+") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-u", MANAGE, *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            process.stdout.close()
            stderr.seek(0)
            process.stderr_text = stderr.read()
