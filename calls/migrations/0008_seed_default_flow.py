"""The seed's test flow as the default published flow, so that a new database answers
every number exactly as before flows existed (start_recording, say, stop_recording).

A frozen copy of the document: what this migration creates must not change when the
app's code does.
"""

from django.db import migrations
from django.utils import timezone

SEED_DOCUMENT = {
    "name": "default",
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


def seed(apps, schema_editor):
    Flow = apps.get_model("calls", "Flow")
    FlowsRevision = apps.get_model("calls", "FlowsRevision")
    revision, _ = FlowsRevision.objects.get_or_create(pk=1)
    if Flow.objects.exists():
        return
    flow = Flow.objects.create(name="default", is_default=True, first_step="start")
    flow.steps.create(name="start", actions=SEED_DOCUMENT["steps"]["start"]["actions"])
    now = timezone.now()
    version = flow.versions.create(number=1, document=SEED_DOCUMENT, published_at=now)
    flow.live_version = version
    flow.live_since = now
    flow.save()
    revision.revision += 1
    revision.save()


class Migration(migrations.Migration):
    dependencies = [("calls", "0007_flows")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
