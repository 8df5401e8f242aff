"""The audit trail's one table, append-only.

Rows are added and read, never changed or deleted by the app: on PostgreSQL a trigger
(migration 0002) refuses UPDATE and DELETE, whoever sends them; everywhere, the model and
its queryset refuse them in Python first, so a mistake is an error on SQLite too. Only the
prune (`audit.retention`) deletes, and only rows older than MINIVOICE_AUDIT_RETENTION.

Who acted is kept as their id and username at the time, with no foreign key: a user
deleted later leaves their entries as they were (a cascade or a SET NULL would be a
change the trigger refuses).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class AppendOnlyError(RuntimeError):
    """An audit entry was to be changed or deleted."""


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit entries are never changed.")

    def delete(self):
        raise AppendOnlyError("Audit entries are deleted only by their retention (prune_audit).")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError("Audit entries are never changed.")


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        EVENT_REPLAYED = "event.replay", "Replayed an event"
        CALL_REPROCESSED = "call.reprocess", "Reprocessed a call's events"
        FLOW_PUBLISHED = "flow.publish", "Published a flow"
        FLOW_ROLLED_BACK = "flow.rollback", "Rolled a flow back"
        RECORDING_LISTENED = "recording.listen", "Listened to a recording"
        RECORDING_DOWNLOADED = "recording.download", "Downloaded a recording"
        TIMELINE_EXPORTED = "timeline.export", "Exported a call's timeline"
        NUMBERS_VIEWED = "numbers.view", "Saw a call's numbers in full"
        USER_ACCESS_CHANGED = "user.access", "Changed a user's groups or access"
        AUDIT_PRUNED = "audit.prune", "Pruned old audit entries"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user_id = models.PositiveBigIntegerField(
        "user id", null=True, blank=True, help_text="Empty: no user (a shell, a command, beat)."
    )
    username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=32, choices=Action.choices)
    object_type = models.CharField(max_length=64, help_text="app.model, e.g. calls.webhookevent")
    object_id = models.CharField(max_length=255)
    call_minivoice_id = models.CharField(
        "MiniVoice call id",
        max_length=255,
        blank=True,
        help_text="The call it concerns, if any: its page lists it.",
    )
    detail = models.CharField(max_length=500, blank=True)
    ip = models.GenericIPAddressField("from (IP)", null=True, blank=True)
    # Listening is recorded once per user, recording and window (audit.record): the key
    # names all three, and a unique index makes a second insert in the window a no-op,
    # however many Range requests a player sends at once. Null for every other action.
    once_key = models.CharField(max_length=255, null=True, blank=True, unique=True, editable=False)

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit trail"
        ordering = ["-at", "-pk"]
        indexes = [
            # A call's page lists what was done about it, newest first.
            models.Index(
                fields=["call_minivoice_id", "-at"],
                name="audit_entry_call_idx",
                condition=~models.Q(call_minivoice_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.object_type} {self.object_id}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError("Audit entries are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit entries are deleted only by their retention (prune_audit).")

    @property
    def who(self) -> str:
        return self.username or "no user (a shell or a command)"
