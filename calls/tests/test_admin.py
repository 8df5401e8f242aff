"""The support admin: every page answers, search and filters find the right rows, nothing
can be edited, and MiniVoice's data is shown escaped.

The data comes in through the real doors (signed webhooks, a signed answer_url request).
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from calls import flows
from calls.models import AnswerExchange, Call, WebhookEvent
from conftest import minivoice_event
from recordings.models import Recording

SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"

CHANGELISTS = [
    "admin:calls_call_changelist",
    "admin:calls_answerexchange_changelist",
    "admin:calls_webhookevent_changelist",
    "admin:recordings_recording_changelist",
]


def _row_key(obj) -> str:
    """What identifies a row of each changelist to a person reading it."""
    if isinstance(obj, WebhookEvent):
        return obj.webhook_id
    if isinstance(obj, AnswerExchange):
        # The call id it named (kept even when no Call row could be written), else how
        # it was refused.
        return obj.call_minivoice_id or f"refused {obj.response_status}"
    return obj.minivoice_id


def listed(response) -> set[str]:
    assert response.status_code == 200
    return {_row_key(obj) for obj in response.context["cl"].result_list}


@pytest.fixture
def calls(db, post_answer, post_webhook) -> dict[str, Call]:
    """call_123 answered and recording; call_456 ended, its recording completed, one event
    of a type we do not act on; one answer_url request refused for naming no call."""
    answer = post_answer(
        {
            "call": {
                "id": "call_123",
                "status": "in_progress",
                "direction": "inbound",
                "from": "+441234500000",
                "to": "+449876500000",
            },
            "variables": {},
            "created_at": "2026-05-29T12:00:05Z",
        }
    )
    assert answer.status_code == 200
    assert post_answer({"variables": {}}).status_code == 400  # no call id: logged, refused
    deliveries = [
        ("msg_aaa", minivoice_event("recording.started", recording_id="rec_aaa")),
        ("msg_bbb", minivoice_event("call.completed", call_id="call_456", status="completed")),
        (
            "msg_ccc",
            minivoice_event(
                "recording.completed",
                call_id="call_456",
                recording_id="rec_bbb",
                duration_seconds=12,
                url="https://media.example/rec_bbb.mp3",
                format="mp3",
            ),
        ),
        ("msg_ddd", minivoice_event("call.something_new", call_id="call_456")),
    ]
    for webhook_id, payload in deliveries:
        assert post_webhook(payload, webhook_id=webhook_id).status_code == 202
    return {call.minivoice_id: call for call in Call.objects.all()}


@pytest.fixture
def hostile(db, post_answer, post_webhook) -> None:
    """call_789, whose event and answer_url request carry a script tag."""
    post_answer(
        {
            "call": {"id": "call_789"},
            "variables": {"name": SCRIPT},
            "created_at": "2026-05-29T12:00:05Z",
        }
    )
    payload = minivoice_event("recording.failed", call_id="call_789", reason=SCRIPT)
    assert post_webhook(payload, webhook_id="msg_evil").status_code == 202


def test_fixture_data_went_through_processing(calls):
    # The admin tests below rely on these states; check them once, at the source.
    assert {c: calls[c].status for c in calls} == {"call_123": "in_progress", "call_456": "ended"}
    states = dict(WebhookEvent.objects.values_list("webhook_id", "state"))
    assert states == {
        "msg_aaa": "processed",
        "msg_bbb": "processed",
        "msg_ccc": "processed",
        "msg_ddd": "ignored",
    }


def test_root_url_redirects_to_the_admin(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_admin_index_links_every_model(admin_client, calls):
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    for name in CHANGELISTS:
        assert reverse(name) in response.content.decode()


@pytest.mark.parametrize("name", CHANGELISTS)
def test_changelist_answers_with_every_row(admin_client, calls, name):
    response = admin_client.get(reverse(name))
    assert response.status_code == 200
    model = response.context["cl"].model
    assert len(listed(response)) == model.objects.count() > 0


def test_anonymous_visitor_is_sent_to_the_login_page(client, calls):
    response = client.get(reverse("admin:calls_call_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_call_page_shows_its_recording_inline(admin_client, calls):
    recording = Recording.objects.get(minivoice_id="rec_aaa")
    response = admin_client.get(reverse("admin:calls_call_change", args=[calls["call_123"].pk]))
    assert response.status_code == 200
    [inline] = response.context["inline_admin_formsets"]
    assert [form.original for form in inline] == [recording]
    assert reverse("admin:recordings_recording_change", args=[recording.pk]) in (
        response.content.decode()
    )


@pytest.mark.parametrize(
    ("call_id", "changelist", "query", "link_text", "expected"),
    [
        (
            "call_123",
            "admin:calls_webhookevent_changelist",
            "call_minivoice_id=call_123",
            "1 event(s)",
            {"msg_aaa"},
        ),
        (
            "call_456",
            "admin:calls_webhookevent_changelist",
            "call_minivoice_id=call_456",
            "3 event(s)",
            {"msg_bbb", "msg_ccc", "msg_ddd"},
        ),
        (
            "call_123",
            "admin:calls_answerexchange_changelist",
            "q=call_123",
            "1 exchange(s)",
            {"call_123"},
        ),
        (
            "call_456",
            "admin:calls_answerexchange_changelist",
            "q=call_456",
            "0 exchange(s)",
            set(),
        ),
    ],
)
def test_call_page_links_to_its_own_events_and_exchanges(
    admin_client, calls, call_id, changelist, query, link_text, expected
):
    call = calls[call_id]
    href = f"{reverse(changelist)}?{query.format(pk=call.pk)}"
    response = admin_client.get(reverse("admin:calls_call_change", args=[call.pk]))
    assert f'<a href="{href}">{link_text}</a>' in response.content.decode()
    assert listed(admin_client.get(href)) == expected


@pytest.mark.parametrize(
    ("changelist", "query", "expected"),
    [
        ("admin:calls_call_changelist", "call_123", {"call_123"}),
        # Ids are matched exactly (an index lookup at any size): MiniVoice's are
        # case-sensitive, so a differently-cased id is another call.
        ("admin:calls_call_changelist", "CALL_456", set()),
        ("admin:calls_call_changelist", "call_456", {"call_456"}),
        ("admin:calls_call_changelist", "rec_bbb", {"call_456"}),
        ("admin:calls_call_changelist", "+44123450", {"call_123"}),
        ("admin:calls_call_changelist", "call_1", set()),
        ("admin:calls_webhookevent_changelist", "msg_bbb", {"msg_bbb"}),
        ("admin:calls_webhookevent_changelist", "call_123", {"msg_aaa"}),
        ("admin:calls_webhookevent_changelist", "call_456", {"msg_bbb", "msg_ccc", "msg_ddd"}),
        ("admin:calls_webhookevent_changelist", "rec_bbb", {"msg_ccc"}),
        ("admin:calls_webhookevent_changelist", "rec_aaa", {"msg_aaa"}),
        ("admin:calls_answerexchange_changelist", "call_123", {"call_123"}),
        ("admin:recordings_recording_changelist", "rec_aaa", {"rec_aaa"}),
        ("admin:recordings_recording_changelist", "call_456", {"rec_bbb"}),
        ("admin:calls_webhookevent_changelist", "MSG_BBB", set()),
        ("admin:calls_webhookevent_changelist", "REC_BBB", set()),
        ("admin:calls_answerexchange_changelist", "CALL_123", set()),
        ("admin:recordings_recording_changelist", "REC_AAA", set()),
    ],
)
def test_search_finds_rows_by_the_ids_support_is_given(
    admin_client, calls, changelist, query, expected
):
    assert listed(admin_client.get(reverse(changelist), {"q": query})) == expected


@pytest.mark.parametrize(
    "changelist",
    [
        "admin:calls_call_changelist",
        "admin:calls_webhookevent_changelist",
        "admin:calls_answerexchange_changelist",
        "admin:calls_callproblem_changelist",
        "admin:recordings_recording_changelist",
    ],
)
def test_search_compares_ids_as_stored_so_an_index_serves_it(admin_client, calls, changelist):
    # Django's `=` search compares UPPER() of both sides: no index serves that, and every
    # search read the whole table (10M events at scale).
    with CaptureQueriesContext(connection) as captured:
        assert admin_client.get(reverse(changelist), {"q": "rec_bbb"}).status_code == 200

    searched = [q["sql"] for q in captured if "rec_bbb" in q["sql"]]
    assert searched
    assert not any("UPPER(" in sql for sql in searched)


@pytest.mark.parametrize(
    ("changelist", "params", "expected"),
    [
        ("admin:calls_call_changelist", {"status__exact": "ended"}, {"call_456"}),
        ("admin:calls_call_changelist", {"status__exact": "in_progress"}, {"call_123"}),
        ("admin:calls_call_changelist", {"final_status__exact": "completed"}, {"call_456"}),
        ("admin:calls_webhookevent_changelist", {"state__exact": "ignored"}, {"msg_ddd"}),
        (
            "admin:calls_webhookevent_changelist",
            {"state__exact": "processed"},
            {"msg_aaa", "msg_bbb", "msg_ccc"},
        ),
        (
            "admin:calls_webhookevent_changelist",
            {"event_type": "recording.started"},
            {"msg_aaa"},
        ),
        ("admin:recordings_recording_changelist", {"status__exact": "completed"}, {"rec_bbb"}),
        ("admin:recordings_recording_changelist", {"status__exact": "started"}, {"rec_aaa"}),
        ("admin:calls_answerexchange_changelist", {"outcome": "answered"}, {"call_123"}),
        ("admin:calls_answerexchange_changelist", {"outcome": "refused"}, {"refused 400"}),
        ("admin:calls_answerexchange_changelist", {"outcome": "fallback"}, set()),
        ("admin:calls_call_changelist", {"direction": "inbound"}, {"call_123", "call_456"}),
        ("admin:calls_webhookevent_changelist", {"event_type": "other"}, {"msg_ddd"}),
    ],
)
def test_list_filter_narrows_the_list(admin_client, calls, changelist, params, expected):
    assert listed(admin_client.get(reverse(changelist), params)) == expected


# -- Read-only for everyone -------------------------------------------------------------------


@pytest.fixture
def staff_with_every_permission(db) -> Client:
    """A support user granted every permission on our models: still read-only."""
    user = get_user_model().objects.create_user("support", password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["calls", "recordings"])
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(params=["superuser", "staff_with_every_permission"])
def support_client(request, admin_client) -> Client:
    return admin_client if request.param == "superuser" else request.getfixturevalue(request.param)


def _objects() -> dict[str, object]:
    return {
        "calls_call": Call.objects.get(minivoice_id="call_123"),
        "calls_answerexchange": AnswerExchange.objects.get(call__minivoice_id="call_123"),
        "calls_webhookevent": WebhookEvent.objects.get(webhook_id="msg_aaa"),
        "recordings_recording": Recording.objects.get(minivoice_id="rec_aaa"),
    }


MODELS = ["calls_call", "calls_answerexchange", "calls_webhookevent", "recordings_recording"]


@pytest.mark.parametrize("model", MODELS)
def test_nobody_can_add_rows(support_client, calls, model):
    count = type(_objects()[model]).objects.count()
    assert support_client.get(reverse(f"admin:{model}_add")).status_code == 403
    assert support_client.post(reverse(f"admin:{model}_add"), {}).status_code == 403
    assert type(_objects()[model]).objects.count() == count


@pytest.mark.parametrize("model", MODELS)
def test_change_page_is_read_only(support_client, calls, model):
    obj = _objects()[model]
    response = support_client.get(reverse(f"admin:{model}_change", args=[obj.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="_save"' not in html
    assert reverse(f"admin:{model}_delete", args=[obj.pk]) not in html


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        ("calls_call", "status", "ended"),
        ("calls_answerexchange", "response_status", "500"),
        ("calls_webhookevent", "state", "failed"),
        ("recordings_recording", "status", "failed"),
    ],
)
def test_posting_a_change_is_refused_and_the_row_is_unchanged(
    support_client, calls, model, field, value
):
    obj = _objects()[model]
    before = getattr(obj, field)
    response = support_client.post(
        reverse(f"admin:{model}_change", args=[obj.pk]), {field: value, "_save": "Save"}
    )
    assert response.status_code == 403
    obj.refresh_from_db()
    assert getattr(obj, field) == before


@pytest.mark.parametrize("model", MODELS)
def test_nobody_can_delete_rows(support_client, calls, model):
    obj = _objects()[model]
    url = reverse(f"admin:{model}_delete", args=[obj.pk])
    assert support_client.get(url).status_code == 403
    assert support_client.post(url, {"post": "yes"}).status_code == 403
    changelist = support_client.post(
        reverse(f"admin:{model}_changelist"),
        {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
    )
    assert changelist.status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_staff_without_permissions_cannot_read_the_logs(db, calls):
    user = get_user_model().objects.create_user("newcomer", password="x", is_staff=True)
    client = Client()
    client.force_login(user)
    for name in CHANGELISTS:
        assert client.get(reverse(name)).status_code == 403


# -- MiniVoice's data is shown, never run --------------------------------------------------------


@pytest.mark.parametrize(
    "page",
    ["event_change", "exchange_change", "call_change", "call_changelist", "recording_change"],
)
def test_data_from_minivoice_is_escaped(admin_client, hostile, page):
    call = Call.objects.get(minivoice_id="call_789")
    url = {
        "event_change": reverse(
            "admin:calls_webhookevent_change",
            args=[WebhookEvent.objects.get(webhook_id="msg_evil").pk],
        ),
        "exchange_change": reverse(
            "admin:calls_answerexchange_change", args=[call.answer_exchanges.get().pk]
        ),
        "call_change": reverse("admin:calls_call_change", args=[call.pk]),
        "call_changelist": reverse("admin:calls_call_changelist"),
        "recording_change": reverse(
            "admin:recordings_recording_change", args=[call.recordings.get().pk]
        ),
    }[page]
    response = admin_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert ESCAPED_SCRIPT in html
    assert SCRIPT not in html


def test_event_page_shows_the_body_as_received(admin_client, calls):
    event = WebhookEvent.objects.get(webhook_id="msg_ccc")
    response = admin_client.get(reverse("admin:calls_webhookevent_change", args=[event.pk]))
    html = response.content.decode()
    assert "https://media.example/rec_bbb.mp3" in html
    assert "msg_ccc" in html


# -- Any stored body can be shown ---------------------------------------------------------------


def test_event_page_shows_a_body_with_a_lone_surrogate_escape(admin_client, post_webhook):
    # Valid JSON, but "\ud800" decodes to a lone surrogate, which no page can be encoded with.
    payload = minivoice_event("recording.failed", recording_id="rec_lone", reason="disk\ud800")
    body = json.dumps(payload).encode()
    assert b"\\ud800" in body  # the escape, as MiniVoice sends it
    assert post_webhook(body, webhook_id="msg_lone").status_code == 202
    event = WebhookEvent.objects.get(webhook_id="msg_lone")
    assert event.raw_body == body.decode()
    admin_client.raise_request_exception = False  # a crash shows as a 500 below

    response = admin_client.get(reverse("admin:calls_webhookevent_change", args=[event.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "&quot;reason&quot;: &quot;disk\ufffd&quot;" in html
    assert "&quot;recording_id&quot;: &quot;rec_lone&quot;" in html
    event.refresh_from_db()
    assert event.raw_body == body.decode()  # showing it changed nothing stored


def test_event_page_shows_a_malformed_body_nested_50000_deep_as_received(
    admin_client, post_webhook
):
    body = b"[" * 50_000 + b"]" * 50_000
    response = post_webhook(body, webhook_id="msg_deep")
    assert response.status_code == 400
    event = WebhookEvent.objects.get(webhook_id="msg_deep")
    assert event.state == WebhookEvent.State.MALFORMED
    admin_client.raise_request_exception = False

    response = admin_client.get(reverse("admin:calls_webhookevent_change", args=[event.pk]))

    assert response.status_code == 200
    assert body.decode() in response.content.decode()
    event.refresh_from_db()
    assert event.raw_body == body.decode()


@pytest.fixture
def fallback_exchange(db, post_answer, monkeypatch) -> AnswerExchange:
    """call_fallback asked the answer_url while the call could not be recorded."""

    def database_down(**kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr("calls.intake.views.answer_call", database_down)
    response = post_answer({"call": {"id": "call_fallback"}, "variables": {}})
    monkeypatch.undo()
    assert response.json() == flows.FALLBACK_PAYLOAD
    assert not Call.objects.exists()
    return AnswerExchange.objects.get()


def test_exchange_list_shows_the_call_id_of_a_fallback_exchange(admin_client, fallback_exchange):
    response = admin_client.get(reverse("admin:calls_answerexchange_changelist"))

    assert listed(response) == {"call_fallback"}
    # No Call row: the link goes by id (to the call's events until a call exists).
    assert '<td class="field-call_link"><a href="/admin/calls/call/by-id/?id=call_fallback">' in (
        response.content.decode()
    )
    assert fallback_exchange.call is None
    assert fallback_exchange.call_minivoice_id == "call_fallback"


@pytest.mark.parametrize(
    ("query", "expected"), [("call_fallback", {"call_fallback"}), ("call_other", set())]
)
def test_exchange_search_finds_a_fallback_exchange_by_its_call_id(
    admin_client, fallback_exchange, query, expected
):
    response = admin_client.get(reverse("admin:calls_answerexchange_changelist"), {"q": query})

    assert listed(response) == expected
    assert AnswerExchange.objects.get().flow == flows.FALLBACK_FLOW
