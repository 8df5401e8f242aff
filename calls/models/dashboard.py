"""The dashboard's figures as last counted: the admin's front page reads this row rather
than counting a week of calls on every load.

Here lives only the row; counting, keeping and reading it are `calls.console.snapshot`'s.
"""

from __future__ import annotations

from datetime import datetime

from django.db import models

# One dashboard, one row; the key leaves room for another (a per-team view) later.
DASHBOARD_KEY = "dashboard"


class DashboardSnapshot(models.Model):
    """The dashboard's counts (`calls.console.dashboard.Counts`, as JSON) at `taken_at`."""

    key = models.CharField(max_length=32, unique=True)
    counts = models.JSONField()
    taken_at = models.DateTimeField(help_text="The moment the counts are for.")
    count_ms = models.FloatField(help_text="How long the counting took.")

    def __str__(self) -> str:
        return f"{self.key} as of {self.taken_at:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def keep(cls, *, counts: dict, taken_at: datetime, count_ms: float) -> None:
        """Store the counts, replacing the last ones, in one statement (INSERT … ON
        CONFLICT DO UPDATE): a page and beat may both count at once, and either result
        says truly when its figures were taken."""
        cls.objects.bulk_create(
            [cls(key=DASHBOARD_KEY, counts=counts, taken_at=taken_at, count_ms=count_ms)],
            update_conflicts=True,
            unique_fields=["key"],
            update_fields=["counts", "taken_at", "count_ms"],
        )
