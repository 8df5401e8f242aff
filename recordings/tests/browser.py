"""Chromium for the recordings' browser tests (their `page` fixture is in conftest.py), as
calls/tests/test_admin_browser.py starts it, with autoplay allowed so a script may start
the player as a click would."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A script may start the player, as a click would.
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = Path(settings.BASE_DIR) / "artifacts"
