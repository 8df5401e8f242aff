"""The faults, injected while the calls play: each once the app has seen a share of the
calls start (its `calls_call` rows), so they fall at spread points of the load."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import psycopg

from soak import checks


@dataclass
class Fault:
    name: str
    at_share: float  # of the calls started
    inject: Callable[[], str]  # does it; says what happened
    done_at: float | None = None  # monotonic, when the fault was over
    seconds: float | None = None  # how long it took
    calls_started: int | None = None
    detail: str = ""
    error: str = ""

    def as_dict(self) -> dict:
        fields = asdict(self)
        fields.pop("inject")
        fields.pop("done_at")
        return fields


class Injector(threading.Thread):
    """Watches the calls started in the app's database; injects each fault in turn."""

    def __init__(self, *, faults: list[Fault], database_url: str, calls: int) -> None:
        super().__init__(name="soak-faults", daemon=True)
        self.faults = sorted(faults, key=lambda fault: fault.at_share)
        self.database_url = database_url
        self.calls = calls
        self.started_count = 0
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    @property
    def injected(self) -> list[Fault]:
        return [fault for fault in self.faults if fault.done_at is not None and not fault.error]

    def run(self) -> None:
        waiting = list(self.faults)
        while not self._stop.wait(0.25):
            count = self._count()
            if count is None:
                continue
            self.started_count = count  # the progress line's, after the faults too
            if not waiting or count < waiting[0].at_share * self.calls:
                continue
            fault = waiting[0]
            waiting.pop(0)
            began = time.monotonic()
            fault.calls_started = count
            try:
                fault.detail = fault.inject()
            except Exception as exc:  # reported in the table; the soak then fails
                fault.error = f"{type(exc).__name__}: {exc}"
            fault.done_at = time.monotonic()
            fault.seconds = round(fault.done_at - began, 2)

    def _count(self) -> int | None:
        # A connection per look: the database itself is one of the faults.
        try:
            with psycopg.connect(self.database_url, connect_timeout=2) as conn:
                return checks.calls_started(conn)
        except psycopg.Error:
            return None
