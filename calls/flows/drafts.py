"""A flow's draft (its own fields and its step rows) read as a flow document, and written
from one."""

from __future__ import annotations

from calls.flows.document import FlowDocument, read_document
from calls.models import Flow, FlowStep


def draft_document(flow: Flow) -> FlowDocument:
    """The draft as a document; DocumentError if its rows do not make one."""
    return read_document(draft_json(flow))


def draft_json(flow: Flow) -> dict:
    """The draft in the document's shape, as stored (not checked)."""
    return {
        "name": flow.name,
        "numbers": flow.numbers,
        "default": flow.is_default,
        "requires_consent": flow.requires_consent,
        "first_step": flow.first_step,
        "test_numbers": flow.test_numbers,
        "steps": {
            step.name: {
                key: value
                for key, value in (
                    ("actions", step.actions),
                    ("next", step.next),
                    ("consent", step.consent),
                )
                if value or key == "actions"
            }
            for step in flow.steps.order_by("position", "pk")
        },
    }


def draft_of(flow_id: int) -> FlowDocument | None:
    """A flow's draft by id, read now (drafts change at any moment: never kept)."""
    flow = Flow.objects.filter(pk=flow_id).first()
    return None if flow is None else draft_document(flow)


def draft_replace(flow: Flow, document: FlowDocument) -> None:
    """Make the flow's draft say exactly `document` (fields and steps), in the caller's
    transaction."""
    flow.name = document.name
    flow.numbers = list(document.numbers)
    flow.is_default = document.default
    flow.requires_consent = document.requires_consent
    flow.first_step = document.first_step
    flow.test_numbers = list(document.test_numbers)
    flow.save()
    flow.steps.all().delete()
    FlowStep.objects.bulk_create(
        FlowStep(
            flow=flow,
            name=step.name,
            position=position,
            actions=step.actions,
            next=step.next,
            consent=step.consent,
        )
        for position, step in enumerate(document.steps.values())
    )
