"""The admin's door: failed sign-ins lock an account and an address for a while (django-axes),
idle sessions end, and every page carries the security headers. The browser's side of the
Content-Security-Policy is test_admin_csp_browser.py."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from calls.tests.console_data import PASSWORD, logged_in, support_member
from minivoice_site.security import client_ip

LOGIN_URL = "/admin/login/?next=/admin/"


def _sign_in(client: Client, username: str, password: str, *, address: str = "127.0.0.1"):
    return client.post(LOGIN_URL, {"username": username, "password": password}, REMOTE_ADDR=address)


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# -- Failed sign-ins ---------------------------------------------------------------------


@pytest.mark.django_db
def test_six_failed_sign_ins_lock_the_sixth_even_with_the_right_password(client, caplog):
    support_member("ana")
    caplog.set_level(logging.WARNING)

    answers = [_sign_in(client, "ana", f"wrong-{n}") for n in range(5)]
    locked = _sign_in(client, "ana", PASSWORD)

    assert [answer.status_code for answer in answers[:4]] == [200] * 4  # the form, again
    assert answers[4].status_code == 429  # the fifth failure locks
    assert locked.status_code == 429
    assert not _signed_in(client)
    # A page of its own that says what happened and for how long, not a bare 403.
    assert "admin/locked_out.html" in [template.name for template in locked.templates]
    page = locked.content.decode()
    assert "Sign-in locked for now" in page
    assert "after 5 wrong passwords" in page
    assert "15 minutes" in page
    # Logged, naming the account and the address.
    lockouts = [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("axes") and "Locking out" in record.getMessage()
    ]
    assert lockouts
    assert all('"ana"' in message and '"127.0.0.1"' in message for message in lockouts)


@pytest.mark.django_db
def test_a_locked_account_is_locked_from_another_address_and_the_address_for_another_account(
    client,
):
    support_member("ana")
    support_member("ben")
    for n in range(5):
        _sign_in(client, "ana", f"wrong-{n}", address="203.0.113.7")

    assert _sign_in(Client(), "ana", PASSWORD, address="198.51.100.1").status_code == 429
    assert _sign_in(Client(), "ben", PASSWORD, address="203.0.113.7").status_code == 429
    # Another account from another address is not held up.
    other = Client()
    assert _sign_in(other, "ben", PASSWORD, address="198.51.100.1").status_code == 302
    assert _signed_in(other)


@pytest.mark.django_db
def test_the_lock_lifts_once_the_wait_has_passed(client):
    support_member("ana")
    for n in range(5):
        _sign_in(client, "ana", f"wrong-{n}")
    assert _sign_in(client, "ana", PASSWORD).status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    assert _sign_in(client, "ana", PASSWORD).status_code == 302
    assert _signed_in(client)


@pytest.mark.django_db
def test_a_successful_sign_in_forgets_the_failures_before_it(client):
    support_member("ana")
    for n in range(4):
        _sign_in(client, "ana", f"wrong-{n}")
    assert _sign_in(client, "ana", PASSWORD).status_code == 302
    client.post("/admin/logout/")

    for n in range(4):
        assert _sign_in(client, "ana", f"again-{n}").status_code == 200

    assert _sign_in(client, "ana", PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("proxies", "meta", "expected"),
    [
        (0, {"REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_FOR": "10.9.9.9"}, "192.0.2.1"),
        (1, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 192.0.2.1"}, "192.0.2.1"),
        (
            2,
            {"REMOTE_ADDR": "10.0.0.3", "HTTP_X_FORWARDED_FOR": "192.0.2.1, 10.0.0.2"},
            "192.0.2.1",
        ),
        (1, {"REMOTE_ADDR": "10.0.0.2"}, "10.0.0.2"),
    ],
    ids=["no-proxy-ignores-the-header", "one-proxy", "two-proxies", "proxy-sent-nothing"],
)
def test_the_address_a_sign_in_comes_from_is_one_a_client_cannot_choose(
    rf, settings, proxies, meta, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_ip(rf.post("/admin/login/", **meta)) == expected


# -- Idle sessions -----------------------------------------------------------------------


@pytest.mark.django_db
def test_an_idle_session_ends_and_an_active_one_goes_on(client):
    support_member("ana")
    assert _sign_in(client, "ana", PASSWORD).status_code == 302
    session = Session.objects.get()
    assert session.expire_date - timezone.now() <= timedelta(minutes=30)

    # Each request pushes the end back (SESSION_SAVE_EVERY_REQUEST).
    Session.objects.update(expire_date=timezone.now() + timedelta(minutes=1))
    assert client.get("/admin/").status_code == 200
    assert Session.objects.get().expire_date > timezone.now() + timedelta(minutes=29)

    # Thirty minutes with no request: signed out.
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    answer = client.get("/admin/")
    assert answer.status_code == 302
    assert answer["Location"].startswith("/admin/login/")


# -- Security headers --------------------------------------------------------------------


def _assert_security_headers(answer) -> None:
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in answer["Content-Security-Policy"].split(";")
        if directive.strip()
    )
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert "unsafe-inline" not in answer["Content-Security-Policy"]
    assert answer["X-Frame-Options"] == "DENY"
    assert answer["Referrer-Policy"] == "same-origin"
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert "camera=()" in answer["Permissions-Policy"]
    assert "microphone=()" in answer["Permissions-Policy"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/admin/", "/admin/calls/call/", "/admin/calls/flow/", "/admin/recordings/recording/"]
)
def test_admin_pages_carry_the_security_headers(path):
    answer = logged_in(support_member("ana")).get(path)
    assert answer.status_code == 200
    _assert_security_headers(answer)


@pytest.mark.django_db
def test_the_sign_in_and_locked_out_pages_carry_the_security_headers(client):
    _assert_security_headers(client.get(LOGIN_URL))
    for n in range(6):
        answer = _sign_in(client, "nobody", f"wrong-{n}")
    assert answer.status_code == 429
    _assert_security_headers(answer)


@pytest.mark.django_db
def test_minivoice_s_json_answers_carry_no_page_policy(post_webhook):
    # A policy governs what a rendered page may load; MiniVoice's JSON answers are spared
    # the cost of building one.
    answer = post_webhook({"event": "call.ringing", "call": {"id": "call_1"}, "data": {}})
    assert answer.status_code == 202
    assert "Content-Security-Policy" not in answer
    assert answer["X-Frame-Options"] == "DENY"
