"""Schemathesis against a live server: every request the document allows (and many it
does not), signed as MiniVoice signs, answered without a server error and as documented.

The document is the committed one (docs/openapi.yaml, held to the code by
test_api_schema.py). Each operation gets at most FUZZ_MAX_EXAMPLES generated requests in
each mode (positive: what the document allows; negative: what it does not), so the file
stays well under two minutes on a busy 2-core machine; `FUZZ_MAX_EXAMPLES=500` runs a
longer hunt by hand.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
import schemathesis
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from calls.models import Call, WebhookEvent
from calls.protocol.signatures import SIGNATURE_HEADERS, signed_headers
from calls.tests.console_data import logged_in, support_member
from conftest import ANSWER_URL, OTHER_SECRET, TEST_SECRET, WEBHOOK_URL, minivoice_event

SCHEMA_FILE = settings.BASE_DIR / "docs" / "openapi.yaml"
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "50"))

# A server error, an undocumented status, content type or header, a body that is not the
# documented shape: each fails the run.
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# What MiniVoice may send (POST, signed) must be taken. Not asked of the GET, which is
# refused whenever a secret is set, nor in negative mode: the app is liberal on purpose
# (CONTRACT.md: a call id given as a number, a `call` that is not an object, are read).
ACCEPTS_VALID_DATA = {("POST", "/minivoice/answer/"), ("POST", "/minivoice/webhooks/")}

pytestmark = pytest.mark.django_db(transaction=True)


class StandardWebhooksSignature(requests.auth.AuthBase):
    """Signs the exact bytes requests is about to send, as MiniVoice does (CONTRACT.md §2:
    `{webhook-id}.{webhook-timestamp}.{raw body}`), each request with a webhook-id of its
    own. requests calls it once the body is final, whatever schemathesis made of it."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else body
        try:
            headers = signed_headers(
                body=body, secret=self.secret, webhook_id=f"msg_{uuid.uuid4().hex}"
            )
        except UnicodeDecodeError:
            return request  # not text: unsigned, and the documented 401 must follow
        request.headers.update(headers)
        return request


SIGNED = StandardWebhooksSignature(TEST_SECRET)


def _now() -> datetime:
    return datetime.now(tz=UTC)


def _headers(body: bytes, *, secret: str = TEST_SECRET, **options) -> dict[str, str]:
    return signed_headers(body=body, secret=secret, webhook_id=f"msg_{uuid.uuid4().hex}", **options)


# Ways a request is not signed with our secret: each must get the documented 401.
FORGERIES: dict[str, Callable[[bytes], dict[str, str]]] = {
    "unsigned": lambda body: {},
    "signed with another secret": lambda body: _headers(body, secret=OTHER_SECRET),
    "garbled signature": lambda body: {**_headers(body), "webhook-signature": "v1,@@not-b64"},
    "signature of another body": lambda body: {
        **_headers(body + b" "),
        "webhook-id": _headers(body)["webhook-id"],
    },
    "stale timestamp": lambda body: _headers(body, timestamp=_now() - timedelta(minutes=6)),
    "timestamp from the future": lambda body: _headers(
        body, timestamp=_now() + timedelta(minutes=6)
    ),
    "fractional timestamp": lambda body: {
        **(signed := _headers(body)),
        "webhook-timestamp": f"{signed['webhook-timestamp']}.0",
    },
}


class Forged(requests.auth.AuthBase):
    """Replaces whatever signature headers a case has with a forgery of the body."""

    def __init__(self, forge: Callable[[bytes], dict[str, str]]) -> None:
        self.forge = forge

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        for name in SIGNATURE_HEADERS:
            request.headers.pop(name, None)
        body = request.body or b""
        request.headers.update(self.forge(body.encode() if isinstance(body, str) else body))
        return request


@pytest.fixture(scope="module")
def api() -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_path(str(SCHEMA_FILE))


@pytest.fixture
def staff_cookies(live_server) -> dict[str, str]:
    """A signed-in Support member's session, as the console's page has it."""
    return {"sessionid": logged_in(support_member("fuzz")).cookies["sessionid"].value}


@pytest.fixture
def calls_to_read(live_server) -> Iterator[list[int]]:
    """Two calls to read back: one ended with a recording and a malformed event, one going on."""
    _deliver(live_server, "call_fuzz_done", ended=True)
    _deliver(live_server, "call_fuzz_going", ended=False)
    yield list(Call.objects.order_by("pk").values_list("pk", flat=True))


def _post(url: str, body: bytes, **headers: str) -> requests.Response:
    signed = signed_headers(body=body, secret=TEST_SECRET, webhook_id=f"msg_{uuid.uuid4().hex}")
    return requests.post(
        url,
        data=body,
        headers={"Content-Type": "application/json", **signed, **headers},
        timeout=10,
    )


