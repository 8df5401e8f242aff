"""The console's browser tests' `page`: Chromium at 1400 px (calls/tests/browser.py)."""

from __future__ import annotations

import pytest

from calls.tests.browser import chromium_page, csp_complaints


@pytest.fixture
def page(monkeypatch, tmp_path):
    """A Chromium tab that fails its test if the Content-Security-Policy blocked anything
    on the pages it saw, and keeps a screenshot of the last one in the test's tmp_path."""
    with chromium_page(monkeypatch) as tab:
        complaints = csp_complaints(tab)
        try:
            yield tab
            assert complaints == []
        finally:
            tab.screenshot(path=tmp_path / "last-page.png", full_page=True)
