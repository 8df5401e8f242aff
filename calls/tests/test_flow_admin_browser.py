"""A flow editor's path through the flows' admin in a real browser (Debian's Chromium) at
1400 px: edit a step and publish, be refused with the reasons on the form, read the diff
between versions, and try the flow with keys chosen per collect.

The ten-step flow's page is kept as artifacts/flow-page.png (git-ignored).
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

from calls.flows.document import read_document
from calls.flows.publishing import flow_import
from calls.models import Flow
from calls.roles import FLOW_EDITORS_GROUP
from calls.tests.browser import ARTIFACTS
from calls.tests.console_data import PASSWORD
from calls.tests.flow_data import main_line

pytestmark = pytest.mark.django_db(transaction=True)

DEPARTMENTS = ["sales", "billing", "support", "orders", "returns", "press", "jobs", "other"]


def ten_steps() -> dict:
    """A menu, eight departments and a goodbye: ten steps."""
    steps = {
        "menu": {
            "actions": [
                {"say": {"text": "For sales press 1, billing 2, support 3, orders 4."}},
                {"collect": {"max_digits": 1, "timeout_seconds": 5}},
            ],
            "next": {str(i + 1): name for i, name in enumerate(DEPARTMENTS)}
            | {"no_input": "goodbye", "other": "menu"},
        }
    }
    for index, name in enumerate(DEPARTMENTS):
        steps[name] = {
            "actions": [
                {"say": {"text": f"Connecting you to {name}."}},
                {"transfer": {"to": f"+1555020{index}"}},
            ]
        }
    steps["goodbye"] = {"actions": [{"say": {"text": "Goodbye."}}, {"hangup": {}}]}
    return {
        "name": "Departments",
        "numbers": ["+15550177"],
        "first_step": "menu",
        "steps": steps,
    }


@pytest.fixture
def flows(transactional_db) -> dict[str, Flow]:
    user = get_user_model().objects.create_user("eve", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=FLOW_EDITORS_GROUP))
    return {
        "main": flow_import(document=read_document(main_line()), publish=True).flow,
        "ten": flow_import(document=read_document(ten_steps()), publish=True).flow,
    }


def _sign_in(page: Page, live_server) -> None:
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "eve")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def _open(page: Page, live_server, flow: Flow) -> None:
    page.goto(f"{live_server.url}/admin/calls/flow/{flow.pk}/change/")


def _step_actions(page: Page, name: str):
    """The actions box of the step row named `name`."""
    row = page.locator("tr.form-row", has=page.locator(f"input[value='{name}']"))
    return row.locator("textarea[name$='-actions']")


def test_an_editor_changes_a_step_and_publishes(flows, live_server, page: Page):
    _sign_in(page, live_server)
    _open(page, live_server, flows["main"])
    expect(page.locator("#mv-checks")).to_contain_text("no error")

    _step_actions(page, "goodbye").fill(json.dumps([{"say": {"text": "See you."}}, {"hangup": {}}]))
    page.click("#mv-publish")

    expect(page.locator(".messagelist")).to_contain_text("Published 'Main line' v2: live now.")
    expect(page.locator("#mv-versions")).to_contain_text("v2 (live)")
    expect(page.locator("#mv-versions")).to_contain_text("eve")
    live = Flow.objects.get(pk=flows["main"].pk).live_version
    assert live.document["steps"]["goodbye"]["actions"][0] == {"say": {"text": "See you."}}


def test_recording_before_consent_is_refused_with_the_reason_on_the_form(
    flows,
    live_server,
    page: Page,
):
    _sign_in(page, live_server)
    _open(page, live_server, flows["main"])
    greeting = main_line()["steps"]["greeting"]["actions"]

    _step_actions(page, "greeting").fill(json.dumps([{"start_recording": {}}, *greeting]))
    page.click("#mv-publish")

    expect(page.locator(".messagelist")).to_contain_text("Not published: 1 error(s)")
    error = page.locator("#mv-checks .mv-check-error")
    expect(error).to_contain_text("steps.greeting.actions[0].start_recording")
    expect(error).to_contain_text("recording could start before the caller consents")
    expect(page.locator("#mv-versions")).to_contain_text("v1 (live)")
    assert Flow.objects.get(pk=flows["main"].pk).live_version.number == 1


def test_the_diff_between_versions_shows_the_changed_step(flows, live_server, page: Page):
    _sign_in(page, live_server)
    _open(page, live_server, flows["main"])
    _step_actions(page, "goodbye").fill(json.dumps([{"say": {"text": "Bye."}}, {"hangup": {}}]))
    page.click("#mv-publish")

    page.click("text=changes from v1")

    steps = page.locator(".mv-diff-step")
    expect(steps).to_have_count(1)
    expect(steps).to_contain_text("Step goodbye: changed")
    expect(steps.locator(".mv-before")).to_contain_text("Goodbye.")
    expect(steps.locator(".mv-after")).to_contain_text("Bye.")
    page.screenshot(path=ARTIFACTS / "flow-diff.png", full_page=True)


def test_try_it_follows_the_keys_chosen_at_each_collect(flows, live_server, page: Page):
    _sign_in(page, live_server)
    _open(page, live_server, flows["main"])
    page.click("#mv-try-link")
    expect(page.locator("#mv-try-ending")).to_contain_text("waits for the keys pressed")

    page.select_option("select[name=keys]", "none")
    page.click("#mv-try-submit")
    page.locator("select[name=keys]").nth(1).select_option("1")
    page.click("#mv-try-submit")

    path = page.locator(".mv-try-step").evaluate_all("steps => steps.map(s => s.dataset.step)")
    assert path == ["greeting", "greeting_again", "record"]
    expect(page.locator("#mv-try-ending")).to_contain_text("ends at 'record' with hangup")
    expect(page.locator("#mv-try-verdict")).to_contain_text("can be published")
    expect(page.locator(".mv-try-step").last).to_contain_text('"start_recording"')
    page.screenshot(path=ARTIFACTS / "flow-try.png", full_page=True)


def test_the_page_of_a_ten_step_flow_fits_1400_px(flows, live_server, page: Page):
    _sign_in(page, live_server)
    _open(page, live_server, flows["ten"])

    expect(page.locator("tr.form-row.has_original")).to_have_count(10)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "flow-page.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
