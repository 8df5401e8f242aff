"""The audit trail in the admin: superusers and Support leads read it; nobody, superusers
included, adds, changes or deletes an entry there; Support does not see it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from audit.record import About, Actor, audit_record
from calls.tests.console_data import logged_in, support_lead, support_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry() -> AuditEntry:
    return audit_record(
        actor=Actor(user_id=7, username="ana", ip="203.0.113.5"),
        action=AuditEntry.Action.RECORDING_LISTENED,
        about=About("recordings.recording", "3", call_id="call_9", detail="rec_3"),
    )


def test_a_superuser_and_a_lead_read_the_list_and_an_entry(entry, admin_client):
    for client in (admin_client, logged_in(support_lead("lea"))):
        listing = client.get(reverse("admin:audit_auditentry_changelist"))
        page = client.get(reverse("admin:audit_auditentry_change", args=[entry.pk]))

        assert listing.status_code == page.status_code == 200
        assert "203.0.113.5" in listing.content.decode()
        assert f'href="{reverse("admin:calls_call_by_id")}?id=call_9"' in listing.content.decode()
        assert "Listened to a recording" in page.content.decode()
        assert 'name="_save"' not in page.content.decode()
        assert 'name="action"' not in listing.content.decode()  # not even "delete selected"


def test_support_does_not_see_the_trail(entry):
    support = logged_in(support_member("sam"))

    assert support.get(reverse("admin:audit_auditentry_changelist")).status_code == 403


def test_nobody_adds_changes_or_deletes_an_entry_not_even_a_superuser(entry, admin_client):
    change = reverse("admin:audit_auditentry_change", args=[entry.pk])
    delete = reverse("admin:audit_auditentry_delete", args=[entry.pk])
    listing = reverse("admin:audit_auditentry_changelist")

    assert admin_client.get(reverse("admin:audit_auditentry_add")).status_code == 403
    assert admin_client.post(change, {"detail": "nothing", "_save": "Save"}).status_code == 403
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"}
    admin_client.post(listing, bulk)

    assert AuditEntry.objects.filter(pk=entry.pk, detail="rec_3").exists()


def test_the_list_searches_by_user_call_and_address(entry, admin_client):
    listing = reverse("admin:audit_auditentry_changelist")

    for term in ["ana", "call_9", "203.0.113.5", "3"]:
        body = admin_client.get(listing, {"q": term}).content.decode()
        assert "rec_3" in body, term
    assert "rec_3" not in admin_client.get(listing, {"q": "bob"}).content.decode()
