"""`make bench-partitioning`: the events table plain against partitioned by month.

    python -m bench.partitioning [--rows N] [--connections C] [--insert-seconds S]

Builds two tables shaped like calls_webhookevent in a database of its own, one plain and
one partitioned by month on received_at, fills both with the same N rows by COPY, and
measures what issue 9's point 4 asks: single-row inserts as intake does them, the
dedupe on webhook_id, the prune of the oldest month, the admin's look-ups and the sizes.
See bench/LOG.md ("Past one machine") for the figures and the verdict.
"""

from __future__ import annotations

from collections.abc import Callable

# Told how many more items are done: a progress bar's advance.
Advance = Callable[[int], None]
