"""The emulator's REST API in a process of its own on loopback, as a developer runs it
(`manage.py minivoice_emulator`), and plain HTTP downloads from it."""

from __future__ import annotations

import contextlib
import hashlib
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench import processes
from bench.load import HarnessError

CHUNK_BYTES = 64 * 1024  # what recordings.storage reads at a time


@contextlib.contextmanager
def emulator(*, env: dict, workdir: Path, api_key: str) -> Iterator[str]:
    """`manage.py minivoice_emulator` on a free port; its base URL."""
    port = processes.free_port()
    log = workdir / "emulator.log"
    command = [
        sys.executable, "manage.py", "minivoice_emulator", "--port", str(port),
        "--api-key", api_key,
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with processes.started(command, env=env, log=log, name="emulator") as process:
        processes.wait_for(
            lambda: _status(f"{url}/v1/calls/none", api_key) == 404,
            process=process,
            log=log,
            what="the emulator",
        )
        yield url


def _status(url: str, api_key: str) -> int | None:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as answer:
        return answer.code
    except OSError:
        return None


@dataclass(frozen=True)
class Download:
    size_bytes: int
    seconds: float
    sha256: str

    @property
    def mb_per_second(self) -> float:
        return self.size_bytes / 1e6 / self.seconds if self.seconds else 0.0


def download(url: str, *, api_key: str, digest: bool = False) -> Download:
    """GET `url` in 64 KB reads, keeping nothing (its SHA-256 if `digest`)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"})
    hashed = hashlib.sha256()
    size = 0
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            while chunk := response.read(CHUNK_BYTES):
                size += len(chunk)
                if digest:
                    hashed.update(chunk)
    except OSError as exc:
        raise HarnessError(f"downloading {url} failed: {exc}") from None
    return Download(
        size_bytes=size,
        seconds=time.perf_counter() - started,
        sha256=hashed.hexdigest() if digest else "",
    )
