"""Processing figures, read from the app's own rows: rate of one worker, and lag."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import psycopg

from bench import stats

EVENTS = "calls_webhookevent"


def now(conn: psycopg.Connection) -> datetime:
    """The database's clock (the app's timestamps come from this machine's clock too)."""
    return conn.execute("SELECT clock_timestamp()").fetchone()[0]


def pending_count(conn: psycopg.Connection, *, since: datetime | None = None) -> int:
    query = f"SELECT count(*) FROM {EVENTS} WHERE state = 'pending'"
    params: list = []
    if since is not None:
        query += " AND received_at >= %s"
        params.append(since)
    return conn.execute(query, params).fetchone()[0]


def set_aside_backlog(conn: psycopg.Connection) -> int:
    """Take what the load rounds left pending out of the workers' way; return how many.

    Workers take pending rows from the table oldest first (calls.processing.batch.events_drain),
    so a backlog left by the load rounds would stand in front of every event the lag
    phase sends, and its lag would measure the backlog rather than keeping up.
    """
    return conn.execute(
        f"UPDATE {EVENTS} SET state = 'ignored', error = 'set aside by the benchmark' "
        "WHERE state = 'pending'"
    ).rowcount


def state_counts(conn: psycopg.Connection) -> dict[str, int]:
    rows = conn.execute(f"SELECT state, count(*) FROM {EVENTS} GROUP BY state").fetchall()
    return dict(rows)


def processed_times(conn: psycopg.Connection, *, since: datetime) -> list[float]:
    rows = conn.execute(
        f"SELECT extract(epoch FROM processed_at) FROM {EVENTS} WHERE processed_at >= %s",
        [since],
    ).fetchall()
    return [float(t) for (t,) in rows]


def lags_ms(conn: psycopg.Connection, *, since: datetime, until: datetime) -> list[float]:
    """Receipt to processed, for the events received in [since, until).

    An event still unprocessed counts with its wait so far, a lower bound: leaving it out
    would make a worker that falls behind look fast.
    """
    rows = conn.execute(
        "SELECT extract(epoch FROM coalesce(processed_at, clock_timestamp()) - received_at) "
        f"* 1000 FROM {EVENTS} WHERE received_at >= %s AND received_at < %s",
        [since, until],
    ).fetchall()
    return [float(v) for (v,) in rows]


class BacklogSampler(threading.Thread):
    """Counts, once a second, the events received since `since` still pending."""

    def __init__(self, dsn: str, *, since: datetime, every: float = 1.0) -> None:
        super().__init__(daemon=True, name="backlog-sampler")
        self.dsn, self.since, self.every = dsn, since, every
        self.samples: list[tuple[float, float]] = []
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                started = time.monotonic()
                while not self._halt.wait(self.every):
                    count = pending_count(conn, since=self.since)
                    self.samples.append((round(time.monotonic() - started, 2), count))
        except BaseException as exc:  # reported by the harness, not lost in a thread
            self.error = exc

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


def summarise_lag(lags: list[float]) -> dict:
    return {
        "events": len(lags),
        "p50_ms": stats.percentile(lags, 50),
        "p99_ms": stats.percentile(lags, 99),
        "max_ms": max(lags) if lags else None,
    }
