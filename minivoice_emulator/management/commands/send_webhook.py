from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from calls.protocol import contract
from calls.protocol.actions import is_http_url
from minivoice_emulator import payloads, transport

DEFAULT_URL = "http://127.0.0.1:8000/minivoice/webhooks/"


class Command(BaseCommand):
    help = (
        "Send one webhook signed like MiniVoice's to a running app, to try the intake "
        "by hand. Example: send_webhook recording.started --call-id call_123"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("event", help="Event type, for example recording.started.")
        parser.add_argument("--call-id", required=True, help="MiniVoice call id.")
        parser.add_argument(
            "--recording-id", help="Recording id (default: rec_<call id>) for recording.*."
        )
        parser.add_argument(
            "--data",
            default="{}",
            help='Extra JSON merged into "data", e.g. \'{"reason": "no media"}\'.',
        )
        parser.add_argument("--url", default=DEFAULT_URL, help=f"Default: {DEFAULT_URL}")
        parser.add_argument("--webhook-id", help="Default: a new msg_… id (reuse to resend).")

    def handle(self, *args, **options) -> None:
        if not settings.MINIVOICE_WEBHOOK_SECRETS:
            raise CommandError(
                "No webhook secret: set MINIVOICE_WEBHOOK_SECRET or run `manage.py dev_setup`."
            )
        try:
            extra = json.loads(options["data"])
        except ValueError as exc:
            raise CommandError(f"--data is not valid JSON: {exc}") from None
        if not isinstance(extra, dict):
            raise CommandError("--data must be a JSON object.")

        if not is_http_url(options["url"]):
            raise CommandError(
                f"--url must be an http:// or https:// URL (got {options['url']!r})."
            )
        webhook_id = options["webhook_id"] or payloads.new_webhook_id()
        if not (webhook_id.isascii() and webhook_id.isprintable() and " " not in webhook_id):
            raise CommandError("--webhook-id must be printable ASCII without spaces.")
        body = payloads.encode(_payload(options, extra))
        headers = payloads.signed_json_headers(
            body=body, secret=settings.MINIVOICE_WEBHOOK_SECRETS[0], webhook_id=webhook_id
        )
        try:
            reply = transport.post(options["url"], body=body, headers=headers, timeout=10)
        except transport.Unreachable as exc:
            raise CommandError(f"Could not reach {exc}. Is the app running (make run)?") from None
        answer = reply.body.decode(errors="replace")
        self.stdout.write(f"{options['event']} ({webhook_id}) → HTTP {reply.status}: {answer}")
        if reply.status >= 300:
            raise CommandError("The app refused the webhook; see its answer above.")


def _payload(options: dict, extra: dict) -> dict:
    call_id = options["call_id"]
    event = options["event"]
    data: dict = {}
    if event in contract.RECORDING_EVENTS:
        data.update(
            recording_id=options["recording_id"] or f"rec_{call_id}", status=event.split(".")[-1]
        )
    data.update(extra)
    return payloads.event_payload(
        event, call_id=call_id, created_at=timezone.now(), call_status="in_progress", **data
    )
