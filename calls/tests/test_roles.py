"""The Support group: made by migrate, reads everything and listens to recordings; changes,
deletes, replays and downloads nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from calls.models import AnswerExchange, Call, CallProblem, WebhookEvent
from calls.roles import (
    FLOW_EDITORS_CAN,
    FLOW_EDITORS_GROUP,
    SUPPORT_GROUP,
    SUPPORT_LEADS_GROUP,
    support_group_ensure,
    support_leads_group_ensure,
)
from calls.tests.console_data import logged_in, send_call, support_member
from recordings.models import Recording

VIEW_PERMISSIONS = {
    "calls.view_call",
    "calls.view_answerexchange",
    "calls.view_webhookevent",
    "calls.view_callproblem",
    "calls.view_flow",
    "calls.view_flowstep",
    "calls.view_flowversion",
    "recordings.view_recording",
    "recordings.listen_recording",
}


def _codes(group: Group) -> set[str]:
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


def test_migrate_leaves_a_support_group_that_may_only_view_and_listen(db):
    # The test database was built by migrate: the group is there without any set-up step.
    assert _codes(Group.objects.get(name=SUPPORT_GROUP)) == VIEW_PERMISSIONS


def test_making_the_group_again_restores_exactly_the_view_permissions(db):
    group = Group.objects.get(name=SUPPORT_GROUP)
    group.permissions.add(Permission.objects.get(codename="replay_webhookevent"))
    group.permissions.add(Permission.objects.get(codename="download_recording"))
    group.permissions.remove(Permission.objects.get(codename="view_call"))

    support_group_ensure()

    assert _codes(Group.objects.get(name=SUPPORT_GROUP)) == VIEW_PERMISSIONS
    assert Group.objects.filter(name=SUPPORT_GROUP).count() == 1


def test_migrate_leaves_a_support_leads_group_that_also_sees_numbers_and_the_audit_trail(db):
    codes = _codes(Group.objects.get(name=SUPPORT_LEADS_GROUP))

    assert codes == VIEW_PERMISSIONS | {"calls.view_full_numbers", "audit.view_auditentry"}


def test_making_the_leads_group_again_restores_exactly_its_permissions(db):
    group = Group.objects.get(name=SUPPORT_LEADS_GROUP)
    group.permissions.add(Permission.objects.get(codename="change_auditentry"))
    group.permissions.remove(Permission.objects.get(codename="view_full_numbers"))

    support_leads_group_ensure()

    assert "calls.view_full_numbers" in _codes(group)
    assert "audit.change_auditentry" not in _codes(group)


def test_migrate_leaves_a_flow_editors_group_that_edits_and_publishes_flows(db):
    codes = _codes(Group.objects.get(name=FLOW_EDITORS_GROUP))

    assert codes == {f"calls.{codename}" for codename in FLOW_EDITORS_CAN}
    assert "calls.publish_flow" in codes
    assert not {"calls.change_flowversion", "calls.delete_flowversion"} & codes


@pytest.fixture
def support(db, post_answer, post_webhook):
    send_call(post_answer, post_webhook, call_id="call_roles", recording="failed")
    return logged_in(support_member())


def _rows() -> dict[str, object]:
    call = Call.objects.get(minivoice_id="call_roles")
    return {
        "calls_call": call,
        "calls_answerexchange": AnswerExchange.objects.get(call=call),
        "calls_webhookevent": WebhookEvent.objects.filter(call_minivoice_id="call_roles").first(),
        "calls_callproblem": CallProblem.objects.get(call=call),
        "recordings_recording": Recording.objects.get(call=call),
    }


MODELS = [
    "calls_call",
    "calls_answerexchange",
    "calls_webhookevent",
    "calls_callproblem",
    "recordings_recording",
]


@pytest.mark.parametrize("model", MODELS)
def test_a_support_member_reads_every_list_and_page(support, model):
    obj = _rows()[model]
    assert support.get(reverse(f"admin:{model}_changelist")).status_code == 200
    response = support.get(reverse(f"admin:{model}_change", args=[obj.pk]))
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()


@pytest.mark.parametrize("model", MODELS)
def test_a_support_member_gets_403_on_add_change_and_delete(support, model):
    obj = _rows()[model]
    before = {name: getattr(obj, name) for name in ("pk", *_fields(obj))}
    change = reverse(f"admin:{model}_change", args=[obj.pk])
    delete = reverse(f"admin:{model}_delete", args=[obj.pk])

    assert support.get(reverse(f"admin:{model}_add")).status_code == 403
    assert support.post(reverse(f"admin:{model}_add"), {}).status_code == 403
    assert support.post(change, {"status": "failed", "_save": "Save"}).status_code == 403
    assert support.get(delete).status_code == 403
    assert support.post(delete, {"post": "yes"}).status_code == 403
    bulk_delete = {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}
    assert support.post(reverse(f"admin:{model}_changelist"), bulk_delete).status_code == 403

    obj.refresh_from_db()
    assert {name: getattr(obj, name) for name in ("pk", *_fields(obj))} == before


def _fields(obj) -> list[str]:
    return [field.attname for field in obj._meta.concrete_fields if field.attname != "updated_at"]


@pytest.mark.parametrize(
    ("model", "action"),
    [("calls_webhookevent", "replay_events"), ("calls_call", "replay_call_events")],
)
def test_a_support_member_gets_403_on_replay_and_nothing_is_sent(support, model, action):
    event = WebhookEvent.objects.filter(call_minivoice_id="call_roles").first()
    WebhookEvent.objects.filter(pk=event.pk).update(state=WebhookEvent.State.GAVE_UP)
    target = _rows()[model] if model == "calls_call" else event

    response = support.post(
        reverse(f"admin:{model}_changelist"),
        {"action": action, "_selected_action": [target.pk]},
    )

    assert response.status_code == 403
    event.refresh_from_db()
    assert event.state == WebhookEvent.State.GAVE_UP


def test_a_support_member_is_offered_no_actions(support):
    for model in ["calls_webhookevent", "calls_call"]:
        html = support.get(reverse(f"admin:{model}_changelist")).content.decode()
        assert 'name="action"' not in html
        assert "action-checkbox" not in html
