"""Audio in an S3-compatible bucket (AUDIO_STORAGE=s3, through django-storages), for real:
moto's S3 server runs as a process of its own on loopback, the storage is configured from
the same environment variables production sets (minivoice_site.env.envaudiostorage), and
the audio comes from the emulator's API over real HTTP. Nothing here is mocked: a wrong
setting, a key the bucket refuses or a half-written object shows up as it would in
production."""

from __future__ import annotations

import hashlib
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from email.message import Message
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from calls.tests.console_data import logged_in, support_member
from minivoice_site.env import envaudiostorage
from recordings import storage
from recordings.fetching import recording_fetch_audio, recordings_fetch_again
from recordings.models import AudioState, Recording
from recordings.tests.conftest import completed_event

pytestmark = pytest.mark.django_db

REGION = "eu-west-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "moto-test-key", "AWS_SECRET_ACCESS_KEY": "moto-test-secret"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server (`moto[server]`) on a free loopback port, for this module."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto's server did not start on {url}")
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def bucket(s3_endpoint, settings, monkeypatch):
    """A new, empty bucket; the app's default storage pointed at it as production is:
    AUDIO_STORAGE=s3 and the AWS_* variables, read by the settings' own helper."""
    name = f"recordings-{uuid.uuid4().hex[:12]}"
    for variable, value in {
        **CREDENTIALS,
        "AUDIO_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": name,
        "AWS_S3_ENDPOINT_URL": s3_endpoint,
        "AWS_S3_REGION_NAME": REGION,
    }.items():
        monkeypatch.setenv(variable, value)
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    settings.STORAGES = {**settings.STORAGES, "default": envaudiostorage()}
    return Bucket(client=client, name=name)


class Bucket:
    def __init__(self, *, client, name: str) -> None:
        self.client, self.name = client, name

    def keys(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.name)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def unfinished_uploads(self) -> list:
        return self.client.list_multipart_uploads(Bucket=self.name).get("Uploads", [])


