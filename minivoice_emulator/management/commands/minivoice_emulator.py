from __future__ import annotations

import errno

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from minivoice_emulator import api, voice

DEFAULT_PORT = 8900


class Command(BaseCommand):
    help = (
        "Serve MiniVoice's REST API on loopback (CONTRACT.md §3): recording metadata, each "
        "recording's media as a real WAV (with Range requests) and call data, behind "
        "Authorization: Bearer <MINIVOICE_API_KEY>. It knows the calls `simulate_call "
        "--api-url` plays against it. Stop it with Ctrl-C."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--port",
            type=int,
            default=DEFAULT_PORT,
            help=f"Port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one).",
        )
        parser.add_argument(
            "--api-key", help="The key clients must send (default: the MINIVOICE_API_KEY setting)."
        )
        parser.add_argument(
            "--fault",
            action="append",
            default=[],
            metavar="TARGET=KIND",
            help="Misbehave for tests: TARGET is a recording id or a share such as 25%%; "
            "KIND is "
            + "; ".join(f"{kind} ({said})" for kind, said in api.FAULT_KINDS.items())
            + ". Repeat for several.",
        )
        parser.add_argument(
            "--slow-seconds",
            type=float,
            default=15,
            help="How long a 'slow' fault waits before answering, and a 'stall-once' "
            "halfway through the media (default 15).",
        )
        parser.add_argument(
            "--seed", type=int, help="Seed for faults given as a share, to repeat a run."
        )
        parser.add_argument(
            "--verbose-log", action="store_true", help="Log every request on stderr."
        )

    def handle(self, *args, **options) -> None:
        port = options["port"]
        if not 0 <= port <= 65535:
            raise CommandError(f"--port must be from 0 to 65535 (got {port}).", returncode=2)
        api_key = options["api_key"] or settings.MINIVOICE_API_KEY
        if not api_key:
            raise CommandError("No API key: set MINIVOICE_API_KEY or pass --api-key.", returncode=2)
        if not 0 <= options["slow_seconds"] <= 600:
            raise CommandError("--slow-seconds must be from 0 to 600.", returncode=2)
        try:
            faults = [api.parse_fault(spec) for spec in options["fault"]]
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from None
        state = api.EmulatorState(
            api_key=api_key,
            faults=faults,
            slow_seconds=options["slow_seconds"],
            seed=options["seed"],
        )
        try:
            server = api.serve(
                host="127.0.0.1", port=port, state=state, quiet=not options["verbose_log"]
            )
        except OSError as exc:
            why = "the port is in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise CommandError(f"Cannot listen on 127.0.0.1:{port}: {why}.", returncode=2) from None
        self.stdout.write(f"MiniVoice emulator API on {server.url} (Ctrl-C to stop)")
        if not voice.can_speak():
            self.stderr.write(
                "espeak-ng or sox is missing (make audio-tools): recordings carry a tone "
                "where words were said."
            )
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
