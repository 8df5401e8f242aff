"""`manage.py add_totp_device USERNAME`: an authenticator for a staff account, from the
server, for the first superuser when MINIVOICE_REQUIRE_2FA is on (later ones can be added
in the admin, under "TOTP devices")."""

from __future__ import annotations

import base64

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = (
        "Add a TOTP authenticator to a staff account and print its key and otpauth:// URL "
        "for an authenticator app (shown once). From then on the account signs in to the "
        "admin with its password and the app's six-digit code."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", metavar="USERNAME", help="The staff account.")
        parser.add_argument(
            "--name",
            default="authenticator",
            help="What to call the device (default: %(default)s).",
        )

    def handle(self, *args, username: str, name: str, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No account is called {username!r}.", returncode=2)
        if not user.is_staff:
            raise CommandError(f"{username!r} is not staff: it cannot sign in to the admin.")
        device = TOTPDevice.objects.create(user=user, name=name[:64], confirmed=True)
        key = base64.b32encode(device.bin_key).decode()
        self.stdout.write(f"Added {device.name!r} to {username}. In the authenticator app:")
        self.stdout.write(f"  key: {key}")
        self.stdout.write(f"  URL: {device.config_url}")
