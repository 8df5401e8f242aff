from __future__ import annotations

from datetime import datetime

from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone

from calls.models import Call
from calls.protocol import contract
from calls.recordings_port import RecordingStatus


class AudioState(models.TextChoices):
    """Where a recording's audio stands in our storage (recordings.fetching)."""

    PENDING = "pending", "Pending"  # not fetched yet (or being retried)
    STORED = "stored", "Stored"
    UNAVAILABLE = "unavailable", "Audio unavailable"  # gave up; audio_error says why
    PRUNED = "pruned", "Pruned"  # deleted by retention; the metadata stays


class TranscriptState(models.TextChoices):
    """Where a recording's transcript stands (recordings.transcribing)."""

    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"  # transcript_error says why (not audio, no model…)
    OFF = "off", "Off"  # MINIVOICE_TRANSCRIBE=false when the audio was stored
    PRUNED = "pruned", "Pruned"  # deleted by retention (prune_recordings --transcripts)


class Recording(models.Model):
    """A recording of a call, as far as MiniVoice's events have told us.

    It exists as audio only once `recording.completed` arrived (status COMPLETED):
    `recording.started` alone promises nothing, and `recording.failed` is a normal outcome.
    """

    Status = RecordingStatus  # MiniVoice's recording events, in precedence order
    AudioState = AudioState
    TranscriptState = TranscriptState

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
    status_from_api = models.BooleanField(
        "status from MiniVoice's API",
        default=False,
        help_text="The sweep asked MiniVoice's API and learned how the recording ended: no "
        "recording.completed or recording.failed webhook had said so.",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The audio, as fetched from MiniVoice's API into Django's storage.
    audio_state = models.CharField(
        max_length=16, choices=AudioState.choices, default=AudioState.PENDING
    )
    audio_key = models.CharField("storage key", max_length=255, blank=True)
    audio_size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    audio_sha256 = models.CharField("SHA-256", max_length=64, blank=True)
    audio_error = models.TextField(blank=True, help_text="Why the last try failed.")
    audio_tries = models.PositiveIntegerField(default=0)
    audio_first_try_at = models.DateTimeField(null=True, blank=True)
    # Held by the worker fetching it: another one leaves it alone until this is old.
    audio_fetching_since = models.DateTimeField(null=True, blank=True)
    audio_stored_at = models.DateTimeField(null=True, blank=True)

    # What was said, transcribed offline once the audio is stored; digit runs of 12 or
    # more are masked before it is kept.
    transcript_state = models.CharField(
        max_length=16, choices=TranscriptState.choices, default=TranscriptState.PENDING
    )
    transcript = models.TextField(blank=True)
    # [{"start_seconds", "end_seconds", "text"}], in order.
    transcript_segments = models.JSONField(default=list, blank=True)
    transcript_error = models.TextField(blank=True)
    transcribed_at = models.DateTimeField(null=True, blank=True)
    # The transcript's words for full-text search (recordings.search), kept by a PostgreSQL
    # trigger from `transcript` on every write, so nothing here sets it and a cleared
    # transcript is unsearchable at once; empty on SQLite, which matches plainly.
    transcript_search = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["call", "created_at"]),
            # The dashboard's outcomes and the list filtered by status, newest first.
            models.Index(fields=["status", "-created_at"], name="recordings_status_idx"),
            # fetch_recordings' selection and the list filtered by audio, newest first.
            models.Index(fields=["audio_state", "-created_at"], name="recordings_audio_idx"),
        ]
        permissions = [
            ("listen_recording", "Can listen to a recording's audio"),
            ("download_recording", "Can download a recording's audio"),
            ("fetch_recording", "Can ask for a recording's audio to be fetched again"),
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
