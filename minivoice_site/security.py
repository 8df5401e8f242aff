"""The admin's door: which address a login attempt comes from (django-axes locks by it),
the Content-Security-Policy on pages and the Permissions-Policy header. The rest is
settings (minivoice_site/settings/door.py): django-axes, django-csp,
Django's own security headers."""

from __future__ import annotations

from collections.abc import Callable

from csp.middleware import CSPMiddleware
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

# Powerful browser features no page of the console uses, turned off for every origin:
# a page that is somehow made to run a script of someone else's still cannot use them.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in [
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    ]
)


def client_ip(request: HttpRequest) -> str | None:
    """The address a request comes from, as django-axes counts failed logins by it.

    With no proxy in front (`TRUSTED_PROXY_COUNT` 0), the socket's peer: a client cannot
    choose it, so an `X-Forwarded-For` it sends changes nothing. Behind N proxies, each
    of which appends the address it was reached from, the Nth address from the right of
    `X-Forwarded-For` (the left part is the client's to write, and never trusted); with
    fewer addresses than that, the peer.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [
            address.strip()
            for address in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if address.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


class DocumentCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, for the documents a browser renders (HTML) only.

    A policy governs what a page may load and run; a JSON answer to MiniVoice, an audio
    file or the live poll's JSON runs nothing. django-csp builds the header anew for every
    response (some 80 µs), which MiniVoice's requests, the app's busiest, are spared.
    """

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        return super().process_response(request, response)


class PermissionsPolicyMiddleware:
    """Sends `Permissions-Policy` (Django sets the other security headers itself)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
