from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils import timezone

from calls.models import Call
from calls.protocol import contract
from calls.recordings_port import RecordingStatus


class Recording(models.Model):
    """A recording of a call, as far as MiniVoice's events have told us.

    It exists as audio only once `recording.completed` arrived (status COMPLETED):
    `recording.started` alone promises nothing, and `recording.failed` is a normal outcome.
    """

    Status = RecordingStatus  # MiniVoice's recording events, in precedence order

    minivoice_id = models.CharField(
        "MiniVoice recording id",
        max_length=contract.RECORDING_ID_MAX_LENGTH,
        unique=True,
        null=True,
        blank=True,
        help_text="Empty for a recording.failed that named no recording.",
    )
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="recordings")
    status = models.CharField(max_length=16, choices=Status.choices)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Text, not URLField: a long signed media URL must be kept whole, never cut.
    url = models.TextField("media URL", blank=True)
    format = models.CharField(max_length=32, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    failure_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["call", "created_at"]),
            # The dashboard's outcomes and the list filtered by status, newest first.
            models.Index(fields=["status", "-created_at"], name="recordings_status_idx"),
        ]

    def __str__(self) -> str:
        return self.minivoice_id or f"failed recording of {self.call_id}"

    _RANK = {status: rank for rank, status in enumerate(Status.values)}

    def advance_to(self, status: str) -> bool:
        """Move to `status` if it outranks the current one; True when it changed."""
        if self.status and self._RANK[status] <= self._RANK[self.status]:
            return False
        self.status = status
        return True

    def mark_started(self, at: datetime) -> None:
        self.started_at = self.started_at or at
        self.advance_to(self.Status.STARTED)

    def mark_completed(
        self,
        at: datetime,
        *,
        duration_seconds: int | None,
        url: str,
        format: str,
        size_bytes: int | None,
    ) -> None:
        self.completed_at = self.completed_at or at
        self.duration_seconds = (
            duration_seconds if duration_seconds is not None else self.duration_seconds
        )
        self.url = url or self.url
        self.format = format or self.format
        self.size_bytes = size_bytes if size_bytes is not None else self.size_bytes
        self.advance_to(self.Status.COMPLETED)
        # The audio exists after all; an earlier failure stays in the event log only.
        self.failure_reason = ""

    def mark_failed(self, at: datetime, *, reason: str) -> None:
        self.failed_at = self.failed_at or at
        self.advance_to(self.Status.FAILED)
        if self.status == self.Status.FAILED:  # not after a completion: the audio exists
            self.failure_reason = reason or self.failure_reason
