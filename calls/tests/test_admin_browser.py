"""Support staff's path through the admin, in a real browser (Debian's Chromium).

A person signs in, finds a call by its id, reads its recording and opens the events
MiniVoice sent about it.
"""

from __future__ import annotations

import json
import shutil

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from playwright.sync_api import Page, expect, sync_playwright

from conftest import WEBHOOK_URL, minivoice_event, signed

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Flags for a sandboxed, offline machine: no phoning home, no GPU, root allowed.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page(monkeypatch, tmp_path):
    # Playwright's sync API runs an event loop in this thread. Data is set up before it
    # starts (fixtures listed before `page`): a query made inside it would use a
    # connection Django's clean-up cannot see, which keeps the test database open.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            page.screenshot(path=tmp_path / "last-page.png", full_page=True)
            browser.close()


@pytest.fixture
def support_user(transactional_db):
    return get_user_model().objects.create_superuser("support", password="a-long-passphrase")


def _deliver(payload: dict) -> None:
    body = json.dumps(payload).encode()
    response = Client().post(
        WEBHOOK_URL, data=body, content_type="application/json", **signed(body)
    )
    assert response.status_code == 202, response.content


@pytest.fixture
def call_with_a_recording(transactional_db):
    _deliver(minivoice_event("recording.started", recording_id="rec_call_123", status="started"))
    _deliver(
        minivoice_event(
            "recording.completed",
            created_at="2026-05-29T12:00:40Z",
            recording_id="rec_call_123",
            status="completed",
            duration_seconds=28,
        )
    )


@pytest.mark.django_db(transaction=True)
def test_support_finds_a_call_and_reads_its_recording_and_events(
    support_user, call_with_a_recording, live_server, page: Page
):
    page.goto(f"{live_server.url}/")
    page.fill("#id_username", "support")
    page.fill("#id_password", "a-long-passphrase")
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_contain_text("MiniVoice support")

    page.locator("#calls-call").get_by_role("link", name="Calls").click()
    page.fill("#searchbar", "rec_call_123")  # a recording id finds its call
    page.press("#searchbar", "Enter")
    page.click("#result_list >> text=call_123")

    recordings = page.locator(".inline-group")
    expect(recordings).to_contain_text("rec_call_123")
    expect(recordings).to_contain_text("Completed")

    page.click("text=2 event(s)")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#result_list")).to_contain_text("recording.completed")
    expect(page.locator("#result_list")).to_contain_text("Processed")
