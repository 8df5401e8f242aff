"""The console's acts on the audit trail: each replay, reprocess, publish, rollback, export
and viewing of numbers in full leaves exactly one entry, with who, what and from where;
the call's page lists what was done about it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from audit.models import AuditEntry
from calls.models import Call, WebhookEvent
from calls.roles import FLOW_EDITORS_GROUP
from calls.tests.console_data import logged_in, send_call, support_lead, support_member
from calls.tests.flow_data import main_line_published
from calls.tests.test_flow_admin import change_url, form_data

pytestmark = pytest.mark.django_db

WHERE = "203.0.113.9"


@pytest.fixture
def call(post_answer, post_webhook) -> Call:
    return send_call(post_answer, post_webhook, call_id="call_audit", recording="failed")


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("pk"))


def only_entry(action: str) -> AuditEntry:
    found = entries(action)
    assert len(found) == 1, found
    return found[0]


def test_replaying_an_event_leaves_one_entry_per_event_sent(call):
    user = support_member("oncall")
    user.user_permissions.add(Permission.objects.get(codename="replay_webhookevent"))
    event = WebhookEvent.objects.filter(call_minivoice_id="call_audit").first()
    WebhookEvent.objects.filter(pk=event.pk).update(state=WebhookEvent.State.GAVE_UP)
    done = WebhookEvent.objects.exclude(pk=event.pk).first()  # processed: not sent again

    logged_in(user).post(
        reverse("admin:calls_webhookevent_changelist"),
        {"action": "replay_events", "_selected_action": [event.pk, done.pk]},
        REMOTE_ADDR=WHERE,
    )

    entry = only_entry(AuditEntry.Action.EVENT_REPLAYED)
    assert (entry.user_id, entry.username, entry.ip) == (user.pk, "oncall", WHERE)
    assert (entry.object_type, entry.object_id) == ("calls.webhookevent", str(event.pk))
    assert entry.call_minivoice_id == "call_audit"
    assert entry.detail == event.event_type


def test_a_replay_that_sends_nothing_leaves_no_entry(call, admin_client):
    done = WebhookEvent.objects.filter(state=WebhookEvent.State.PROCESSED).first()

    admin_client.post(
        reverse("admin:calls_webhookevent_changelist"),
        {"action": "replay_events", "_selected_action": [done.pk]},
    )

    assert entries(AuditEntry.Action.EVENT_REPLAYED) == []


def test_reprocessing_a_calls_events_leaves_one_entry_for_the_call(call, admin_client, admin_user):
    WebhookEvent.objects.filter(call_minivoice_id="call_audit").update(
        state=WebhookEvent.State.FAILED
    )
    count = WebhookEvent.objects.filter(call_minivoice_id="call_audit").count()

    admin_client.post(
        reverse("admin:calls_call_changelist"),
        {"action": "replay_call_events", "_selected_action": [call.pk]},
        REMOTE_ADDR=WHERE,
    )

    entry = only_entry(AuditEntry.Action.CALL_REPROCESSED)
    assert (entry.username, entry.ip) == (admin_user.username, WHERE)
    assert (entry.object_type, entry.object_id) == ("calls.call", str(call.pk))
    assert entry.detail == f"{count} event(s) sent again"
    assert entries(AuditEntry.Action.EVENT_REPLAYED) == []


@pytest.fixture
def editor(db):
    user = support_member("eve")
    user.groups.add(Group.objects.get(name=FLOW_EDITORS_GROUP))
    return user


def test_publishing_a_flow_leaves_one_entry_with_its_version(editor):
    flow = main_line_published().flow

    logged_in(editor).post(
        change_url(flow), {**form_data(flow), "_publish": "1"}, REMOTE_ADDR=WHERE
    )

    entry = only_entry(AuditEntry.Action.FLOW_PUBLISHED)
    assert (entry.username, entry.ip) == ("eve", WHERE)
    assert (entry.object_type, entry.object_id) == ("calls.flow", str(flow.pk))
    assert entry.detail == "Main line: v2"


def test_a_refused_publish_leaves_no_entry(editor):
    flow = main_line_published().flow
    broken = {"greeting": {"next": '{"1": "nowhere"}'}}

    logged_in(editor).post(change_url(flow), {**form_data(flow, **broken), "_publish": "1"})

    assert entries(AuditEntry.Action.FLOW_PUBLISHED) == []


def test_rolling_a_flow_back_leaves_one_entry(editor):
    flow = main_line_published().flow
    client = logged_in(editor)
    client.post(change_url(flow), {**form_data(flow), "_publish": "1"})

    client.post(reverse("admin:calls_flow_rollback", args=[flow.pk, 1]), REMOTE_ADDR=WHERE)

    entry = only_entry(AuditEntry.Action.FLOW_ROLLED_BACK)
    assert (entry.username, entry.ip, entry.object_id) == ("eve", WHERE, str(flow.pk))
    assert entry.detail == "Main line: v1 live again"


def test_exporting_a_timeline_leaves_one_entry_saying_how_numbers_were_shown(call):
    support = logged_in(support_member("sam"))
    lead = logged_in(support_lead("lea"))
    url = reverse("admin:calls_call_timeline_json", args=[call.pk])

    support.get(url, REMOTE_ADDR=WHERE)
    lead.get(url)

    masked, full = entries(AuditEntry.Action.TIMELINE_EXPORTED)
    assert (masked.username, masked.ip, masked.detail) == ("sam", WHERE, "numbers masked")
    assert (full.username, full.detail) == ("lea", "numbers in full")
    assert masked.call_minivoice_id == full.call_minivoice_id == "call_audit"
    assert (masked.object_type, masked.object_id) == ("calls.call", str(call.pk))


def test_a_lead_opening_a_calls_page_leaves_one_entry_and_support_none(call):
    logged_in(support_member("sam")).get(reverse("admin:calls_call_change", args=[call.pk]))
    lead = logged_in(support_lead("lea"))

    lead.get(reverse("admin:calls_call_change", args=[call.pk]), REMOTE_ADDR=WHERE)
    lead.get(reverse("admin:calls_call_live", args=[call.pk]))  # the page's poll: not again

    entry = only_entry(AuditEntry.Action.NUMBERS_VIEWED)
    assert (entry.username, entry.ip, entry.call_minivoice_id) == ("lea", WHERE, "call_audit")


def test_the_calls_page_lists_what_was_done_about_it(call):
    lead = logged_in(support_lead("lea"))
    lead.get(reverse("admin:calls_call_timeline_json", args=[call.pk]))

    page = logged_in(support_member("sam")).get(reverse("admin:calls_call_change", args=[call.pk]))

    html = page.content.decode()
    assert 'id="mv-audit"' in html
    assert "Exported a call&#x27;s timeline (numbers in full) by <strong>lea</strong> at" in html
    assert WHERE not in html and "127.0.0.1" not in html  # addresses are for the audit list


def test_a_call_nobody_touched_says_so(call):
    page = logged_in(support_member("sam")).get(reverse("admin:calls_call_change", args=[call.pk]))

    assert "Nobody has listened to, exported or acted on this call yet." in page.content.decode()
