from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from calls.flows.document import DocumentError, FlowDocument, read_document
from calls.flows.publishing import PublishRefused, flow_check, flow_export, flow_import
from calls.models import Flow
from calls.protocol.actions import Problem

MAX_BYTES = 1024 * 1024


class Command(BaseCommand):
    help = (
        "Call flows as files (the flow document: calls/flows/document.py). `export NAME` "
        "or `export --all` prints flows as JSON; `import FILE` makes each flow in the file "
        "its flow's draft (a new flow if the name is new), and publishes it with "
        "--publish; `check FILE` runs the checks publishing runs and prints every problem "
        "with its path. Exit 1 when a file has errors (nothing is stored then), 2 for a "
        "bad argument."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(
            dest="action", required=True, metavar="ACTION", help="export, import or check"
        )
        export = actions.add_parser(
            "export", help="Print a flow (or every flow, as a JSON array) as a flow document."
        )
        export.add_argument("name", nargs="?", metavar="NAME", help="The flow's name.")
        export.add_argument("--all", action="store_true", help="Every flow, as a JSON array.")
        export.add_argument(
            "--live",
            action="store_true",
            help="The live version callers get, rather than the draft.",
        )
        imported = actions.add_parser(
            "import", help="Make a file's flow (or flows) the draft; --publish makes it live."
        )
        imported.add_argument("file", metavar="FILE", help="A flow document, or - for stdin.")
        imported.add_argument(
            "--publish",
            action="store_true",
            help="Publish as well (refused, storing nothing, if the checks find errors).",
        )
        check = actions.add_parser(
            "check", help="Check a file's flow (or flows); exit 1 on errors."
        )
        check.add_argument("file", metavar="FILE", help="A flow document, or - for stdin.")

    def handle(self, *args, action: str, **options) -> None:
        # Not `check`: BaseCommand's own runs Django's system checks.
        {"export": self.export_flows, "import": self.import_flows, "check": self.check_flows}[
            action
        ](**options)

    # -- export -------------------------------------------------------------------------

    def export_flows(self, *, name: str | None, all: bool, live: bool, **options) -> None:
        if bool(name) == all:
            raise CommandError("Give a flow's NAME or --all (not both).", returncode=2)
        if all:
            flows = list(Flow.objects.select_related("live_version").order_by("pk"))
        else:
            flows = list(Flow.objects.select_related("live_version").filter(name=name))
            if not flows:
                raise CommandError(f"No flow is named {name!r}.", returncode=2)
        try:
            documents = [flow_export(flow=flow, live=live) for flow in flows]
        except (ValueError, DocumentError) as exc:
            raise CommandError(f"Cannot export: {exc}.", returncode=1) from None
        self.stdout.write(json.dumps(documents if all else documents[0], indent=2))

    # -- import and check ---------------------------------------------------------------

    def import_flows(self, *, file: str, publish: bool, **options) -> None:
        documents = self._documents(file)
        if not self._report(documents):
            raise CommandError("Not imported: the file has errors.", returncode=1)
        for document in documents:
            try:
                done = flow_import(document=document, publish=publish)
            except PublishRefused as refused:
                for problem in refused.checked.errors:
                    self.stdout.write(f"error    {problem}")
                raise CommandError(
                    f"Not imported: {document.name!r} cannot be published.", returncode=1
                ) from None
            what = f"published as v{done.version.number}" if done.version else "saved as its draft"
            self.stdout.write(
                self.style.SUCCESS(
                    f"{'New flow' if done.created else 'Flow'} {document.name!r}: {what}."
                )
            )

    def check_flows(self, *, file: str, **options) -> None:
        documents = self._documents(file)
        if not self._report(documents):
            raise CommandError(
                "Invalid: the file has errors; publishing would refuse it.", returncode=1
            )
        self.stdout.write(self.style.SUCCESS(f"Valid: {len(documents)} flow(s) can be published."))

    def _report(self, documents: list[FlowDocument]) -> bool:
        """Print every problem of every flow; True if none is an error."""
        ok = True
        for document in documents:
            flow = Flow.objects.filter(name=document.name).first()
            checked = flow_check(document=document, flow=flow)
            prefix = f"{document.name}: " if len(documents) > 1 else ""
            for problem in checked.errors:
                self.stdout.write(f"error    {prefix}{problem}")
            for problem in checked.warnings:
                self.stdout.write(f"warning  {prefix}{problem}")
            ok = ok and checked.can_publish
        return ok

    def _documents(self, file: str) -> list[FlowDocument]:
        """The file's flows (one document, or an array of them); exit 1 with every
        problem of shape, with its path."""
        raw = self._read(file)
        try:
            data = json.loads(raw, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            raise CommandError(f"{file} is not JSON ({exc}).", returncode=1) from None
        many = isinstance(data, list)
        problems: list[Problem] = []
        documents = []
        for index, item in enumerate(data if many else [data]):
            try:
                documents.append(read_document(item))
            except DocumentError as refused:
                where = f"[{index}]." if many else ""
                problems += [Problem(where + p.path, p.message) for p in refused.problems]
        if many and not data:
            problems.append(Problem("<file>", "an empty array: no flow in it"))
        if problems:
            for problem in problems:
                self.stdout.write(f"error    {problem}")
            raise CommandError(
                f"{file} is not a flow document: {len(problems)} error(s).", returncode=1
            )
        return documents

    def _read(self, file: str) -> bytes:
        try:
            if file == "-":
                raw = sys.stdin.buffer.read(MAX_BYTES + 1)
            else:
                with open(file, "rb") as handle:
                    raw = handle.read(MAX_BYTES + 1)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.", returncode=2) from None
        if len(raw) > MAX_BYTES:
            raise CommandError(f"{file} is larger than 1 MiB: not a flow file.", returncode=2)
        return raw


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")
