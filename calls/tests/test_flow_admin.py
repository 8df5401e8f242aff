"""The flows' admin pages through the real URLs: editing the draft, publishing (and the
refusal, with the checks on the form), rollback, the diff, "Try it", and who may do what."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from calls.models import Flow
from calls.roles import FLOW_EDITORS_GROUP
from calls.tests.console_data import PASSWORD, logged_in, support_member
from calls.tests.flow_data import main_line_published

pytestmark = pytest.mark.django_db


def flow_editor(username: str = "eve"):
    user = get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=FLOW_EDITORS_GROUP))
    return user


def change_url(flow: Flow) -> str:
    return reverse("admin:calls_flow_change", args=[flow.pk])


def form_data(flow: Flow, **step_changes: dict) -> dict:
    """The change form as the browser posts it, with steps' fields changed by name."""
    steps = list(flow.steps.all())
    data = {
        "name": flow.name,
        "first_step": flow.first_step,
        "numbers": json.dumps(flow.numbers),
        "test_numbers": json.dumps(flow.test_numbers),
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": str(len(steps)),
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
    }
    if flow.is_default:
        data["is_default"] = "on"
    if flow.requires_consent:
        data["requires_consent"] = "on"
    for index, step in enumerate(steps):
        fields = {
            "id": step.pk,
            "flow": flow.pk,
            "name": step.name,
            "position": step.position,
            "consent": step.consent,
            "actions": json.dumps(step.actions),
            "next": json.dumps(step.next),
        } | step_changes.get(step.name, {})
        data |= {f"steps-{index}-{key}": value for key, value in fields.items()}
    return data


@pytest.fixture
def main_line():
    return main_line_published().flow


def test_an_editor_saves_a_draft_without_changing_the_live_version(main_line):
    client = logged_in(flow_editor())
    goodbye = {"actions": json.dumps([{"say": {"text": "Bye."}}, {"hangup": {}}])}

    response = client.post(change_url(main_line), form_data(main_line, goodbye=goodbye))

    assert response.status_code == 302
    main_line.refresh_from_db()
    assert main_line.steps.get(name="goodbye").actions[0] == {"say": {"text": "Bye."}}
    assert main_line.live_version.number == 1
    assert main_line.versions.count() == 1


def test_save_and_publish_makes_the_next_version_live(main_line):
    client = logged_in(editor := flow_editor())
    goodbye = {"actions": json.dumps([{"say": {"text": "Bye."}}, {"hangup": {}}])}

    response = client.post(
        change_url(main_line), {**form_data(main_line, goodbye=goodbye), "_publish": "1"}
    )

    assert response.status_code == 302
    main_line.refresh_from_db()
    assert main_line.live_version.number == 2
    assert main_line.live_version.published_by == editor
    assert main_line.live_version.document["steps"]["goodbye"]["actions"][0]["say"] == {
        "text": "Bye."
    }


def test_a_refused_publish_keeps_the_draft_and_shows_every_error_on_the_form(main_line):
    client = logged_in(flow_editor())
    greeting = {
        "actions": json.dumps([{"start_recording": {}}, {"collect": {"max_digits": 40}}]),
    }

    response = client.post(
        change_url(main_line),
        {**form_data(main_line, greeting=greeting), "_publish": "1"},
        follow=True,
    )

    page = response.content.decode()
    assert "Not published: 2 error(s)" in page
    assert "steps.greeting.actions[1].collect.max_digits" in page
    assert "recording could start before the caller consents" in page
    main_line.refresh_from_db()
    assert main_line.live_version.number == 1
    assert main_line.steps.get(name="greeting").actions[0] == {"start_recording": {}}


def test_a_step_whose_actions_are_not_json_is_refused_by_the_form(main_line):
    client = logged_in(flow_editor())

    response = client.post(
        change_url(main_line), form_data(main_line, greeting={"actions": "[{say"})
    )

    assert response.status_code == 200
    assert "Enter a valid JSON" in response.content.decode()
    main_line.refresh_from_db()
    assert main_line.steps.get(name="greeting").actions[0]["say"]


def test_rollback_from_the_versions_list(main_line):
    client = logged_in(flow_editor())
    client.post(change_url(main_line), {**form_data(main_line), "_publish": "1"})

    response = client.post(reverse("admin:calls_flow_rollback", args=[main_line.pk, 1]))

    assert response.status_code == 302
    main_line.refresh_from_db()
    assert main_line.live_version.number == 1


def test_the_page_lists_versions_with_who_published_them(main_line):
    client = logged_in(editor := flow_editor())
    client.post(change_url(main_line), {**form_data(main_line), "_publish": "1"})

    page = client.get(change_url(main_line)).content.decode()

    assert 'id="mv-versions"' in page
    assert "v2 <strong>(live)</strong>" in page
    assert editor.username in page
    assert "Make v1 live again" in page


def test_the_diff_shows_changed_actions_and_branches_by_step(main_line):
    step = main_line.steps.get(name="greeting")
    step.next = {**step.next, "2": "goodbye"}
    step.actions[0] = {"say": {"text": "Press 1."}}
    step.save()
    client = logged_in(flow_editor())

    page = client.get(reverse("admin:calls_flow_diff", args=[main_line.pk])).content.decode()

    assert "Step greeting: changed" in page
    assert "actions[0] (changed)" in page
    assert "next.2 (changed)" in page
    assert "Step goodbye" not in page


def test_the_diff_of_an_unknown_version_says_so(main_line):
    client = logged_in(flow_editor())

    response = client.get(
        reverse("admin:calls_flow_diff", args=[main_line.pk]), {"before": "9", "after": "x"}
    )

    assert response.status_code == 200
    assert "There is no version 9 or x" in response.content.decode()


def test_try_it_follows_the_keys_chosen_at_each_collect(main_line):
    client = logged_in(flow_editor())
    url = reverse("admin:calls_flow_try", args=[main_line.pk])

    page = client.get(url, {"keys": ["none", "1"]}).content.decode()

    assert all(f'data-step="{s}"' in page for s in ("greeting", "greeting_again", "record"))
    assert "The call ends at &#x27;record&#x27; with hangup." in page
    assert "Verdict: can be published" in page
    assert "SIGNED-PER-CALL" in page


def test_try_it_flags_recording_before_consent(main_line):
    step = main_line.steps.get(name="no_recording")
    step.actions = [{"start_recording": {}}, *step.actions]
    step.consent = ""
    step.save()
    client = logged_in(flow_editor())

    page = client.get(
        reverse("admin:calls_flow_try", args=[main_line.pk]), {"keys": "2"}
    ).content.decode()

    assert "On this path, recording starts without consent" in page
    assert "Verdict: cannot be published" in page


def test_support_sees_flows_and_versions_but_changes_nothing(main_line):
    client = logged_in(support_member())

    page = client.get(change_url(main_line))
    posted = client.post(change_url(main_line), {**form_data(main_line), "_publish": "1"})
    rollback = client.post(reverse("admin:calls_flow_rollback", args=[main_line.pk, 1]))

    assert page.status_code == 200
    assert 'id="mv-publish"' not in page.content.decode()
    assert 'id="mv-versions"' in page.content.decode()
    assert posted.status_code == 403
    assert rollback.status_code == 403
    main_line.refresh_from_db()
    assert main_line.versions.count() == 1
