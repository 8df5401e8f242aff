"""The app's call flows as the emulator finds them: which flow a dialled number reaches,
and its document, to tell the verdict which steps the call should go through.

Read from the app's database through the same settings, as the verdict reads what the
app recorded; the documents are the app's published versions (and a draft's rows, for a
test number), in the flow document's documented shape. Nothing here is the app's
answering code: which number reaches which flow is read as MiniVoice's user would read
the flows' pages (a number listed on a flow's live version, else the default flow; a
test number listed on a flow, its draft).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from calls.models import Flow
from minivoice_emulator import paths

ANY_NUMBER = "+15550000"  # a number no shipped flow lists: the default flow answers it
CALLER = "+15550100"


class FlowNotPlayable(ValueError):
    """The flow asked for cannot be reached by a call (the reason is the message)."""


@dataclass(frozen=True)
class FlowToPlay:
    """A flow a call reaches, and the numbers that reach it."""

    name: str
    label: str  # "Main line v3", "Main line draft"
    document: dict = field(repr=False)
    to_number: str = ANY_NUMBER
    from_number: str = CALLER


def flow_named(name: str, *, draft: bool = False) -> FlowToPlay:
    """The flow of that name: its live version from its first number, or with `draft`
    its draft from its first test number; FlowNotPlayable says why not."""
    flow = Flow.objects.select_related("live_version").filter(name=name).first()
    if flow is None:
        raise FlowNotPlayable(
            f"No flow is named {name!r} (manage.py flows export --all lists them)."
        )
    live = flow.live_version.document if flow.live_version else None
    if draft:
        if not flow.test_numbers:
            raise FlowNotPlayable(
                f"Flow {name!r} has no test number: --draft cannot reach its draft."
            )
        numbers = (live or {}).get("numbers") or flow.numbers or [ANY_NUMBER]
        return FlowToPlay(
            name=name,
            label=f"{name} draft",
            document=_draft_document(flow),
            to_number=numbers[0],
            from_number=flow.test_numbers[0],
        )
    if live is None:
        raise FlowNotPlayable(f"Flow {name!r} is not published: try its draft with --draft.")
    if live.get("numbers"):
        to_number = live["numbers"][0]
    elif live.get("default"):
        to_number = ANY_NUMBER
    else:
        raise FlowNotPlayable(f"Flow {name!r} answers no number.")
    return FlowToPlay(
        name=name, label=f"{name} v{flow.live_version.number}", document=live, to_number=to_number
    )


def flow_for_call(*, from_number: str, to_number: str) -> FlowToPlay | None:
    """The flow a call between these numbers reaches; None if none does."""
    flows = list(Flow.objects.select_related("live_version").order_by("pk"))
    for flow in flows:
        if from_number in (flow.test_numbers or []):
            return FlowToPlay(
                flow.name, f"{flow.name} draft", _draft_document(flow), to_number, from_number
            )
    live = [flow for flow in flows if flow.live_version is not None]
    reaching = [flow for flow in live if to_number in flow.live_version.document.get("numbers", [])]
    reaching = reaching or [flow for flow in live if flow.live_version.document.get("default")]
    if not reaching:
        return None
    flow = reaching[0]
    label = f"{flow.name} v{flow.live_version.number}"
    return FlowToPlay(flow.name, label, flow.live_version.document, to_number, from_number)


def flow_using(action: str) -> FlowToPlay | None:
    """The first live flow (by name) some of whose steps run `action`, dialled on its
    first number; None if no live flow does."""
    for flow in Flow.objects.select_related("live_version").exclude(live_version=None):
        document = flow.live_version.document
        if paths.uses(document, action) and (document.get("numbers") or document.get("default")):
            return flow_named(flow.name)
    return None


def _draft_document(flow: Flow) -> dict:
    """The draft's rows in the document's shape (what the app answers a test number with)."""
    return {
        "name": flow.name,
        "first_step": flow.first_step,
        "steps": {
            step.name: {"actions": step.actions, "next": step.next, "consent": step.consent}
            for step in flow.steps.all()
        },
    }
