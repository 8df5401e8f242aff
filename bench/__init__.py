"""The benchmark harness: `make bench`, `make bench-quick`, `make bench-profile`.

Measures the app as production runs it (gunicorn, PostgreSQL, Redis, a Celery worker)
against a bare reference view served by the same gunicorn. See bench/README.md.
"""
