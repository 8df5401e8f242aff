"""A Support member listens to a call's recording in a real browser (Debian's Chromium)
against a live server: the player on the call's timeline plays the stored audio and
seeks in it, which only works because the audio view answers Range requests.

The call's page with its player, at 1400 px, lands in artifacts/call-page-player.png.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from calls.models import Call
from calls.tests.browser import ARTIFACTS
from calls.tests.console_data import PASSWORD, send_call, support_member
from recordings.models import AudioState, Recording

PROMPT = "Thank you for calling. This call is recorded for quality and training."

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def listened_call(emulator, post_answer, post_webhook) -> Call:
    """A call whose 11-second recording completed and whose audio is stored; and Sam,
    a member of Support."""
    emulator.add_recording(
        "rec_call_listen", call_id="call_listen", seconds=11, spoken=[(0.5, PROMPT)]
    )
    call = send_call(post_answer, post_webhook, call_id="call_listen", recording="completed")
    assert Recording.objects.get(call=call).audio_state == AudioState.STORED
    support_member("sam")
    return call


def test_support_plays_a_recording_on_the_calls_page_and_seeks_in_it(
    listened_call, live_server, page: Page
):
    audio_answers: list[int] = []
    page.on(
        "response",
        lambda response: (
            audio_answers.append(response.status) if "/audio/" in response.url else None
        ),
    )
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "sam")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.goto(live_server.url + reverse("admin:calls_call_change", args=[listened_call.pk]))

    player = page.locator("#mv-entries audio.mv-player")
    expect(player).to_have_count(1)
    page.wait_for_function("a => a.readyState >= 1 && a.duration > 10", arg=player.element_handle())
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "call-page-player.png", full_page=True)

    player.evaluate("a => a.play()")
    player.evaluate("a => { a.currentTime = 7; }")
    page.wait_for_function("a => !a.seeking && a.currentTime >= 7.2", arg=player.element_handle())

    assert player.evaluate("a => a.currentTime") >= 7.2  # reached past where it was sent
    assert player.evaluate("a => a.error") is None
    assert 206 in audio_answers  # the seek was served as a range