def _deliver(live_server, call_id: str, *, ended: bool) -> None:
    webhooks = f"{live_server.url}{WEBHOOK_URL}"
    events = [
        minivoice_event("call.initiated", call_id=call_id, created_at="2026-05-29T12:00:00Z"),
        minivoice_event("call.answered", call_id=call_id, created_at="2026-05-29T12:00:01Z"),
        minivoice_event(
            "recording.started",
            call_id=call_id,
            created_at="2026-05-29T12:00:02Z",
            recording_id=f"rec_{call_id}",
        ),
    ]
    answer = {"call": {"id": call_id, "from": "+15550100", "to": "+15550199"}, "variables": {}}
    assert _post(f"{live_server.url}{ANSWER_URL}", json.dumps(answer).encode()).ok
    if ended:
        events += [
            minivoice_event(
                "recording.completed",
                call_id=call_id,
                created_at="2026-05-29T12:00:20Z",
                recording_id=f"rec_{call_id}",
                duration_seconds=18,
            ),
            minivoice_event("call.completed", call_id=call_id, created_at="2026-05-29T12:00:21Z"),
        ]
    for event in events:
        assert _post(webhooks, json.dumps(event).encode()).status_code == 202
    assert _post(webhooks, b"[not json").status_code == 400


def _fuzz(operation, mode: GenerationMode, send: Callable, *, examples: int = MAX_EXAMPLES) -> None:
    """Up to `examples` generated requests to one operation, each sent by `send`."""

    @hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,  # nothing written into the checkout
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        send(case)

    run()


def _checks(operation, mode: GenerationMode) -> list:
    key = (operation.method.upper(), operation.path)
    if mode.is_positive and key in ACCEPTS_VALID_DATA:
        return [*CONFORMANCE, positive_data_acceptance]
    return CONFORMANCE


# Each test below loops over its cases rather than being parametrized by them: a test of
# the live server flushes the database after it, which costs more than its requests.


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/minivoice/answer/"), ("GET", "/minivoice/answer/"), ("POST", WEBHOOK_URL)],
)
def test_minivoice_doors_answer_every_signed_request_as_documented(api, live_server, method, path):
    operation = api[path][method]
    for mode in GenerationMode:
        checks = _checks(operation, mode)
        _fuzz(
            operation,
            mode,
            lambda case, checks=checks: case.call_and_validate(
                base_url=live_server.url, auth=SIGNED, checks=checks
            ),
        )


@pytest.mark.parametrize(
    "path", ["/admin/calls/call/{id}/timeline.json", "/admin/calls/call/{id}/live/"]
)
def test_the_console_json_answers_staff_as_documented(
    api, live_server, staff_cookies, calls_to_read, path
):
    operation = api[path]["GET"]
    for pk in calls_to_read:  # calls that exist: the 200 shapes are checked too
        response = operation.Case(path_parameters={"id": pk}).call_and_validate(
            base_url=live_server.url, cookies=staff_cookies, checks=CONFORMANCE
        )
        assert response.status_code == 200
    _fuzz(
        operation,
        GenerationMode.POSITIVE,
        lambda case: case.call_and_validate(
            base_url=live_server.url, cookies=staff_cookies, checks=CONFORMANCE
        ),
    )


def test_without_a_secret_the_answer_url_reads_unsigned_requests_as_documented(
    api, live_server, settings
):
    """A laptop before `dev_setup`: the liberal reading, GET and query parameters too."""
    settings.MINIVOICE_WEBHOOK_SECRETS = []
    for method in ["POST", "GET"]:
        operation = api[ANSWER_URL][method]
        for mode in GenerationMode:
            checks = _checks(operation, mode) if method == "POST" else CONFORMANCE
            _fuzz(
                operation,
                mode,
                lambda case, checks=checks: case.call_and_validate(
                    base_url=live_server.url, checks=checks
                ),
            )


@pytest.mark.parametrize("path", [ANSWER_URL, WEBHOOK_URL])
def test_a_request_not_signed_with_our_secret_gets_the_documented_401(api, live_server, path):
    operation = api[path]["POST"]
    for forgery, forge in FORGERIES.items():
        forged = Forged(forge)

        def send(case, forged=forged, forgery=forgery) -> None:
            response = case.call_and_validate(
                base_url=live_server.url, auth=forged, checks=CONFORMANCE
            )
            assert response.status_code == 401, f"{forgery}: {response.text}"
            assert response.json()["error"]["code"] == "invalid_signature"

        _fuzz(operation, GenerationMode.POSITIVE, send, examples=10)
    assert not WebhookEvent.objects.exists()
    assert not Call.objects.exists()
