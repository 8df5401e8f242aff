"""Flows shipped as files, for a laptop to answer with at once: the issue's consent IVR
(`consent-ivr.json`, on +15550199). `make run` loads them through `dev_setup`; `migrate`
never does, so a deployment keeps answering as it did.

`example_flow_ensure` is idempotent: a flow of the file's name, once there, is left as it
is (a person may have changed it since), and a file whose numbers another flow answers
is not loaded, with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from calls.flows.document import DocumentError, read_document
from calls.flows.publishing import PublishRefused, flow_import
from calls.models import Flow

CONSENT_IVR = Path(__file__).resolve().parent / "consent-ivr.json"


@dataclass(frozen=True)
class Ensured:
    name: str
    loaded: bool  # True: imported and published now
    why_not: str = ""  # when not loaded: there already, or refused and why
    version: int | None = None
    numbers: tuple[str, ...] = ()


def example_flow_ensure(*, path: Path = CONSENT_IVR) -> Ensured:
    """Import and publish the file's flow unless a flow of its name exists."""
    try:
        document = read_document(json.loads(path.read_text()))
    except (OSError, ValueError, DocumentError) as exc:
        return Ensured(name=path.name, loaded=False, why_not=f"cannot read {path}: {exc}")
    if Flow.objects.filter(name=document.name).exists():
        return Ensured(name=document.name, loaded=False, why_not="there already, left as it is")
    try:
        imported = flow_import(document=document, publish=True)
    except PublishRefused as refused:
        return Ensured(name=document.name, loaded=False, why_not=f"not loaded: {refused}")
    return Ensured(
        name=document.name,
        loaded=True,
        version=imported.version.number,
        numbers=tuple(document.numbers),
    )
