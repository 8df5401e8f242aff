"""The flow a new database answers every number with: the seed's test flow, exactly the
actions every call got before flows existed (MiniVoice's page: "Return start_recording,
say, and stop_recording").

The data migration that creates it keeps its own frozen copy; `seed_flow_ensure` makes it
again after a database is flushed (tests), only when there is no flow at all.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from calls.models import REVISION_ROW, Flow, FlowsRevision

DEFAULT_FLOW = "default"

SEED_DOCUMENT = {
    "name": DEFAULT_FLOW,
    "numbers": [],
    "default": True,
    "requires_consent": False,
    "first_step": "start",
    "test_numbers": [],
    "steps": {
        "start": {
            "actions": [
                {"start_recording": {}},
                {
                    "say": {
                        "text": "Thank you for calling. This call is recorded for quality "
                        "and training."
                    }
                },
                {"stop_recording": {}},
            ]
        }
    },
}


def seed_flow_ensure(*, using: str = "default") -> None:
    """The revision row, and the seed flow published as the default if no flow exists."""
    with transaction.atomic(using=using):
        FlowsRevision.objects.using(using).get_or_create(pk=REVISION_ROW)
        if Flow.objects.using(using).exists():
            return
        flow = Flow.objects.using(using).create(
            name=DEFAULT_FLOW, is_default=True, first_step="start"
        )
        step = SEED_DOCUMENT["steps"]["start"]
        flow.steps.create(name="start", actions=step["actions"])
        version = flow.versions.create(
            number=1, document=SEED_DOCUMENT, published_at=timezone.now()
        )
        flow.go_live(version, by=None, at=version.published_at)
        flow.save()
        FlowsRevision.objects.using(using).filter(pk=REVISION_ROW).update(
            revision=F("revision") + 1
        )


def on_post_migrate(sender, *, using: str = "default", **kwargs) -> None:
    """After migrate, and after a test flushes the database: answer as a new one does."""
    if sender.label == "calls":
        seed_flow_ensure(using=using)
