"""The parts the harness starts on loopback, each stopped when its `with` ends.

Every process gets a session of its own, so that stopping it stops what it started
(gunicorn's and Celery's workers) and a Ctrl-C in the terminal reaches the harness
first, which then stops everything in order.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench.load import HarnessError

ROOT = Path(__file__).resolve().parent.parent
ADMIN_DSN = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")
# On a server shared by several people, each can keep the harness's databases to names
# of their own (`BENCH_DATABASE_PREFIX=alice_bench`).
DATABASE_PREFIX = os.environ.get("BENCH_DATABASE_PREFIX", "bench")
# Variables the app reads: none leaks in from the caller's shell.
APP_VARIABLES = (
    "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "DATABASE_URL",
    "CONN_MAX_AGE", "CELERY_BROKER_URL", "MINIVOICE_WEBHOOK_SECRET", "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "DJANGO_SETTINGS_MODULE",
    "GUNICORN_BIND", "GUNICORN_WORKERS", "GUNICORN_THREADS", "GUNICORN_TIMEOUT",
    "REQUEST_READ_TIMEOUT_SECONDS", "BROKER_PUBLISH_TIMEOUT_MS", "LOG_LEVEL",
)  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A database of our own (`bench_<random>`) on the machine's server, dropped after."""
    name = f"{DATABASE_PREFIX}_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise HarnessError(f"cannot create a database at {ADMIN_DSN}: {exc}") from None
    base = ADMIN_DSN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def started(command: list[str], *, env: dict, log: Path, name: str) -> Iterator[subprocess.Popen]:
    """Run `command` in its own session, logging to `log`; stop it (and its children)
    on the way out, whatever happened."""
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen, *, timeout: float = 20) -> None:
    if process.poll() is not None:
        return
    # The process leads its own session and group: this reaches its workers too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for(check, *, process: subprocess.Popen, log: Path, what: str, timeout: float = 30):
    """Poll `check()` until it returns a truthy value; HarnessError if the process dies
    or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise HarnessError(f"{what} exited ({process.returncode}):\n{_tail(log)}")
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise HarnessError(f"{what} was not ready in {timeout:.0f}s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A Redis of our own: loopback, a free port, nothing saved to disk."""
    port = free_port()
    log = workdir / "redis.log"
    command = [
        "redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
        "--appendonly", "no", "--dir", str(workdir),
    ]  # fmt: skip
    with started(command, env=dict(os.environ), log=log, name="redis") as process:
        wait_for(lambda: _answers_ping(port), process=process, log=log, what="redis-server")
        yield f"redis://127.0.0.1:{port}/1"


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def app_environment(*, database_url: str, broker_url: str, secret: str) -> dict:
    """Production's environment, on loopback: DEBUG off, behind a TLS proxy."""
    env = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url,
        MINIVOICE_WEBHOOK_SECRET=secret,
        SECURE_PROXY_SSL_HEADER="true",
    )
    return env


def manage(*args: str, env: dict) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise HarnessError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


@dataclass(frozen=True)
class Server:
    process: subprocess.Popen
    base_url: str
    command: list[str]


def gunicorn_command(port: int, *, app: str = "bench.wsgi") -> list[str]:
    """Production's command: with the repository's gunicorn.conf.py once it exists (read
    by default from the working directory), else the README's `--workers 4`. `app`:
    the benchmark's WSGI app (the app and the reference view) or production's own."""
    command = [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}"]
    if not (ROOT / "gunicorn.conf.py").exists():
        command += ["--workers", "4"]
    return command


@contextlib.contextmanager
def gunicorn(*, env: dict, workdir: Path, app: str = "bench.wsgi") -> Iterator[Server]:
    port = free_port()
    log = workdir / "gunicorn.log"
    command = gunicorn_command(port, app=app)
    base_url = f"http://127.0.0.1:{port}"
    with started(command, env=env, log=log, name="gunicorn") as process:
        wait_for(
            lambda: _status(f"{base_url}/minivoice/webhooks/") == 405,
            process=process,
            log=log,
            what="gunicorn",
        )
        yield Server(process=process, base_url=base_url, command=command)


def _status(url: str) -> int | None:
    request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as answer:
        return answer.code
    except OSError:
        return None


@contextlib.contextmanager
def celery_worker(
    *,
    env: dict,
    workdir: Path,
    concurrency: int,
    queues: str = "",
    log_name: str = "worker.log",
    nice: int = 0,
) -> Iterator[subprocess.Popen]:
    """Production's worker command, with `concurrency` processes, on Celery's default
    queue or on `queues` (`-Q`, e.g. "recordings"), logging to `workdir/log_name`; under
    `nice -n N` when `nice` is given."""
    log = workdir / log_name
    command = ["nice", "-n", str(nice)] if nice else []
    command += [
        sys.executable, "-m", "celery", "-A", "minivoice_site", "worker",
        "--loglevel", "INFO", "--concurrency", str(concurrency),
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    if queues:
        command += ["-Q", queues]
    with started(command, env=env, log=log, name="celery") as process:
        wait_for(
            lambda: " ready." in log.read_text(errors="replace"),
            process=process,
            log=log,
            what="celery worker",
            timeout=60,
        )
        yield process
