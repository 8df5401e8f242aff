from __future__ import annotations

import json
import uuid
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from calls import contract
from calls.actions import is_http_url
from calls.signatures import signed_headers

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
        webhook_id = options["webhook_id"] or f"msg_{uuid.uuid4().hex}"
        if not (webhook_id.isascii() and webhook_id.isprintable() and " " not in webhook_id):
            raise CommandError("--webhook-id must be printable ASCII without spaces.")
        body = json.dumps(_payload(options, extra)).encode()
        headers = signed_headers(
            body=body, secret=settings.MINIVOICE_WEBHOOK_SECRETS[0], webhook_id=webhook_id
        )
        request = Request(
            options["url"],
            data=body,
            method="POST",
            headers={**headers, "Content-Type": "application/json"},
        )
        status, answer = _send(request)
        self.stdout.write(f"{options['event']} ({webhook_id}) → HTTP {status}: {answer}")
        if status >= 300:
            raise CommandError("The app refused the webhook; see its answer above.")


def _payload(options: dict, extra: dict) -> dict:
    call_id = options["call_id"]
    event = options["event"]
    status = event.split(".")[-1]
    data: dict = {"call_id": call_id}
    if event in contract.RECORDING_EVENTS:
        data.update(recording_id=options["recording_id"] or f"rec_{call_id}", status=status)
    data.update(extra)
    return {
        "event": event,
        "created_at": timezone.now().isoformat().replace("+00:00", "Z"),
        "call": {"id": call_id, "status": "in_progress", "direction": "inbound"},
        "variables": {},
        "data": data,
    }


def _send(request: Request) -> tuple[int, str]:
    try:
        with urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(errors="replace")
    except HTTPError as exc:  # the app answered, with an error status
        return exc.code, exc.read().decode(errors="replace")
    except (URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CommandError(
            f"Could not reach {request.full_url}: {reason}. Is the app running (make run)?"
        ) from None
