"""The transcription task when the database goes away under it (a restart): it tries
again once the database is back, where a failure it could not even write would have
left the transcript pending for good; any other failure is kept on the recording."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from recordings import tasks

pytestmark = pytest.mark.django_db


def test_a_transcription_that_finds_the_database_away_is_tried_again(monkeypatch):
    tries = []

    def away_then_back(*, recording_pk: int) -> str:
        tries.append(recording_pk)
        if len(tries) < 3:
            raise OperationalError("terminating connection due to administrator command")
        return "done"

    monkeypatch.setattr(tasks, "recording_transcribe", away_then_back)

    result = tasks.transcribe_recording.apply(args=[7])

    assert (result.get(), tries) == ("done", [7, 7, 7])


def test_a_transcription_that_fails_otherwise_is_not_tried_again(monkeypatch):
    tries = []

    def broken(*, recording_pk: int) -> str:
        tries.append(recording_pk)
        raise ValueError("a bug")

    monkeypatch.setattr(tasks, "recording_transcribe", broken)

    result = tasks.transcribe_recording.apply(args=[7])

    assert isinstance(result.result, ValueError)
    assert tries == [7]
