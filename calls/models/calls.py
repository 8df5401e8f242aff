"""A call, and the problems found on it.

`Call` is the state we derive from what MiniVoice asked and reported (the logs in
`calls.models.logs`), kept current as events are processed.
"""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils import timezone

from calls.protocol import contract


class Call(models.Model):
    class Status(models.TextChoices):
        # In lifecycle order: a call only moves forward (see `advance_to`).
        INITIATED = "initiated", "Initiated"
        RINGING = "ringing", "Ringing"
        IN_PROGRESS = "in_progress", "In progress"
        ENDED = "ended", "Ended"

    class FinalStatus(models.TextChoices):
        COMPLETED = "completed", "Completed"
        BUSY = "busy", "Busy"
        NO_ANSWER = "no_answer", "No answer"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    minivoice_id = models.CharField(
        "MiniVoice call id", max_length=contract.CALL_ID_MAX_LENGTH, unique=True
    )
    direction = models.CharField(max_length=32, blank=True)
    from_number = models.CharField("from", max_length=64, blank=True)
    to_number = models.CharField("to", max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INITIATED)
    final_status = models.CharField(max_length=16, choices=FinalStatus.choices, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    ended_from_api = models.BooleanField(
        "end from MiniVoice's API",
        default=False,
        help_text="The sweep asked MiniVoice's API and learned that the call ended: no "
        "call.completed webhook had said so.",
    )
    last_step = models.CharField(
        max_length=255, blank=True, help_text="How far the caller got, in plain words."
    )
    last_step_at = models.DateTimeField(null=True, blank=True)
    # The flow's step of the last answer we gave, kept apart from `last_step` (which
    # MiniVoice's events move on too) so that the call list can filter by it on an index.
    flow = models.CharField(
        max_length=64, blank=True, help_text="The call flow of the last answer we gave."
    )
    flow_step = models.CharField(
        max_length=64, blank=True, help_text="The flow's step of the last answer we gave."
    )
    flow_position = models.CharField(
        max_length=255,
        blank=True,
        help_text="That step in plain words: Main line v3, step 'consent' (pressed 2).",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        # Support sees numbers masked; Support leads see them in full (calls.privacy).
        permissions = [("view_full_numbers", "Can see callers' phone numbers in full")]
        # What support's call list filters and sorts on, newest first; the phone numbers
        # for search by number.
        indexes = [
            models.Index(fields=["status", "-created_at"]),
            models.Index(fields=["final_status", "-created_at"], name="calls_call_final_idx"),
            models.Index(fields=["direction", "-created_at"], name="calls_call_direction_idx"),
            # The list filtered by flow, or by flow and last step, newest first.
            models.Index(
                fields=["flow", "flow_step", "-created_at"], name="calls_call_flow_step_idx"
            ),
            # Pattern ops: a number's start (LIKE '+4412%') uses them under any collation.
            models.Index(
                fields=["from_number"],
                name="calls_call_from_idx",
                opclasses=["varchar_pattern_ops"],
            ),
            models.Index(
                fields=["to_number"], name="calls_call_to_idx", opclasses=["varchar_pattern_ops"]
            ),
        ]

    def __str__(self) -> str:
        return self.minivoice_id

    # The rank of each status; a late or duplicate event never moves a call backwards.
    _RANK = {status: rank for rank, status in enumerate(Status.values)}

    def advance_to(self, status: str) -> bool:
        """Move to `status` if it is further along; True when the status changed."""
        if self._RANK[status] <= self._RANK[self.status]:
            return False
        self.status = status
        return True

    def note_step(self, step: str, at: datetime) -> None:
        """Record how far the caller got, unless we know of a later step already.

        What happens after the call ended (a recording finishing) is not the caller's
        progress, so it leaves the step alone; the end is the last step, and it wins a
        tie with news of the same instant.
        """
        if self.ended_at is not None and at >= self.ended_at:
            return
        if self.last_step_at is None or at >= self.last_step_at:
            self.last_step = step[:255]
            self.last_step_at = at

    def note_flow_step(self, *, flow: str, step: str, position: str) -> None:
        """The flow's step of the answer we give now. Answers come one after another (a
        call's next request follows the last answer's collect or redirect, and a replay
        changes nothing), so the latest answered is the latest reached."""
        self.flow = flow[:64]
        self.flow_step = step[:64]
        self.flow_position = position[:255]

    # Transitions, one per event MiniVoice reports. Each keeps the earliest time it was
    # told and never moves the call backwards, so duplicates and late events are harmless.

    def mark_initiated(self, at: datetime) -> None:
        self.started_at = min(self.started_at or at, at)

    def mark_ringing(self, at: datetime) -> None:
        self.advance_to(self.Status.RINGING)

    def mark_answered(self, at: datetime) -> None:
        self.advance_to(self.Status.IN_PROGRESS)
        if self.ended_at is None or at <= self.ended_at:
            self.answered_at = min(self.answered_at or at, at)

    def mark_ended(self, at: datetime, *, final_status: str, duration_seconds: int | None) -> None:
        """The first report of the end stands; a repeat only fills in what it lacked."""
        self.advance_to(self.Status.ENDED)
        self.ended_at = min(self.ended_at or at, at)
        if not self.final_status and final_status in self.FinalStatus.values:
            self.final_status = final_status
        if self.duration_seconds is None:
            self.duration_seconds = duration_seconds

    def mark_ended_from_api(
        self, at: datetime, *, final_status: str, duration_seconds: int | None, step: str
    ) -> bool:
        """What MiniVoice's API says of a call no call.completed reported: its end, noted
        as learned from the API; `step` is the end's step. False if it had ended already."""
        if self.status == self.Status.ENDED:
            return False
        self.mark_ended(at, final_status=final_status, duration_seconds=duration_seconds)
        self.ended_from_api = True
        self.last_step, self.last_step_at = step[:255], self.ended_at
        return True

    def fill_details(
        self, *, direction: str = "", from_number: str = "", to_number: str = ""
    ) -> None:
        """Fill in what we did not know yet; never overwrite what MiniVoice said first."""
        self.direction = self.direction or direction[:32]
        self.from_number = self.from_number or from_number[:64]
        self.to_number = self.to_number or to_number[:64]


class CallProblem(models.Model):
    """Something that went wrong on a call, said for support; one row per call and code.

    Written by the problem checks (calls.timeline) when the call's events are processed
    and by the periodic sweep for those that need time to pass; a check that no longer
    finds the problem deletes its row.
    """

    class Code(models.TextChoices):
        # The codes are part of the interface (call_timeline --json, filters, alerts).
        RECORDING_NOT_STARTED = "recording_not_started", "Recording never started"
        RECORDING_NOT_COMPLETED = "recording_not_completed", "Recording never completed"
        RECORDING_FAILED = "recording_failed", "Recording failed"
        ANSWER_URL_FAILED = "answer_url_failed", "MiniVoice could not use our answer"
        CALL_STUCK = "call_stuck", "Call stuck in progress"
        NO_ANSWER_URL = "no_answer_url", "Never reached the answer_url"
        ENDED_EARLY = "ended_early", "Ended before our last action"
        PROCESSING_FAILED = "processing_failed", "An event failed processing"
        RECORDING_BEFORE_CONSENT = "recording_before_consent", "Recorded before consent"
        RECORDING_AFTER_CONSENT_DECLINED = (
            "recording_after_consent_declined",
            "Recorded after consent was declined",
        )

    class Severity(models.TextChoices):
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="problems")
    code = models.CharField(max_length=32, choices=Code.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    message = models.TextField(help_text="What went wrong, in a sentence for support.")
    detected_at = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(
        null=True, blank=True, help_text="When support was alerted about it, if ever."
    )

    class Meta:
        ordering = ["detected_at"]
        constraints = [
            models.UniqueConstraint(fields=["call", "code"], name="calls_problem_once_per_call")
        ]
        indexes = [models.Index(fields=["code", "call"])]

    def __str__(self) -> str:
        return f"{self.code} on {self.call_id}"
