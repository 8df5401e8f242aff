from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from calls.protocol.actions import validate_payload

MAX_BYTES = 1024 * 1024


class Command(BaseCommand):
    stealth_options = ("stdin",)  # a stream in place of sys.stdin, for call_command
    help = (
        "Check an answer_url action payload with the app's own schema (calls/protocol/actions.py), "
        "as MiniVoice would: print every problem with its path, then exit 1 if it is "
        "invalid (warnings alone keep it valid). FILE is a JSON file, or - for stdin."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE", help="A JSON file, or - to read stdin.")

    def handle(self, *args, file: str, **options) -> None:
        raw = self._read(file, stdin=options.get("stdin"))
        try:
            payload = json.loads(raw, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            self.stdout.write(f"error  <payload>: not JSON ({exc})")
            raise CommandError("Invalid: the payload is not JSON.", returncode=1) from None
        validation = validate_payload(payload)
        for problem in validation.errors:
            self.stdout.write(f"error    {problem}")
        for problem in validation.warnings:
            self.stdout.write(f"warning  {problem}")
        if not validation.is_valid:
            raise CommandError(
                f"Invalid: {len(validation.errors)} error(s); MiniVoice would refuse it.",
                returncode=1,
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Valid: {len(payload['actions'])} action(s)"
                + (f", {len(validation.warnings)} warning(s)." if validation.warnings else ".")
            )
        )

    def _read(self, file: str, *, stdin=None) -> bytes:
        try:
            if file == "-":
                raw = (stdin or sys.stdin.buffer).read(MAX_BYTES + 1)
            else:
                with open(file, "rb") as handle:
                    raw = handle.read(MAX_BYTES + 1)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.", returncode=2) from None
        if len(raw) > MAX_BYTES:
            raise CommandError(f"{file} is larger than 1 MiB: not an action payload.", returncode=2)
        if isinstance(raw, str):
            raw = raw.encode()
        return raw


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")
