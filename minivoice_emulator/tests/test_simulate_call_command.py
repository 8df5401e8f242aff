"""`manage.py simulate_call` against the app served on loopback (pytest-django's
live_server: real HTTP, tasks in-process), then read back from the same database."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from calls.models import AnswerExchange, Call, WebhookEvent
from recordings.models import Recording

pytestmark = pytest.mark.django_db(transaction=True)


def simulate(live_server, *args: str) -> str:
    out = StringIO()
    call_command(
        "simulate_call", "--base-url", live_server.url, *args, stdout=out, stderr=StringIO()
    )
    return out.getvalue()


def test_happy_call_prints_its_timeline_and_a_verdict_of_all_matches(live_server):
    output = simulate(live_server)

    assert "recording.started" in output
    assert "recording.completed" in output
    assert "Verdict: every expectation matches." in output
    call = Call.objects.get()
    assert (call.status, call.final_status) == (Call.Status.ENDED, Call.FinalStatus.COMPLETED)
    recording = Recording.objects.get()
    assert recording.status == Recording.Status.COMPLETED
    assert recording.format == "wav"
    assert AnswerExchange.objects.count() == 1
    assert set(WebhookEvent.objects.values_list("state", flat=True)) == {"processed"}
