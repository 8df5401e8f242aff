"""Two-factor sign-in to the admin (django-otp, TOTP): optional for staff, required for
superusers when MINIVOICE_REQUIRE_2FA is on.

A staff member with a confirmed TOTP device (added by a superuser in the admin, under
"TOTP devices", or with `manage.py add_totp_device USERNAME`) signs in with the password
and the six-digit code of their authenticator app; one without a device, with the
password alone, unless they are a superuser and the setting is on: then no sign-in
without a device, and a superuser signed in without a code (before the setting was turned
on) is signed out at their next request. A wrong code counts as a failed sign-in for
django-axes, so codes cannot be guessed faster than passwords.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import logout
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django_otp import devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm

NO_DEVICE = (
    "Superusers sign in with a two-factor code, and this account has no authenticator "
    "set up yet: ask another superuser to add a TOTP device for it, or run "
    "`manage.py add_totp_device USERNAME` on the server."
)


def two_factor_required(user) -> bool:
    return bool(user.is_superuser and settings.MINIVOICE_REQUIRE_2FA)


class TwoFactorLoginForm(OTPAdminAuthenticationForm):
    """The admin's sign-in form (`admin.site.login_form`): the password, and a code for
    an account that has a device (or must have one)."""

    otp_error_messages = {
        **OTPAdminAuthenticationForm.otp_error_messages,
        "token_required": "This account signs in with the code of its authenticator app: "
        "enter the six digits it shows.",
        "invalid_token": "That code is not the one the authenticator shows now: try again.",
    }
    otp_token = forms.CharField(
        required=False,
        label="Authentication code",
        help_text="The six digits of your authenticator app, if your account has one.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean(self):
        self.cleaned_data = AdminAuthenticationForm.clean(self)  # the password first
        user = self.get_user()
        if user is None:
            return self.cleaned_data
        devices = list(devices_for_user(user))  # confirmed ones
        if not devices:
            if two_factor_required(user):
                self._failed(user)
                raise forms.ValidationError(NO_DEVICE, code="no_device")
            return self.cleaned_data
        if not self.cleaned_data.get("otp_device") and len(devices) == 1:
            # One device: no need to ask which (django-otp asks otherwise).
            self.cleaned_data["otp_device"] = devices[0].persistent_id
        try:
            self.clean_otp(user)
        except forms.ValidationError:
            self._failed(user)
            raise
        return self.cleaned_data

    def _failed(self, user) -> None:
        """Counted as a failed sign-in (django-axes listens), like a wrong password."""
        user_login_failed.send(
            sender=type(self),
            credentials={"username": user.get_username()},
            request=self.request,
        )


class RequireTwoFactorMiddleware:
    """With MINIVOICE_REQUIRE_2FA on, a superuser's session that was not verified with a
    code is ended, and they are sent to sign in again (after django-otp's middleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.MINIVOICE_REQUIRE_2FA:
            user = request.user
            if user.is_authenticated and two_factor_required(user) and not user.is_verified():
                logout(request)
                login = reverse("admin:login")
                return HttpResponseRedirect(f"{login}?{urlencode({'next': request.path})}")
        return self.get_response(request)
