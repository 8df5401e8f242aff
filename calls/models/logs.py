"""Every exchange with MiniVoice about a call: what it asked the answer_url and what we
answered (`AnswerExchange`), and each webhook it delivered (`WebhookEvent`).

They are logs: written once as received and never edited by people; the call's state is
derived from them (`calls.models.calls`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

from calls.models.calls import Call
from calls.protocol import contract


class AnswerExchange(models.Model):
    """One answer_url request from MiniVoice and the exact answer we gave."""

    call = models.ForeignKey(
        Call,
        on_delete=models.CASCADE,
        related_name="answer_exchanges",
        null=True,
        blank=True,
        help_text="Empty when the request named no usable call id, or recording the "
        "call failed (see call_minivoice_id).",
    )
    call_minivoice_id = models.CharField(
        "MiniVoice call id",
        max_length=contract.CALL_ID_MAX_LENGTH,
        blank=True,
        help_text="The call id the request named: how exchanges and events are correlated.",
    )
    received_at = models.DateTimeField(default=timezone.now)
    occurred_at = models.DateTimeField(
        null=True, blank=True, help_text="The request's created_at, by MiniVoice's clock."
    )
    webhook_id = models.CharField(
        max_length=contract.WEBHOOK_ID_MAX_LENGTH,
        blank=True,
        help_text="The signed request's webhook-id: a request replayed with it gets the "
        "same answer and changes nothing.",
    )
    method = models.CharField(max_length=8)
    query_string = models.TextField(blank=True)
    request_headers = models.JSONField(default=dict, blank=True)
    request_body = models.TextField(blank=True)
    variables = models.JSONField(default=dict, blank=True)
    flow = models.CharField(
        max_length=64, blank=True, help_text="The call flow whose actions we returned."
    )
    flow_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The flow's published version; empty for its draft."
    )
    flow_draft = models.BooleanField(
        default=False, help_text="Answered from the flow's draft (a call from a test number)."
    )
    step = models.CharField(
        max_length=64, blank=True, help_text="The flow's step whose actions we returned."
    )
    consent = models.CharField(
        max_length=16,
        blank=True,
        help_text='"given" or "declined" when the step is marked so: the caller consented '
        "to recording (or refused) to get here.",
    )
    consent_required = models.BooleanField(
        default=False, help_text="The flow needs the caller's consent before recording."
    )
    response_status = models.PositiveSmallIntegerField()
    response_body = models.TextField(help_text="Exactly what we returned to MiniVoice.")
    duration_ms = models.FloatField(help_text="How long we took to answer.")
    error = models.TextField(
        blank=True, help_text="What went wrong while building the answer, if anything."
    )

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["call_minivoice_id", "received_at"]),
            models.Index(fields=["-received_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["webhook_id"],
                condition=~Q(webhook_id=""),
                name="calls_exchange_unique_webhook_id",
            )
        ]

    def __str__(self) -> str:
        return f"{self.method} answer_url → {self.response_status}"

    @property
    def at(self) -> datetime:
        """When MiniVoice asked, by its clock if it said, else by ours."""
        return self.occurred_at or self.received_at


# Back-off between tries of a failing event: 30 s, 1 min, 2 min … then hourly.
FIRST_RETRY_DELAY = timedelta(seconds=30)
LONGEST_RETRY_DELAY = timedelta(hours=1)


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed try."""
    if attempts >= 8:  # 30 s * 2**7 already exceeds the cap; no huge powers
        return LONGEST_RETRY_DELAY
    return min(FIRST_RETRY_DELAY * 2 ** (attempts - 1), LONGEST_RETRY_DELAY)


class WebhookEvent(models.Model):
    """One signed delivery from MiniVoice, stored as received before it is acted on."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (event type we do not act on)"
        FAILED = "failed", "Failed (will be retried)"
        GAVE_UP = "gave_up", "Gave up (failed until the retry period ran out)"
        MALFORMED = "malformed", "Malformed (body is not a JSON object)"

    # States after which a retried delivery needs no more work.
    DONE_STATES = frozenset({State.PROCESSED, State.IGNORED, State.MALFORMED})
    # States a person (or the sweep) can hand to a worker again.
    REPLAYABLE_STATES = frozenset({State.PENDING, State.FAILED, State.GAVE_UP})

    # Unique and indexed through Meta, not `unique=True`/`db_index=True`: on PostgreSQL
    # those add a second, varchar_pattern_ops index for LIKE 'prefix%' searches that
    # nothing makes, and every delivery paid two index writes for it.
    webhook_id = models.CharField(max_length=contract.WEBHOOK_ID_MAX_LENGTH)
    event_type = models.CharField(max_length=64, blank=True)
    call_minivoice_id = models.CharField(
        "MiniVoice call id", max_length=contract.CALL_ID_MAX_LENGTH, blank=True
    )
    occurred_at = models.DateTimeField(null=True, blank=True, help_text="The payload's created_at.")
    received_at = models.DateTimeField(default=timezone.now)
    deliveries = models.PositiveIntegerField(
        default=1, help_text="How many times MiniVoice delivered it (retries included)."
    )
    headers = models.JSONField(default=dict, blank=True)
    raw_body = models.TextField(help_text="The body exactly as received.")
    payload = models.JSONField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    queued_at = models.DateTimeField(
        default=timezone.now, help_text="When it was last handed to a worker."
    )
    attempts = models.PositiveIntegerField(
        default=0, help_text="How many times processing ran to an end, failures included."
    )
    next_attempt_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a failed event is due to be tried again (set by its last failure).",
    )
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        permissions = [("replay_webhookevent", "Can replay webhook events (process them again)")]
        constraints = [
            models.UniqueConstraint(fields=["webhook_id"], name="calls_event_unique_webhook_id")
        ]
        indexes = [
            models.Index(fields=["event_type"], name="calls_event_type_idx"),
            models.Index(fields=["call_minivoice_id", "received_at"]),
            models.Index(fields=["-received_at"]),
            # The event list filtered by a state support looks for (failed, gave up,
            # ignored, malformed), newest first. Pending and processed, nearly every row,
            # are left out: a delivery and its processing then write this index not at
            # all, and a list of either finds its rows at the head of `-received_at`.
            models.Index(
                fields=["state", "-received_at"],
                name="calls_event_trouble_idx",
                condition=~Q(state__in=["pending", "processed"]),
            ),
            # Finding the few events still waiting (the requeue sweep) stays cheap.
            models.Index(
                fields=["queued_at"],
                name="calls_event_unfinished_idx",
                condition=Q(state__in=["pending", "failed"]),
            ),
            models.Index(
                fields=["next_attempt_at"],
                name="calls_event_retry_due_idx",
                condition=Q(state="failed"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type or '(no event type)'} {self.webhook_id}"

    @property
    def is_done(self) -> bool:
        return self.state in self.DONE_STATES

    def record_failure(self, *, error: str, now: datetime, retry_for: timedelta) -> None:
        """Keep the error and schedule the next try with back-off, or give up.

        The schedule lives in the row, not in the broker: a retry survives a broker that
        was down when processing failed, and a worker killed while waiting to retry.
        """
        self.attempts += 1
        self.error = error
        retry_at = now + retry_delay(self.attempts)
        if retry_at > self.received_at + retry_for:
            self.state = self.State.GAVE_UP
            self.next_attempt_at = None
        else:
            self.state = self.State.FAILED
            self.next_attempt_at = retry_at

    @property
    def at(self) -> datetime:
        """When it happened, by MiniVoice's clock if it said, else by ours."""
        return self.occurred_at or self.received_at
