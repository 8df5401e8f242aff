"""`make bench-scale`: the admin and the database at a million calls.

    python -m bench.scale [--calls N] [--big-call-events E] [--repeats R]

Fills a PostgreSQL database of its own with N calls (a few with problems) and 10·N
webhook events (COPY through psycopg 3, rows shaped like real deliveries), plus one call
with E events; then serves the app with gunicorn as production does and, logged in as a
staff user over real HTTP, times the admin pages support uses, counts each page's
queries with the app's own code, and reports the database's size per million events;
with --prune-older-than, times prune_events while intake is loaded. Drops the database
at the end. See bench/README.md ("Current figures") and bench/LOG.md ("bench-scale")
for the figures.

`fill` (the rows), `pages` (timed over HTTP), `queries` (counted in-process), `prune`
(prune_events under load), `sizes` (the database's), `__main__` (the command).
"""
