"""The audit trail's list as a Support lead reads it, in Chromium at 1400 px: a busy day's
entries (every kind of action) in a list that fits the window, each call a link.

A screenshot lands in artifacts/ (git-ignored)."""

from __future__ import annotations

import random

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from audit.models import AuditEntry
from audit.record import About, Actor, audit_record_each
from calls.tests.browser import ARTIFACTS
from calls.tests.console_data import support_lead
from calls.tests.test_admin_browser import _sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def trail(transactional_db) -> None:
    support_lead("lea")
    chance = random.Random(18)
    staff = [
        Actor(user_id=n, username=name, ip=f"203.0.113.{n}")
        for n, name in enumerate(["ana", "bo", "carmen", "dmitri-from-the-night-shift"], start=1)
    ]
    for action in AuditEntry.Action.values:
        audit_record_each(
            actor=chance.choice(staff),
            action=action,
            abouts=[
                About(
                    "calls.call",
                    str(n),
                    call_id=f"call_{chance.getrandbits(48):012x}",
                    detail=chance.choice(["", "numbers in full", "rec_01HZX4Y6Q8 (11 s)"]),
                )
                for n in range(12)
            ],
        )


def test_a_lead_reads_a_busy_trail_in_one_window_width(trail, live_server, page: Page):
    _sign_in(page, live_server, "lea")
    page.goto(live_server.url + reverse("admin:audit_auditentry_changelist"))

    expect(page.locator("#result_list tbody tr")).to_have_count(100)  # a page of them
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    results = page.locator(".results")
    assert results.evaluate("box => box.scrollWidth <= box.clientWidth")
    expect(page.locator("#result_list a[href*='by-id']").first).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "audit-list.png")  # the first screen, as read
