"""The soak's own PostgreSQL cluster and Redis, on free loopback ports, so that it may
restart them: the machine's shared servers are never touched.

PostgreSQL refuses to run as root; as root, the cluster is made and run as the
`postgres` user (`runuser`), in a folder that user owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import redis as redis_client

from bench import processes
from bench.load import HarnessError

PG_USER = "postgres"


def postgres_bin() -> Path:
    """The folder of PostgreSQL's server programs (initdb, pg_ctl), newest first."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.insert(0, str(Path(on_path).parent))
    for folder in candidates:
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    raise HarnessError(
        "PostgreSQL's server programs (initdb, pg_ctl) are not installed: "
        "apt-get install postgresql"
    )


def missing_programs() -> list[str]:
    """What the soak needs and this machine lacks, in words for the person."""
    missing = []
    try:
        postgres_bin()
    except HarnessError:
        missing.append("PostgreSQL's server programs (initdb, pg_ctl)")
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    if os.geteuid() == 0 and (shutil.which("runuser") is None or not _user_exists(PG_USER)):
        missing.append(f"runuser and a {PG_USER!r} user (PostgreSQL does not run as root)")
    return missing


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class Postgres:
    """A throwaway cluster in `folder`, listening on 127.0.0.1:`port` only."""

    def __init__(self, logs: Path) -> None:
        self.bin = postgres_bin()
        # A folder of its own outside the logs, which the postgres user may not reach.
        self.folder = Path(tempfile.mkdtemp(prefix="soak-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"
        self.logs = logs
        self.port = processes.free_port()
        self.restarts = 0
        self._as_root = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/soak"

    def _run(self, *command: str, timeout: float = 60) -> None:
        argv = [str(self.bin / command[0]), *command[1:]]
        if self._as_root:
            argv = ["runuser", "-u", PG_USER, "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise HarnessError(
                f"{command[0]} failed: {result.stdout}{result.stderr}\n{_tail(self.log)}"
            )

    def create(self) -> None:
        if self._as_root:
            user = pwd.getpwnam(PG_USER)
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        self.start()
        with psycopg.connect(self._admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute("CREATE DATABASE soak")

    def remove(self) -> None:
        if self.log.exists():
            shutil.copy(self.log, self.logs / "postgres.log")
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def _admin_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        # The socket in the data folder: nothing shared with the machine's server.
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start")

    def stop(self) -> None:
        """A fast shutdown: sessions are ended, open transactions roll back."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> float:
        """Fast shutdown, then start; the seconds it was away."""
        began = time.monotonic()
        self.stop()
        self.start()
        self.restarts += 1
        return time.monotonic() - began


@contextlib.contextmanager
def postgres(logs: Path) -> Iterator[Postgres]:
    """A cluster of our own with a `soak` database, stopped and removed after."""
    server = Postgres(logs)
    try:
        server.create()
        yield server
    finally:
        with contextlib.suppress(HarnessError, subprocess.TimeoutExpired):
            server.stop()
        server.remove()


class Redis:
    """Redis on 127.0.0.1:`port`, saving its data when stopped, as a broker in
    production does, so a restart keeps the queued tasks; restarted on the same port."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = processes.free_port()
        self.restarts = 0
        self._stack = contextlib.ExitStack()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            "redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
            "--dir", str(self.folder), "--appendonly", "yes", "--appendfsync", "everysec",
            "--save", "",
        ]  # fmt: skip
        log = self.folder / f"redis-{self.restarts}.log"
        process = self._stack.enter_context(
            processes.started(command, env=dict(os.environ), log=log, name="redis")
        )
        processes.wait_for(self._answers, process=process, log=log, what="redis-server")
        self._process = process

    def _answers(self) -> bool:
        try:
            return redis_client.Redis(port=self.port, socket_timeout=1).ping()
        except redis_client.RedisError:
            return False

    def stop(self) -> None:
        # SIGTERM: Redis flushes its append-only file and exits.
        self._stack.close()
        self._stack = contextlib.ExitStack()

    def restart(self) -> float:
        began = time.monotonic()
        self.stop()
        self.restarts += 1
        self.start()
        return time.monotonic() - began


@contextlib.contextmanager
def redis(folder: Path) -> Iterator[Redis]:
    server = Redis(folder)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] if log.exists() else ""
