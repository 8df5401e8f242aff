"""Two-factor sign-in (minivoice_site/two_factor.py, django-otp TOTP): optional for staff,
required for superusers when MINIVOICE_REQUIRE_2FA is on; and `add_totp_device`."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from calls.tests.console_data import PASSWORD, support_member

LOGIN_URL = "/admin/login/?next=/admin/"

pytestmark = pytest.mark.django_db


def _code(device: TOTPDevice) -> str:
    """The code an authenticator app shows now."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def _sign_in(client, username: str, *, code: str = "", password: str = PASSWORD):
    answer = client.post(LOGIN_URL, {"username": username, "password": password, "otp_token": code})
    return answer, "_auth_user_id" in client.session


def test_staff_without_an_authenticator_sign_in_with_the_password_alone(client):
    support_member("ana")
    answer, signed_in = _sign_in(client, "ana")
    assert (answer.status_code, signed_in) == (302, True)


def test_staff_with_an_authenticator_need_its_code(client):
    user = support_member("ana")
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)

    answer, signed_in = _sign_in(client, "ana")
    assert (answer.status_code, signed_in) == (200, False)
    assert "This account signs in with the code of its authenticator app" in (
        answer.content.decode()
    )

    answer, signed_in = _sign_in(client, "ana", code=_code(device))
    assert (answer.status_code, signed_in) == (302, True)
    assert client.get("/admin/").status_code == 200


def test_a_wrong_code_counts_as_a_failed_sign_in(client):
    user = support_member("ana")
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)

    answer, signed_in = _sign_in(client, "ana", code="000000")

    assert (answer.status_code, signed_in) == (200, False)
    assert AccessAttempt.objects.get(username="ana").failures_since_start == 1


def test_the_sign_in_page_asks_for_the_code(client):
    assert 'name="otp_token"' in client.get(LOGIN_URL).content.decode()


def test_with_2fa_required_a_superuser_without_an_authenticator_cannot_sign_in(client, settings):
    settings.MINIVOICE_REQUIRE_2FA = True
    get_user_model().objects.create_superuser("root", password=PASSWORD)

    answer, signed_in = _sign_in(client, "root")

    assert (answer.status_code, signed_in) == (200, False)
    assert "no authenticator set up yet" in answer.content.decode()
    # Staff who are not superusers still may.
    support_member("ana")
    assert _sign_in(client, "ana")[1]


def test_with_2fa_required_a_superuser_signs_in_with_a_code(client, settings):
    settings.MINIVOICE_REQUIRE_2FA = True
    root = get_user_model().objects.create_superuser("root", password=PASSWORD)
    device = TOTPDevice.objects.create(user=root, name="phone", confirmed=True)

    answer, signed_in = _sign_in(client, "root", code=_code(device))

    assert (answer.status_code, signed_in) == (302, True)
    assert client.get("/admin/").status_code == 200


def test_with_2fa_required_a_superuser_signed_in_without_a_code_is_sent_back(client, settings):
    get_user_model().objects.create_superuser("root", password=PASSWORD)
    assert _sign_in(client, "root")[1]  # before the setting was turned on
    settings.MINIVOICE_REQUIRE_2FA = True

    answer = client.get("/admin/calls/call/")

    assert answer.status_code == 302
    assert answer["Location"] == "/admin/login/?next=%2Fadmin%2Fcalls%2Fcall%2F"
    assert "_auth_user_id" not in client.session


def test_add_totp_device_prints_a_key_whose_codes_sign_in(client):
    support_member("ana")
    out = StringIO()

    call_command("add_totp_device", "ana", stdout=out)

    key = re.search(r"key: ([A-Z2-7=]+)", out.getvalue())[1]
    assert "otpauth://totp/" in out.getvalue()
    device = TOTPDevice.objects.get(user__username="ana")
    assert key.rstrip("=") in out.getvalue()
    assert _sign_in(client, "ana", code=_code(device))[1]


@pytest.mark.parametrize(
    ("username", "message"),
    [("nobody", "No account is called 'nobody'"), ("plain", "is not staff")],
)
def test_add_totp_device_refuses_an_unknown_or_non_staff_account(username, message):
    get_user_model().objects.create_user("plain", password=PASSWORD)
    with pytest.raises(CommandError, match=message):
        call_command("add_totp_device", username)
    assert not TOTPDevice.objects.exists()


def test_a_superuser_shows_a_device_s_qr_code_to_scan(client):
    root = get_user_model().objects.create_superuser("root", password=PASSWORD)
    device = TOTPDevice.objects.create(user=support_member("ana"), name="phone", confirmed=True)
    client.force_login(root)

    answer = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/qrcode/")

    assert answer.status_code == 200
    assert answer["Content-Type"] == "image/svg+xml"
    assert answer.content.lstrip().startswith(b"<?xml")
