"""Call flows: what callers hear, edited by staff as a draft and published as versions.

A `Flow`'s own fields and its `FlowStep` rows are the draft, changed freely in the admin.
Publishing freezes the whole flow into a `FlowVersion` (the flow document, the shape
`calls.flows.document` describes) and points the flow at it: callers get the live
version, never the draft, except calls from the flow's test numbers. Versions are never
changed; publishing an older one again is a rollback.

Here live only the rows and their transitions; building the document, checking it and
answering from it are `calls.flows`'.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import F

# The one row of `FlowsRevision`.
REVISION_ROW = 1


class Flow(models.Model):
    name = models.CharField(max_length=64, unique=True)
    numbers = models.JSONField(
        default=list,
        blank=True,
        help_text='The dialled numbers this flow answers, in E.164 (["+15550199"]).',
    )
    is_default = models.BooleanField(
        "default", default=False, help_text="Answers every number no other flow answers."
    )
    requires_consent = models.BooleanField(
        default=False,
        help_text="Recording needs the caller's consent: no start_recording may run before "
        'a step marked "consent given".',
    )
    first_step = models.CharField(max_length=64)
    test_numbers = models.JSONField(
        default=list,
        blank=True,
        help_text="Calls from these numbers reach the draft instead of the live version.",
    )
    live_version = models.ForeignKey(
        "FlowVersion",
        # A live version cannot be deleted on its own; with its flow, it goes.
        on_delete=models.RESTRICT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The version callers get. Empty until the flow is first published.",
    )
    live_since = models.DateTimeField(null=True, blank=True)
    live_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [("publish_flow", "Can publish a flow (make a version live)")]

    def __str__(self) -> str:
        return self.name

    def go_live(self, version: FlowVersion, *, by, at: datetime) -> None:
        """Point callers at `version` (a new one, or an older one: a rollback)."""
        self.live_version = version
        self.live_since = at
        self.live_set_by = by


class FlowStep(models.Model):
    class Consent(models.TextChoices):
        NONE = "", "—"
        GIVEN = "given", "Consent given"
        DECLINED = "declined", "Consent declined"

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(max_length=64)
    position = models.PositiveIntegerField(default=0, help_text="Order in the flow's document.")
    actions = models.JSONField(
        default=list,
        help_text="The actions, as MiniVoice takes them. A collect's or a redirect's url "
        "is written by the app: leave it out.",
    )
    consent = models.CharField(max_length=16, choices=Consent.choices, blank=True)
    next = models.JSONField(
        default=dict,
        blank=True,
        help_text='Where the call goes next: after a collect, a step per key ("1", "2"…), '
        '"no_input" and "other"; after a redirect, "redirect".',
    )

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["flow", "name"], name="calls_flowstep_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class FlowVersion(models.Model):
    """A published flow, frozen: the document is never changed once stored."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    document = models.JSONField(help_text="The whole flow as published (calls.flows.document).")
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    published_at = models.DateTimeField()

    class Meta:
        ordering = ["flow", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["flow", "number"], name="calls_flowversion_unique_number"
            )
        ]

    def __str__(self) -> str:
        return f"{self.flow} v{self.number}"


class FlowsRevision(models.Model):
    """One row: a number raised by every change to what callers get (a publish, a
    rollback, a flow's test numbers).

    Each process keeps the flows it answers from in memory; the answer_url reads this
    number inside the statement that stores the call anyway (`calls.rows`), so a process
    learns that its copy is stale without a query of its own.
    """

    revision = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"flows revision {self.revision}"

    @classmethod
    def raise_revision(cls) -> None:
        cls.objects.filter(pk=REVISION_ROW).update(revision=F("revision") + 1)
