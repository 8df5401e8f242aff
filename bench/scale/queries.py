"""The queries each admin page runs, counted with the app's own code.

gunicorn serves with DEBUG off and this PostgreSQL has no pg_stat_statements, so the
count comes from Django itself: a process of its own with the app's settings and the
filled database, Django's test `Client` logged in as the bench's superuser, each page
once to warm (session, content types) and once under `CaptureQueriesContext`. Every
`COUNT(` statement is kept with what bounds it, so a count over a whole big table shows.

    echo '{"username": "bench-staff", "paths": {"name": "/admin/..."}}' \\
        | python -m bench.scale.queries      # one line of JSON on stdout
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import django
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench import processes
from bench.load import HarnessError

# The tables that grow with traffic: a COUNT over either must be bounded.
BIG_TABLES = ("calls_call", "calls_webhookevent")


def page_queries(*, env: dict, paths: dict[str, str], username: str) -> dict[str, dict]:
    """Run this module in a process with the app's environment `env`; its counts."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.scale.queries"],
        input=json.dumps({"username": username, "paths": paths}),
        cwd=processes.ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode != 0:
        raise HarnessError(f"counting the pages' queries failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def count_queries(
    paths: dict[str, str], *, username: str, host: str = "127.0.0.1"
) -> dict[str, dict]:
    """For each page: how many queries it ran and the COUNT statements among them."""
    # Behind production's TLS proxy, as the HTTP client is: no redirect to https.
    client = Client(HTTP_HOST=host, HTTP_X_FORWARDED_PROTO="https")
    client.force_login(get_user_model().objects.get(username=username))
    found = {}
    for name, path in paths.items():
        client.get(path, secure=True)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path, secure=True)
        if response.status_code != 200:
            raise HarnessError(f"{name} ({path}) answered {response.status_code}")
        found[name] = {
            "queries": len(captured),
            "counts": [
                count_statement(query["sql"], seconds=float(query["time"]))
                for query in captured
                if "COUNT(" in query["sql"].upper()
            ],
        }
    return found


def count_statement(sql: str, *, seconds: float) -> dict:
    """A COUNT statement, the big tables it reads and what bounds the rows it counts:
    a LIMIT (the capped paginator) or a WHERE; `unbounded` when a big table has neither."""
    tables = [table for table in BIG_TABLES if f'"{table}"' in sql]
    # The last LIMIT is the outer query's (an EXISTS inside has a LIMIT 1 of its own).
    limits = re.findall(r"\bLIMIT (\d+)", sql)
    where = re.search(r"\bWHERE\b", sql) is not None
    return {
        "sql": sql if len(sql) <= 600 else sql[:597] + "...",
        "ms": round(seconds * 1000, 1),
        "tables": tables,
        "limit": int(limits[-1]) if limits else None,
        "where": where,
        "unbounded": bool(tables) and not limits and not where,
    }


def queries_summary(pages: dict[str, dict]) -> dict:
    """What the counts say: the call page's queries for 5,000 events against 10, and
    every COUNT statement seen, the unbounded ones apart."""
    big = pages.get("call page, 5,000 events", {}).get("queries")
    small = pages.get("call page, 10 events", {}).get("queries")
    counts = [
        {"page": name, **statement}
        for name, page in pages.items()
        for statement in page.get("counts", [])
    ]
    return {
        "call_page": {"5000_events": big, "10_events": small, "same": big == small},
        "count_statements": len(counts),
        "unbounded_counts": [statement for statement in counts if statement["unbounded"]],
        "slowest_count_ms": max((statement["ms"] for statement in counts), default=0),
    }


def main() -> int:
    asked = json.load(sys.stdin)
    # What gunicorn serves (bench/wsgi.py): the app's settings and the reference's URL.
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    django.setup()
    counted = count_queries(asked["paths"], username=asked["username"])
    print(json.dumps(counted))
    return 0


if __name__ == "__main__":
    sys.exit(main())
