"""Consent on the call: the two problem codes, checked on MiniVoice's clock, and the
call's story saying whether the caller consented."""

from __future__ import annotations

import pytest

from calls.models import CallProblem
from calls.tests.flow_data import ask, collect_url, main_line_published
from calls.timeline import build_timeline
from conftest import minivoice_event

pytestmark = pytest.mark.django_db

CODE = CallProblem.Code


@pytest.fixture
def started(post_webhook):
    def send(at: str) -> None:
        response = post_webhook(
            minivoice_event(
                "recording.started",
                call_id="call_flow",
                created_at=at,
                recording_id="rec_1",
                status="started",
            )
        )
        assert response.status_code == 202

    return send


def codes() -> set[str]:
    return set(CallProblem.objects.values_list("code", flat=True))


def test_recording_before_the_caller_consents_is_a_problem(client, started):
    main_line_published()
    first = ask(client, at="2026-05-29T12:00:00Z")
    started("2026-05-29T12:00:03Z")  # MiniVoice records early anyway

    ask(client, url=collect_url(first), digits="1", at="2026-05-29T12:00:06Z")
    started("2026-05-29T12:00:07Z")

    assert CODE.RECORDING_BEFORE_CONSENT in codes()
    problem = CallProblem.objects.get(code=CODE.RECORDING_BEFORE_CONSENT)
    assert "started recording at +3.0 s" in problem.message
    assert "consented only at +6.0 s" in problem.message


def test_recording_after_consent_is_no_problem_and_the_story_says_so(client, started):
    main_line_published()
    first = ask(client, at="2026-05-29T12:00:00Z")
    ask(client, url=collect_url(first), digits="1", at="2026-05-29T12:00:06Z")

    started("2026-05-29T12:00:07Z")

    assert CODE.RECORDING_BEFORE_CONSENT not in codes()
    assert (
        "pressed 1 to consent to recording at +6.0 s" in build_timeline(call_id="call_flow").story
    )


def test_recording_after_the_caller_declined_is_a_problem(client, started):
    main_line_published()
    first = ask(client, at="2026-05-29T12:00:00Z")
    ask(client, url=collect_url(first), digits="2", at="2026-05-29T12:00:06Z")

    started("2026-05-29T12:00:09Z")

    problem = CallProblem.objects.get(code=CODE.RECORDING_AFTER_CONSENT_DECLINED)
    assert "declined recording at +6.0 s" in problem.message
    assert "pressed 2 to decline recording" in build_timeline(call_id="call_flow").story


def test_a_flow_without_consent_never_raises_the_consent_problems(client, started):
    ask(client, call_id="call_flow", to="+15559999")

    started("2026-05-29T12:00:01Z")

    assert not codes() & {CODE.RECORDING_BEFORE_CONSENT, CODE.RECORDING_AFTER_CONSENT_DECLINED}
