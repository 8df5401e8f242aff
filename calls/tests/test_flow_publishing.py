"""Publishing (calls.flows.publishing): numbered immutable versions made live in one
transaction, refused with every error, and rollback to any older version."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from calls.flows.document import read_document
from calls.flows.publishing import (
    PublishRefused,
    flow_import,
    flow_publish,
    flow_rollback,
)
from calls.models import Flow, FlowsRevision
from calls.tests.flow_data import main_line, main_line_published

pytestmark = pytest.mark.django_db


def revision() -> int:
    return FlowsRevision.objects.get().revision


def test_publishing_numbers_the_versions_and_says_who_and_when():
    editor = User.objects.create_user("editor")
    imported = flow_import(document=read_document(main_line()))

    first = flow_publish(flow=imported.flow, by=editor)
    second = flow_publish(flow=imported.flow, by=editor)

    flow = Flow.objects.get(pk=imported.flow.pk)
    assert (first.number, second.number) == (1, 2)
    assert flow.live_version == second
    assert (second.published_by, flow.live_set_by) == (editor, editor)
    assert second.published_at == flow.live_since
    assert second.document == main_line()


def test_a_refused_publish_stores_nothing_and_says_every_error():
    imported = main_line_published()
    step = imported.flow.steps.get(name="greeting")
    step.actions = [{"start_recording": {}}, *step.actions]
    step.next = {"1": "nowhere"}
    step.save()
    before = revision()

    with pytest.raises(PublishRefused) as refused:
        flow_publish(flow=imported.flow)

    paths = {problem.path for problem in refused.value.checked.errors}
    assert {"steps.greeting.next.1", "steps.greeting.next"} <= paths
    assert "steps.greeting.actions[0].start_recording" in paths
    flow = Flow.objects.get(pk=imported.flow.pk)
    assert flow.live_version.number == 1
    assert flow.versions.count() == 1
    assert revision() == before


def test_the_draft_changes_nothing_callers_get_until_published():
    imported = main_line_published()
    step = imported.flow.steps.get(name="goodbye")
    step.actions = [{"hangup": {}}]
    step.save()

    assert Flow.objects.get(pk=imported.flow.pk).live_version.document == main_line()


def test_rollback_makes_an_older_version_live_again_and_tells_every_process():
    imported = main_line_published()
    flow_publish(flow=imported.flow)
    before = revision()

    flow_rollback(version=imported.version)

    assert Flow.objects.get(pk=imported.flow.pk).live_version == imported.version
    assert revision() == before + 1


def test_two_flows_cannot_answer_one_number():
    main_line_published()

    with pytest.raises(PublishRefused) as refused:
        flow_import(document=read_document(main_line(name="Copy")), publish=True)

    assert str(refused.value) == "numbers[0]: +15550199 is answered by flow 'Main line'"
    assert not Flow.objects.filter(name="Copy").exists()
