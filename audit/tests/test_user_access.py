"""Changes to who may do what on the audit trail: a user's groups, wherever they change
(one entry per user per change; from the admin with the staff member and their address),
and their staff, superuser and active flags in the admin."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from audit.models import AuditEntry
from calls.roles import SUPPORT_GROUP, SUPPORT_LEADS_GROUP

pytestmark = pytest.mark.django_db

WHERE = "192.0.2.44"


def access_entries() -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(action=AuditEntry.Action.USER_ACCESS_CHANGED).order_by("pk")
    )


@pytest.fixture
def ana(db):
    user = get_user_model().objects.create_user("ana", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    return user


def user_form(user, **changes) -> dict:
    """Django's user change form as the browser posts it."""
    data = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "is_staff": "on",
        "date_joined_0": "2026-05-29",
        "date_joined_1": "12:00:00",
        "groups": [group.pk for group in user.groups.all()],
        "user_permissions": [],
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_adding_a_group_in_code_leaves_one_entry_with_no_user(ana):
    before = len(access_entries())

    ana.groups.add(Group.objects.get(name=SUPPORT_LEADS_GROUP))

    (entry,) = access_entries()[before:]
    assert (entry.user_id, entry.username, entry.ip) == (None, "", None)
    assert (entry.object_type, entry.object_id) == ("auth.user", str(ana.pk))
    assert entry.detail == "ana: groups +Support leads"


def test_a_group_changed_from_its_side_is_one_entry_per_user(ana):
    bob = get_user_model().objects.create_user("bob", password="x")
    leads = Group.objects.get(name=SUPPORT_LEADS_GROUP)
    before = len(access_entries())

    leads.user_set.add(ana, bob)
    leads.user_set.clear()

    details = [entry.detail for entry in access_entries()[before:]]
    assert details == [
        "ana: groups +Support leads",
        "bob: groups +Support leads",
        "ana: groups -Support leads",
        "bob: groups -Support leads",
    ]


def test_clearing_a_users_groups_names_what_they_lost(ana):
    before = len(access_entries())

    ana.groups.clear()

    (entry,) = access_entries()[before:]
    assert entry.detail == "ana: groups -Support"


def test_changing_groups_in_the_admin_leaves_one_entry_with_who_and_where(ana, admin_client):
    before = len(access_entries())
    leads = Group.objects.get(name=SUPPORT_LEADS_GROUP)

    response = admin_client.post(
        reverse("admin:auth_user_change", args=[ana.pk]),
        user_form(ana, groups=[leads.pk]),
        REMOTE_ADDR=WHERE,
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(ana.groups.values_list("name", flat=True)) == [SUPPORT_LEADS_GROUP]
    (entry,) = access_entries()[before:]
    assert (entry.username, entry.ip, entry.object_id) == ("admin", WHERE, str(ana.pk))
    assert entry.detail == "ana: groups +Support leads -Support"


def test_making_a_user_superuser_in_the_admin_is_on_the_trail(ana, admin_client):
    before = len(access_entries())

    admin_client.post(
        reverse("admin:auth_user_change", args=[ana.pk]), user_form(ana, is_superuser="on")
    )

    (entry,) = access_entries()[before:]
    assert entry.detail == "ana: superuser on"
    assert entry.username == "admin"


def test_saving_a_user_without_access_changes_leaves_no_entry(ana, admin_client):
    before = len(access_entries())

    admin_client.post(
        reverse("admin:auth_user_change", args=[ana.pk]), user_form(ana, first_name="Ana")
    )

    assert get_user_model().objects.get(pk=ana.pk).first_name == "Ana"
    assert access_entries()[before:] == []
