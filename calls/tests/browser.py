"""Debian's Chromium for the console's browser tests, at 1400 px as support staff see it.

Playwright's sync API runs an event loop in the test's thread. Data is set up before the
browser starts (fixtures listed before `page`): a query made inside it would use a
connection Django's clean-up cannot see, which keeps the test database open.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from playwright.sync_api import Page, sync_playwright

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
    # A script may start an audio player, as a click would.
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = Path(settings.BASE_DIR) / "artifacts"


@contextmanager
def chromium_page(monkeypatch) -> Iterator[Page]:
    """A fresh Chromium tab 1400 px wide, closed with its browser on the way out."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the event loop, above
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            browser.close()


def csp_complaints(page: Page) -> list[str]:
    """What the browser says, from now on, of what the Content-Security-Policy blocked (an
    inline script or style, a source from elsewhere): Chromium logs each to the console."""
    complaints: list[str] = []
    page.on(
        "console",
        lambda message: (
            complaints.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return complaints
