"""What callers get, kept in each process's memory so that answering costs no query.

Two things are kept. Published versions, by flow and number: they never change, so a
copy is right forever (a call's follow-ups name their version in the step token). And
which version answers which number (`Live`), with the flows' test numbers: that changes
with every publish, rollback or edit of test numbers, each of which raises
`FlowsRevision`. The answer_url reads that revision inside the statement that stores the
call anyway (`calls.rows.call_and_exchange_insert` stores nothing when it differs from
the one the answer was chosen with), so a stale copy is noticed at no cost and replaced
on the request's second path, which reads the revision (`revision_now`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from calls.flows.document import FlowDocument, read_document
from calls.models import REVISION_ROW, Flow, FlowsRevision, FlowVersion

# Versions kept per process; old ones are only asked for by calls still under way.
MAX_KEPT_VERSIONS = 256


@dataclass(frozen=True)
class Published:
    flow_id: int
    version: int
    document: FlowDocument


@dataclass(frozen=True)
class Live:
    """Which published version answers each dialled number, as of `revision`."""

    revision: int
    by_number: dict[str, Published]
    default: Published | None
    test_numbers: dict[str, int]  # caller's number → the flow whose draft it reaches

    def for_number(self, number: str) -> Published | None:
        return self.by_number.get(number, self.default)


_lock = threading.Lock()
_kept: dict[str, Live] = {}
_versions: dict[tuple[int, int], FlowDocument] = {}


def live_flows(*, revision: int | None = None) -> Live:
    """The numbers' flows; loaded again when `revision`, the database's (if known), is
    not the one the kept copy was loaded at."""
    live = _kept.get("live")
    if live is None or (revision is not None and revision != live.revision):
        live = _load_live()
        _kept["live"] = live
    return live


def revision_now() -> int:
    """The database's flows revision (one query: for the request's rare second path)."""
    return _revision()


def version_document(flow_id: int, number: int) -> FlowDocument | None:
    """A published version's document; None if there is no such version."""
    key = (flow_id, number)
    document = _versions.get(key)
    if document is None:
        stored = (
            FlowVersion.objects.filter(flow_id=flow_id, number=number)
            .values_list("document", flat=True)
            .first()
        )
        if stored is None:
            return None
        document = _keep(key, read_document(stored))
    return document


def forget() -> None:
    """Drop every kept copy (tests, whose database rolls back under the process)."""
    with _lock:
        _kept.clear()
        _versions.clear()


def _keep(key: tuple[int, int], document: FlowDocument) -> FlowDocument:
    with _lock:
        if len(_versions) >= MAX_KEPT_VERSIONS:
            _versions.clear()  # rare: the live ones come back on their next call
        _versions[key] = document
    return document


def _revision() -> int:
    value = FlowsRevision.objects.filter(pk=REVISION_ROW).values_list("revision", flat=True).first()
    return value or 0


def _load_live() -> Live:
    # The revision first: a publish between the two reads makes the copy newer than its
    # revision says, so it is loaded once more, never kept stale.
    revision = _revision()
    by_number: dict[str, Published] = {}
    default = None
    test_numbers: dict[str, int] = {}
    for flow in Flow.objects.select_related("live_version").order_by("pk"):
        for number in flow.test_numbers if isinstance(flow.test_numbers, list) else []:
            test_numbers.setdefault(str(number), flow.pk)
        version = flow.live_version
        if version is None:
            continue
        document = _keep((flow.pk, version.number), read_document(version.document))
        published = Published(flow_id=flow.pk, version=version.number, document=document)
        for number in document.numbers:
            by_number.setdefault(number, published)
        if document.default and default is None:
            default = published
    return Live(revision, by_number, default, test_numbers)
