"""What calls knows of a call's recordings, and asks of the app that keeps them.

`recordings` depends on `calls`, never the reverse (an import-linter contract says so).
A call's story, its problem checks, the sweep and the console still speak of its
recordings as MiniVoice reported them: through this port, which the recordings app fills
from its `AppConfig.ready()`. What calls may rely on is written here, once:

- the model's rows have `call` (a foreign key to `Call`, reverse name `recordings`),
  `minivoice_id`, `status` (a `RecordingStatus`), `started_at`, `completed_at`,
  `failed_at`, `duration_seconds`, `failure_reason`, `status_from_api` (MiniVoice's API,
  not a webhook, said how it ended) and `created_at`; of their audio,
  `audio_state` (`pending`, `stored`, `unavailable`, `pruned`), `audio_size_bytes`,
  `audio_sha256` and `audio_error`; of what was said, `transcript_state` (`pending`,
  `done`, `failed`, `off`, `pruned`), `transcript` (text, card-like digits masked),
  `transcript_segments` (`start_seconds`, `end_seconds`, `text`) and `transcript_error`.
  A stored recording's audio is heard at the URL named `admin:recordings_recording_audio`
  (argument: the row's pk), behind its own permission check;
- `lock_named` and `apply_event` apply a worker's batch of recording events;
  `apply_api` what MiniVoice's API said of a recording no webhook finished (the sweep).
- `calls_saying(words)` is the pks of the calls one of whose recordings' transcripts says
  the words, for `pk__in`: a list when few, a one-column queryset (a subquery) when many;
  on PostgreSQL a full-text search over an index, so the call list can search by words at
  any size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db import models


class RecordingStatus(models.TextChoices):
    """Where a recording stands, from MiniVoice's recording events. In precedence order:
    events arrive out of order, and a recording only moves forward. Completed outranks
    failed: once MiniVoice says the audio exists, it does."""

    STARTED = "started", "Started"
    FAILED = "failed", "Failed"
    COMPLETED = "completed", "Completed"


class RecordingRow(Protocol):
    """A recording as calls reads it (the model's rows; see the module's docstring)."""

    pk: int | None
    call_id: int
    minivoice_id: str | None
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    failed_at: datetime | None
    duration_seconds: int | None
    failure_reason: str
    status_from_api: bool
    created_at: datetime
    audio_state: str
    audio_size_bytes: int | None
    audio_sha256: str
    audio_error: str
    transcript_state: str
    transcript: str
    transcript_segments: list
    transcript_error: str


@dataclass(frozen=True)
class RecordingsPort:
    model: type[models.Model]
    # The recording id an event's data names ("" if none): {id: (call, event type)} of a
    # batch's events to `lock_named`, which returns those recordings locked.
    id_of: Callable[[Mapping], str]
    lock_named: Callable[..., dict[str, Any]]
    # (call=, event_type=, data=, at=, locked=): one recording event applied.
    apply_event: Callable[..., Any]
    # (call=, info=, now=): what MiniVoice's API said of one of the call's recordings
    # (a `calls.minivoice_api.RecordingInfo`), applied and noted as learned from the API,
    # its audio asked for after commit if it completed; True when the recording moved.
    apply_api: Callable[..., bool]
    # words → the pks of the calls whose recordings say them (for `pk__in`).
    calls_saying: Callable[[str], list[int] | models.QuerySet]

    def rows(self) -> models.QuerySet:
        return self.model._default_manager.all()


_registered: dict[str, RecordingsPort] = {}


def recordings_port_register(port: RecordingsPort) -> None:
    """Called once by the recordings app, from its `AppConfig.ready()`."""
    _registered["port"] = port


def recordings() -> RecordingsPort:
    try:
        return _registered["port"]
    except KeyError:
        raise ImproperlyConfigured(
            "No app has registered the call's recordings: add 'recordings' to INSTALLED_APPS."
        ) from None
