"""Listening to and downloading a recording on the audit trail: a download is an entry
each time; listening is one entry per user and recording in each ten-minute window, however
many Range requests the player sends."""

from __future__ import annotations

from datetime import timedelta
from threading import Thread

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.urls import reverse

from audit.models import AuditEntry
from audit.record import LISTEN_WINDOW
from calls.models import Call
from calls.tests.console_data import logged_in, support_lead, support_member
from recordings.models import AudioState, Recording
from recordings.tests.conftest import completed_event

pytestmark = pytest.mark.django_db

WHERE = "198.51.100.4"


@pytest.fixture
def stored(emulator, post_webhook) -> Recording:
    emulator.add_recording("rec_heard", seconds=2)
    post_webhook(completed_event("rec_heard", seconds=2))
    recording = Recording.objects.get(minivoice_id="rec_heard")
    assert recording.audio_state == AudioState.STORED
    return recording


def listen(client: Client, recording: Recording, **extra):
    response = client.get(reverse("admin:recordings_recording_audio", args=[recording.pk]), **extra)
    if response.streaming:
        b"".join(response.streaming_content)  # the whole answer, as a player reads it
    return response


def heard() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=AuditEntry.Action.RECORDING_LISTENED))


def test_a_players_many_range_requests_leave_one_entry(stored):
    user = support_member("ana")
    client = logged_in(user)

    for header in ["bytes=0-", "bytes=0-1023", "bytes=1024-", "bytes=30000-"]:
        assert listen(client, stored, HTTP_RANGE=header, REMOTE_ADDR=WHERE).status_code == 206

    (entry,) = heard()
    assert (entry.user_id, entry.username, entry.ip) == (user.pk, "ana", WHERE)
    assert (entry.object_type, entry.object_id) == ("recordings.recording", str(stored.pk))
    assert (entry.call_minivoice_id, entry.detail) == ("call_123", "rec_heard")


def test_each_listener_has_an_entry_of_their_own(stored):
    listen(logged_in(support_member("ana")), stored)
    listen(logged_in(support_lead("lea")), stored)

    assert sorted(entry.username for entry in heard()) == ["ana", "lea"]


def test_listening_again_in_the_next_window_leaves_a_new_entry(stored, monkeypatch):
    client = logged_in(support_member("ana"))
    listen(client, stored)
    later = heard()[0].at + LISTEN_WINDOW + timedelta(seconds=1)
    monkeypatch.setattr("audit.record.timezone.now", lambda: later)

    listen(client, stored)

    assert len(heard()) == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent requests need a server database"
)
def test_range_requests_at_the_same_moment_leave_one_entry(stored):
    user = support_member("ana")
    statuses: list[int] = []

    def play() -> None:
        try:
            statuses.append(listen(logged_in(user), stored, HTTP_RANGE="bytes=0-99").status_code)
        finally:
            connection.close()

    players = [Thread(target=play) for _ in range(6)]
    for player in players:
        player.start()
    for player in players:
        player.join()

    assert statuses == [206] * 6
    assert len(heard()) == 1


def test_every_download_leaves_an_entry(stored):
    user = support_member("dan")
    user.user_permissions.add(Permission.objects.get(codename="download_recording"))
    client = logged_in(user)
    url = reverse("admin:recordings_recording_download", args=[stored.pk])

    for _ in range(2):
        response = client.get(url, REMOTE_ADDR=WHERE)
        b"".join(response.streaming_content)

    downloads = AuditEntry.objects.filter(action=AuditEntry.Action.RECORDING_DOWNLOADED)
    assert [(entry.username, entry.ip, entry.detail) for entry in downloads] == [
        ("dan", WHERE, "rec_heard")
    ] * 2


def test_refused_or_missing_audio_leaves_no_entry(stored):
    support = logged_in(support_member("sam"))
    support.get(reverse("admin:recordings_recording_download", args=[stored.pk]))  # 403
    Recording.objects.filter(pk=stored.pk).update(audio_state=AudioState.PRUNED)
    listen(support, stored)  # 404

    assert not AuditEntry.objects.filter(action__startswith="recording.").exists()


def test_the_calls_page_says_who_listened(stored):
    listen(logged_in(support_member("ana")), stored)
    call = Call.objects.get(minivoice_id="call_123")

    page = logged_in(support_member("sam")).get(reverse("admin:calls_call_change", args=[call.pk]))

    assert "Listened to a recording (rec_heard) by <strong>ana</strong> at" in page.content.decode()
