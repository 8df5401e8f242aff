from __future__ import annotations

import base64
import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from calls.flows.examples import CONSENT_IVR, example_flow_ensure

LOCAL_ADMIN = "admin"


class Command(BaseCommand):
    help = (
        "Prepare a laptop checkout (run by `make run`): generate a local webhook secret "
        "when none is set, create a local admin with a random password, printed once, and "
        "load the shipped consent IVR (calls/flows/examples/consent-ivr.json) as a "
        "published flow unless a flow of its name exists."
    )
    # This command is what fixes the missing secret the checks warn about: warning about
    # it first would only print the warning once more on a laptop's first `make run`.
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--secret-only",
            action="store_true",
            help="Only generate the webhook secret (needs no database): `make run` does "
            "this before `migrate`, so no command warns about a secret about to exist.",
        )
        parser.add_argument(
            "--url",
            default="",
            help="Where the app will be served, e.g. http://127.0.0.1:8000: prints where "
            "to sign in, and with which account.",
        )

    def handle(self, *args, secret_only: bool, url: str, **options) -> None:
        self._ensure_webhook_secret()
        if secret_only:
            return
        created = self._ensure_local_admin()
        self._ensure_example_flow()
        if url:
            self._print_banner(url.rstrip("/"), created_admin=created)

    def _print_banner(self, url: str, *, created_admin: bool) -> None:
        who = (
            "sign in with the user and password above"
            if created_admin
            else "sign in as your superuser"
        )
        self.stdout.write("")
        self.stdout.write(f"  Admin:    {url}/admin/   ({who})")
        self.stdout.write(f"  Webhooks: {url}/minivoice/webhooks/")
        self.stdout.write(f"  Answer:   {url}/minivoice/answer/")
        self.stdout.write("")

    def _ensure_example_flow(self) -> None:
        ensured = example_flow_ensure()
        if ensured.loaded:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Flow {ensured.name!r}: loaded from {CONSENT_IVR.name} and published "
                    f"as v{ensured.version}, answering {', '.join(ensured.numbers)}."
                )
            )
        else:
            self.stdout.write(f"Flow {ensured.name!r}: {ensured.why_not}.")

    def _ensure_webhook_secret(self) -> None:
        path = settings.DEV_WEBHOOK_SECRET_FILE
        secrets_in_use = settings.MINIVOICE_WEBHOOK_SECRETS
        if secrets_in_use:
            in_file = path.read_text(errors="replace").split() if path.is_file() else []
            from_file = in_file == secrets_in_use
            source = path if from_file else "MINIVOICE_WEBHOOK_SECRET"
            self.stdout.write(f"Webhook secret: already set ({source}).")
            return
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Created private (0600) from the start, never readable by others even briefly.
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(secret + "\n")
        except OSError as exc:
            raise CommandError(f"Could not write the webhook secret to {path}: {exc}") from None
        self.stdout.write(self.style.SUCCESS(f"Webhook secret: generated into {path}."))

    def _ensure_local_admin(self) -> bool:
        """Create the local admin unless a superuser exists; True when it was created."""
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write(
                "Admin: a superuser exists already "
                "(forgot the password? `python manage.py changepassword admin`)."
            )
            return False
        username = LOCAL_ADMIN
        if User.objects.filter(username=username).exists():
            # Someone made a plain user of that name: leave it alone, pick another.
            username = f"{LOCAL_ADMIN}-{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username, email="", password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Admin: created user {username!r} with password {password} (shown only this once)."
            )
        )
        return True
