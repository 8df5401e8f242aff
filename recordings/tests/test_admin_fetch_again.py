"""The admin's "Fetch the audio again" action: for those with
`recordings.fetch_recording` (Support does not have it), through the same task."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from calls.tests.console_data import logged_in, support_member
from recordings.models import AudioState, Recording
from recordings.tests.conftest import completed_event

# Transactional: the action asks for the fetch when its transaction commits.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def unavailable(emulator, post_webhook) -> Recording:
    emulator.add_recording("rec_late")
    emulator.fault("rec_late=404")
    post_webhook(completed_event("rec_late"))
    return Recording.objects.get(minivoice_id="rec_late")


def _fetch_again(client, pks: list[int]):
    return client.post(
        reverse("admin:recordings_recording_changelist"),
        {"action": "fetch_audio_again", "_selected_action": pks},
        follow=True,
    )


def test_someone_allowed_fetches_unavailable_audio_again(emulator, unavailable):
    user = support_member("oncall")
    user.user_permissions.add(Permission.objects.get(codename="fetch_recording"))
    emulator.state.faults = []

    response = _fetch_again(logged_in(user), [unavailable.pk])

    unavailable.refresh_from_db()
    assert unavailable.audio_state == AudioState.STORED
    messages = [str(message) for message in get_messages(response.wsgi_request)]
    assert messages == ["Asked for the audio of 1 recording(s) again."]


def test_support_is_not_offered_the_action_and_nothing_is_fetched(emulator, unavailable):
    client = logged_in(support_member("sam"))
    emulator.state.faults = []

    page = client.get(reverse("admin:recordings_recording_changelist"))
    response = _fetch_again(client, [unavailable.pk])

    assert b"fetch_audio_again" not in page.content
    assert response.status_code in (200, 403)
    unavailable.refresh_from_db()
    assert unavailable.audio_state == AudioState.UNAVAILABLE


def test_nothing_to_fetch_is_said_as_a_warning(emulator, post_webhook):
    emulator.add_recording("rec_ok")
    post_webhook(completed_event("rec_ok"))
    user = support_member("oncall")
    user.user_permissions.add(Permission.objects.get(codename="fetch_recording"))

    response = _fetch_again(logged_in(user), [Recording.objects.get().pk])

    messages = [str(message) for message in get_messages(response.wsgi_request)]
    assert messages[0].startswith("Nothing to fetch")
    assert Recording.objects.get().audio_tries == 1