def fetch(url: str, **headers) -> tuple[int, Message, bytes]:
    """A GET over real HTTP that does not follow redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_completed_recording_is_fetched_into_the_bucket_with_its_size_and_sha256(
    emulator, bucket, post_webhook
):
    emulator.add_recording("rec_s3", seconds=4, spoken=[(0.5, "Thank you for calling")])

    post_webhook(completed_event("rec_s3", seconds=4))

    recording = Recording.objects.get(minivoice_id="rec_s3")
    assert recording.audio_state == AudioState.STORED, recording.audio_error
    assert recording.audio_key == storage.audio_key("rec_s3", "wav")
    assert bucket.keys() == [recording.audio_key]
    stored = bucket.read(recording.audio_key)
    assert stored == emulator.media("rec_s3")
    assert recording.audio_size_bytes == len(stored) == 44 + 16000 * 4
    assert recording.audio_sha256 == hashlib.sha256(stored).hexdigest()
    assert emulator.stored_files() == []  # nothing went to MEDIA_ROOT instead


def test_audio_larger_than_one_upload_part_arrives_whole(emulator, bucket, post_webhook):
    # 10 minutes of phone audio (9.6 MB) is past boto3's 8 MB multipart threshold: the
    # upload goes in parts, and only a finished upload makes an object.
    emulator.add_recording("rec_long", seconds=600)

    post_webhook(completed_event("rec_long", seconds=600))

    recording = Recording.objects.get(minivoice_id="rec_long")
    assert recording.audio_state == AudioState.STORED, recording.audio_error
    head = bucket.client.head_object(Bucket=bucket.name, Key=recording.audio_key)
    assert head["ContentLength"] == recording.audio_size_bytes == 44 + 16000 * 600
    assert recording.audio_sha256 == emulator.sha256("rec_long")
    assert bucket.unfinished_uploads() == []


@pytest.mark.parametrize("fault", ["truncated", "size-mismatch"])
def test_a_failed_download_leaves_nothing_in_the_bucket(emulator, bucket, post_webhook, fault):
    emulator.add_recording("rec_cut", seconds=600)
    emulator.fault(f"rec_cut={fault}")

    post_webhook(completed_event("rec_cut", seconds=600))

    recording = Recording.objects.get(minivoice_id="rec_cut")
    assert recording.audio_state == AudioState.UNAVAILABLE
    assert recording.audio_tries == 3
    assert (recording.audio_key, recording.audio_sha256) == ("", "")
    assert bucket.keys() == []
    assert bucket.unfinished_uploads() == []


def test_a_bucket_that_refuses_the_upload_leaves_the_reason_and_no_object(
    emulator, bucket, post_webhook, settings
):
    missing = f"{bucket.name}-gone"
    options = {**settings.STORAGES["default"]["OPTIONS"], "bucket_name": missing}
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": options},
    }
    emulator.add_recording("rec_refused")

    post_webhook(completed_event("rec_refused"))

    recording = Recording.objects.get(minivoice_id="rec_refused")
    assert recording.audio_state == AudioState.UNAVAILABLE
    assert "Could not write the audio to storage" in recording.audio_error
    assert "NoSuchBucket" in recording.audio_error
    assert bucket.keys() == []


def test_a_retry_replaces_its_own_object_and_no_other(emulator, bucket, post_webhook):
    for recording_id in ("rec_a", "rec_b"):
        emulator.add_recording(recording_id)
        post_webhook(completed_event(recording_id))
    other = Recording.objects.get(minivoice_id="rec_b")
    before = bucket.read(other.audio_key)
    first = Recording.objects.get(minivoice_id="rec_a")
    Recording.objects.filter(pk=first.pk).update(audio_state=AudioState.UNAVAILABLE)

    recordings_fetch_again(recordings=Recording.objects.filter(pk=first.pk))
    assert recording_fetch_audio(recording_pk=first.pk).state == AudioState.STORED

    assert bucket.keys() == sorted([first.audio_key, other.audio_key])
    assert bucket.read(other.audio_key) == before
    assert bucket.read(first.audio_key) == emulator.media("rec_a")


def test_support_listens_through_a_short_lived_link_that_honours_ranges(
    emulator, bucket, post_webhook
):
    emulator.add_recording("rec_listen", seconds=2)
    post_webhook(completed_event("rec_listen", seconds=2))
    recording = Recording.objects.get(minivoice_id="rec_listen")
    support = logged_in(support_member("sam"))

    response = support.get(reverse("admin:recordings_recording_audio", args=[recording.pk]))

    assert response.status_code == 302
    link = response["Location"]
    assert link.startswith(f"{bucket.client.meta.endpoint_url}/{bucket.name}/recordings/")
    query = parse_qs(urlsplit(link).query)
    assert query["X-Amz-Expires"] == ["300"]  # short-lived: AWS_QUERYSTRING_EXPIRE's default
    assert query["response-content-disposition"][0].startswith("inline;")
    assert "no-cache" in response["Cache-Control"]  # a new link each time, never a stale one

    status, headers, body = fetch(link, Range="bytes=100-199")
    assert status == 206
    assert headers["Content-Range"] == "bytes 100-199/32044"
    assert body == emulator.media("rec_listen")[100:200]
    assert headers["Content-Type"] == "audio/wav"

    unsigned = link.split("?", 1)[0]
    assert fetch(unsigned)[0] == 403  # the bucket is private: only a signed link opens it


def test_support_may_not_download_and_the_link_is_never_handed_out(emulator, bucket, post_webhook):
    emulator.add_recording("rec_keep")
    post_webhook(completed_event("rec_keep"))
    recording = Recording.objects.get(minivoice_id="rec_keep")

    response = logged_in(support_member("sam")).get(
        reverse("admin:recordings_recording_download", args=[recording.pk])
    )

    assert response.status_code == 403
    assert "Location" not in response


def test_a_superuser_downloads_through_a_link_that_says_attachment(
    emulator, bucket, post_webhook, admin_client
):
    emulator.add_recording("rec_dl")
    post_webhook(completed_event("rec_dl"))
    recording = Recording.objects.get(minivoice_id="rec_dl")

    response = admin_client.get(reverse("admin:recordings_recording_download", args=[recording.pk]))

    assert response.status_code == 302
    status, headers, body = fetch(response["Location"])
    assert status == 200
    assert headers["Content-Disposition"].startswith("attachment;")
    assert hashlib.sha256(body).hexdigest() == recording.audio_sha256


def test_audio_gone_from_the_bucket_is_said_plainly(emulator, bucket, post_webhook):
    emulator.add_recording("rec_vanished")
    post_webhook(completed_event("rec_vanished"))
    recording = Recording.objects.get(minivoice_id="rec_vanished")
    bucket.client.delete_object(Bucket=bucket.name, Key=recording.audio_key)

    response = logged_in(support_member("sam")).get(
        reverse("admin:recordings_recording_audio", args=[recording.pk])
    )

    assert response.status_code == 404
    assert response.content == b"This recording's audio is missing from storage."


@pytest.mark.parametrize(
    ("environment", "said"),
    [
        ({"AUDIO_STORAGE": "s3"}, "AUDIO_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME"),
        ({"AUDIO_STORAGE": "ftp"}, "AUDIO_STORAGE must be filesystem or s3 (got 'ftp')"),
        (
            {"AUDIO_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "b", "AWS_QUERYSTRING_EXPIRE": "0"},
            "AWS_QUERYSTRING_EXPIRE must be at least 1",
        ),
    ],
)
def test_a_bad_storage_setting_is_a_clear_start_up_error(monkeypatch, environment, said):
    for variable in ("AWS_STORAGE_BUCKET_NAME", "AWS_QUERYSTRING_EXPIRE"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)

    with pytest.raises(ImproperlyConfigured, match=re.escape(said)):
        envaudiostorage()


def test_the_filesystem_is_the_default(monkeypatch):
    monkeypatch.delenv("AUDIO_STORAGE", raising=False)

    assert envaudiostorage() == {"BACKEND": "django.core.files.storage.FileSystemStorage"}
