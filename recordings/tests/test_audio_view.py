"""Listening to and downloading a recording's audio through the admin: staff only, a
permission each (Support listens, does not download), HTTP Range honoured so a player can
seek, and every bad request answered with its status, never a 500."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from calls.models import Call
from calls.tests.console_data import logged_in, support_member
from recordings.models import AudioState, Recording
from recordings.tests.conftest import completed_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(emulator, post_webhook) -> Recording:
    emulator.add_recording("rec_ok", seconds=2, spoken=[(0.2, "Thank you for calling")])
    post_webhook(completed_event("rec_ok", seconds=2))
    recording = Recording.objects.get(minivoice_id="rec_ok")
    assert recording.audio_state == AudioState.STORED
    return recording


@pytest.fixture
def support() -> Client:
    return logged_in(support_member("sam"))


def audio_url(recording: Recording, *, download: bool = False) -> str:
    name = "download" if download else "audio"
    return reverse(f"admin:recordings_recording_{name}", args=[recording.pk])


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_support_hears_the_whole_audio_as_stored(emulator, stored, support):
    response = support.get(audio_url(stored))

    assert response.status_code == 200
    assert body(response) == emulator.media("rec_ok")
    assert response["Content-Type"] == "audio/wav"
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Length"] == str(44 + 2 * 16000)
    assert response["Content-Disposition"].startswith("inline;")
    assert "private" in response["Cache-Control"]


@pytest.mark.parametrize(
    ("header", "content_range", "start", "end"),
    [
        ("bytes=0-9", "bytes 0-9/32044", 0, 10),
        ("bytes=32000-", "bytes 32000-32043/32044", 32000, 32044),
        ("bytes=-4", "bytes 32040-32043/32044", 32040, 32044),
        ("bytes=30000-99999999", "bytes 30000-32043/32044", 30000, 32044),
        ("bytes=10-19, 40-49", "bytes 10-19/32044", 10, 20),
    ],
)
def test_a_range_gets_206_with_exactly_the_bytes_asked_for(
    emulator, stored, support, header, content_range, start, end
):
    response = support.get(audio_url(stored), HTTP_RANGE=header)

    assert response.status_code == 206
    assert response["Content-Range"] == content_range
    assert body(response) == emulator.media("rec_ok")[start:end]
    assert response["Content-Length"] == str(end - start)


@pytest.mark.parametrize(
    "header", ["bytes=99999999-", "bytes=9-1", "pages=1-2", "bytes=-0", "bytes=abc", "bytes=-"]
)
def test_a_range_that_cannot_be_served_gets_416_with_the_size(stored, support, header):
    response = support.get(audio_url(stored), HTTP_RANGE=header)

    assert response.status_code == 416
    assert response["Content-Range"] == "bytes */32044"


def test_support_may_not_download(stored, support):
    assert support.get(audio_url(stored, download=True)).status_code == 403


def test_someone_with_the_download_permission_gets_an_attachment(emulator, stored):
    user = support_member("lead")
    user.user_permissions.add(Permission.objects.get(codename="download_recording"))

    response = logged_in(user).get(audio_url(stored, download=True))

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert body(response) == emulator.media("rec_ok")


def test_staff_without_the_listen_permission_get_403(stored):
    user = get_user_model().objects.create_user("visitor", password="x" * 12, is_staff=True)

    assert logged_in(user).get(audio_url(stored)).status_code == 403


@pytest.mark.parametrize("who", ["anonymous", "not staff"])
def test_no_one_signed_out_or_outside_staff_hears_anything(stored, who):
    client = Client()
    if who == "not staff":
        user = get_user_model().objects.create_user("customer", password="x" * 12)
        user.user_permissions.add(Permission.objects.get(codename="listen_recording"))
        client.force_login(user)

    response = client.get(audio_url(stored))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_audio_not_stored_is_404_in_words(emulator, post_webhook, support):
    emulator.add_recording("rec_gone")
    emulator.fault("rec_gone=404")
    post_webhook(completed_event("rec_gone"))
    recording = Recording.objects.get(minivoice_id="rec_gone")

    response = support.get(audio_url(recording))

    assert response.status_code == 404
    assert response.content == b"This recording's audio is not stored here (audio unavailable)."


def test_an_unknown_recording_is_404(support):
    assert support.get(reverse("admin:recordings_recording_audio", args=[999])).status_code == 404


def test_audio_gone_from_storage_is_404_not_500(emulator, stored, support):
    (emulator.media_root / stored.audio_key).unlink()

    response = support.get(audio_url(stored))

    assert response.status_code == 404
    assert b"missing from storage" in response.content


def test_the_recordings_page_plays_for_support_and_offers_no_download(stored, support):
    page = support.get(reverse("admin:recordings_recording_change", args=[stored.pk]))

    assert page.status_code == 200
    assert (
        f'<audio class="mv-player" controls preload="metadata" src="{audio_url(stored)}"'.encode()
        in page.content
    )
    assert b"mv-download" not in page.content


def test_the_calls_timeline_plays_the_recording_at_its_entry(stored, support):
    call = Call.objects.get(minivoice_id="call_123")

    page = support.get(reverse("admin:calls_call_change", args=[call.pk]))

    assert page.status_code == 200
    assert page.content.count(f'src="{audio_url(stored)}"'.encode()) == 1


def test_the_calls_timeline_says_why_audio_is_unavailable(emulator, post_webhook, support):
    emulator.add_recording("rec_gone")
    emulator.fault("rec_gone=404")
    post_webhook(completed_event("rec_gone"))
    call = Call.objects.get(minivoice_id="call_123")

    page = support.get(reverse("admin:calls_call_change", args=[call.pk]))

    assert b"audio unavailable" in page.content
    assert b"<audio" not in page.content
