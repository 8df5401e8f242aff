"""Publishing a flow, rolling it back, importing and exporting it: the flows' services.

Publishing freezes the draft into a new numbered version and makes it live in one
transaction, or refuses with every error the checks find. Every change to what callers
get raises `FlowsRevision`, so each process replaces its kept copy (`calls.flows.live`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from calls.flows.checks import Checked, check_flow
from calls.flows.document import FlowDocument, read_document
from calls.flows.drafts import draft_document, draft_replace
from calls.models import Flow, FlowsRevision, FlowVersion
from calls.protocol.actions import Problem


class PublishRefused(ValueError):
    """The flow has errors; `checked` holds them all (and the warnings)."""

    def __init__(self, checked: Checked) -> None:
        self.checked = checked
        super().__init__("; ".join(str(problem) for problem in checked.errors))


@dataclass(frozen=True)
class Imported:
    flow: Flow
    created: bool
    version: FlowVersion | None  # when published


def flow_check(*, document: FlowDocument, flow: Flow | None = None) -> Checked:
    """The checks of a flow document, and its clashes with the other flows' live
    versions (a number two flows answer, a second default)."""
    checked = check_flow(document)
    clashes = _clashes(document, flow)
    return Checked(checked.errors + tuple(clashes), checked.warnings)


def flow_publish(*, flow: Flow, by=None) -> FlowVersion:
    """Freeze the draft into the next version and make it live; PublishRefused if the
    checks find errors (nothing is stored then)."""
    with transaction.atomic():
        flow = Flow.objects.select_for_update().get(pk=flow.pk)
        document = draft_document(flow)
        checked = flow_check(document=document, flow=flow)
        if not checked.can_publish:
            raise PublishRefused(checked)
        number = (flow.versions.aggregate(last=Max("number"))["last"] or 0) + 1
        version = flow.versions.create(
            number=number, document=document.as_json(), published_by=by, published_at=timezone.now()
        )
        flow.go_live(version, by=by, at=version.published_at)
        flow.save()
        FlowsRevision.raise_revision()
    return version


def flow_rollback(*, version: FlowVersion, by=None) -> None:
    """Make an older version live again (its own document, as published)."""
    with transaction.atomic():
        flow = Flow.objects.select_for_update().get(pk=version.flow_id)
        clashes = _clashes(read_document(version.document), flow)
        if clashes:
            raise PublishRefused(Checked(tuple(clashes), ()))
        flow.go_live(version, by=by, at=timezone.now())
        flow.save()
        FlowsRevision.raise_revision()


def flow_draft_saved(*, flow: Flow) -> None:
    """A draft was edited (or its flow deleted): its test numbers may have changed, and
    they reach it at once."""
    flows_changed()


def flows_changed() -> None:
    """Every process reads the flows again before answering a call's first request."""
    FlowsRevision.raise_revision()


def flow_import(*, document: FlowDocument, publish: bool = False, by=None) -> Imported:
    """The document as the draft of the flow with its name (a new flow if none), and
    published with `publish`. All or nothing: a refused publish stores no draft either."""
    with transaction.atomic():
        flow = Flow.objects.select_for_update().filter(name=document.name).first()
        created = flow is None
        if created:
            flow = Flow(name=document.name)
        draft_replace(flow, document)
        FlowsRevision.raise_revision()
        version = flow_publish(flow=flow, by=by) if publish else None
    return Imported(flow=flow, created=created, version=version)


def flow_export(*, flow: Flow, live: bool = False) -> dict:
    """The flow as a document: its draft, or with `live` the version callers get."""
    if live:
        if flow.live_version is None:
            raise ValueError(f"flow {flow.name!r} has no live version yet")
        return flow.live_version.document
    return draft_document(flow).as_json()


def _clashes(document: FlowDocument, flow: Flow | None) -> list[Problem]:
    others = Flow.objects.exclude(live_version=None).select_related("live_version")
    if flow is not None and flow.pk is not None:
        others = others.exclude(pk=flow.pk)
    problems = []
    for other in others:
        live = other.live_version.document
        taken = set(live.get("numbers", []))
        for index, number in enumerate(document.numbers):
            if number in taken:
                problems.append(
                    Problem(f"numbers[{index}]", f"{number} is answered by flow {other.name!r}")
                )
        if document.default and live.get("default"):
            problems.append(Problem("default", f"flow {other.name!r} is the default already"))
    return problems
