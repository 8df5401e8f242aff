"""The admin's door: login throttling, idle sessions, security headers, two-factor
sign-in (minivoice_site/security.py and two_factor.py hold their code)."""

from __future__ import annotations

from datetime import timedelta

from csp.constants import NONE, SELF

from minivoice_site.env import (
    envbool,
    envint,
)
from minivoice_site.settings.base import INSTALLED_APPS, LOGGING, MIDDLEWARE

# -- The admin's door: login throttling, idle sessions, security headers -----------------
# Kept in one block (README, "Settings"); minivoice_site/security.py holds its code.
# django-axes: failed logins are counted per account and per address; this many lock
# both for MINIVOICE_LOGIN_LOCKOUT_MINUTES (a failure while locked starts the wait again),
# and every attempt is logged (logger "axes"). The locked-out page is
# templates/admin/locked_out.html, answered 429. `manage.py axes_reset_username NAME`
# (or axes_reset_ip ADDRESS) lifts a lock early.
INSTALLED_APPS += ["axes"]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked account or address
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("MINIVOICE_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=envint("MINIVOICE_LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_RESET_ON_SUCCESS = True  # a person who mistypes now and then never adds up to a lock
# The log names the account and the address (axes masks them by default): what a person
# looking into a lock needs. Passwords are never logged.
AXES_SENSITIVE_PARAMETERS: list[str] = []
# The address a login comes from: the socket's peer, or behind TRUSTED_PROXY_COUNT proxies
# the address the nearest of them was reached from (X-Forwarded-For, right to left).
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0, minimum=0)
AXES_CLIENT_IP_CALLABLE = "minivoice_site.security.client_ip"

# Idle staff are signed out: a session lasts this long after its last request.
SESSION_COOKIE_AGE = envint("MINIVOICE_SESSION_IDLE_MINUTES", 30, minimum=1) * 60
SESSION_SAVE_EVERY_REQUEST = True

# Security headers: on every page (HTML), a Content-Security-Policy (django-csp) that
# allows scripts, styles, audio and requests from this origin only (no inline script, no
# inline style: the console's are static files) and frames from nowhere; on every answer,
# X-Frame-Options: DENY, Referrer-Policy and Permissions-Policy (minivoice_site.security).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "media-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
MIDDLEWARE += [
    "minivoice_site.security.DocumentCSPMiddleware",  # django-csp's, on HTML pages
    "minivoice_site.security.PermissionsPolicyMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the locked-out page.
    "axes.middleware.AxesMiddleware",
]
# django-axes says which version it runs at every start: noise in every command's output.
LOGGING["loggers"]["axes.apps"] = {"level": "WARNING"}

# -- Two-factor sign-in (django-otp, TOTP): minivoice_site/two_factor.py -----------------
# Optional for staff (a confirmed TOTP device asks for its code at sign-in), required for
# superusers when MINIVOICE_REQUIRE_2FA is on.
INSTALLED_APPS += ["django_otp", "django_otp.plugins.otp_totp"]
_after_auth = MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1
MIDDLEWARE[_after_auth:_after_auth] = [
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified()
    "minivoice_site.two_factor.RequireTwoFactorMiddleware",
]
MINIVOICE_REQUIRE_2FA = envbool("MINIVOICE_REQUIRE_2FA", False)
OTP_TOTP_ISSUER = "MiniVoice support"
