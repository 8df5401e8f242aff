"""Searching by words said: the call list (through calls' recordings port) and the
recordings list find what was said on a recording. On PostgreSQL it is full-text search
(stemmed: "cancel" finds "cancelled") over a GIN index, which the plan must use; on
SQLite a plain case-insensitive match. Ids and phone numbers are still found as before."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calls.models import Call
from recordings import search
from recordings.models import AudioState, Recording, TranscriptState

pytestmark = pytest.mark.django_db

POSTGRESQL = connection.vendor == "postgresql"
CALLS = "admin:calls_call_changelist"
RECORDINGS = "admin:recordings_recording_changelist"

SAID = {
    "call_cancels": "Thank you for calling. I want to cancel my appointment on Friday.",
    "call_books": "Thank you for calling. I'd like to book a new appointment, please.",
    "call_card": "My card is ####-####-####-#### and I was charged twice.",
    "call_quiet": "",
}


def a_call(call_id: str, *, transcript: str, from_number: str = "+15550100") -> Call:
    call = Call.objects.create(
        minivoice_id=call_id,
        status=Call.Status.ENDED,
        final_status=Call.FinalStatus.COMPLETED,
        from_number=from_number,
        to_number="+15550199",
    )
    Recording.objects.create(
        call=call,
        minivoice_id=f"rec_{call_id}",
        status=Recording.Status.COMPLETED,
        audio_state=AudioState.STORED,
        transcript_state=TranscriptState.DONE if transcript else TranscriptState.PENDING,
        transcript=transcript,
    )
    return call


@pytest.fixture
def said() -> dict[str, Call]:
    return {call_id: a_call(call_id, transcript=text) for call_id, text in SAID.items()}


def listed(client, name: str, query: str) -> set[str]:
    response = client.get(reverse(name), {"q": query})
    assert response.status_code == 200
    return {str(row) for row in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("cancel", {"call_cancels"}),
        ("CANCEL", {"call_cancels"}),
        ("appointment", {"call_cancels", "call_books"}),
        ("new appointment", {"call_books"}),
        ("charged twice", {"call_card"}),
        ("refund", set()),
        ("call_cancels", {"call_cancels"}),  # an id is still an id
        ("rec_call_books", {"call_books"}),
        ("+1555", set(SAID)),  # a number is still a number, never words
        ("' OR 1=1 --", set()),
        ('"unclosed quote -', set()),
        ("x" * 5000, set()),
    ],
)
def test_the_call_list_finds_calls_by_words_said(admin_client, said, query, expected):
    assert listed(admin_client, CALLS, query) == expected


@pytest.mark.skipif(not POSTGRESQL, reason="stemming is PostgreSQL's full-text search")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("cancelled", {"call_cancels"}),  # stemmed: cancel, cancelled, cancelling
        ("booking", {"call_books"}),
        ("appointment -cancel", {"call_books"}),  # websearch syntax: minus excludes
        ("cancel or book", {"call_cancels", "call_books"}),
    ],
)
def test_on_postgresql_words_are_matched_by_their_stem(admin_client, said, query, expected):
    assert listed(admin_client, CALLS, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("cancel", {"rec_call_cancels"}),
        ("appointment", {"rec_call_cancels", "rec_call_books"}),
        ("rec_call_card", {"rec_call_card"}),
        ("call_quiet", {"rec_call_quiet"}),  # the call's id: its recordings
        ("\x00", set()),
    ],
)
def test_the_recordings_list_finds_recordings_by_words_said(admin_client, said, query, expected):
    assert listed(admin_client, RECORDINGS, query) == expected


def test_a_call_with_two_recordings_saying_it_is_listed_once(admin_client, said):
    Recording.objects.create(
        call=said["call_cancels"],
        minivoice_id="rec_second",
        status=Recording.Status.COMPLETED,
        transcript="Yes, cancel it.",
    )

    response = admin_client.get(reverse(CALLS), {"q": "cancel"})

    assert [str(call) for call in response.context["cl"].result_list] == ["call_cancels"]


@pytest.mark.parametrize("few", [1, 5000])
def test_many_matches_go_as_a_subquery_few_as_a_list_and_find_the_same(
    admin_client, said, monkeypatch, few
):
    monkeypatch.setattr(search, "FEW", few)

    assert listed(admin_client, CALLS, "appointment") == {"call_cancels", "call_books"}
    assert listed(admin_client, CALLS, "cancel") == {"call_cancels"}


def test_a_transcript_cleared_is_found_no_more(admin_client, said):
    Recording.objects.filter(minivoice_id="rec_call_cancels").update(transcript="")

    assert listed(admin_client, CALLS, "cancel") == set()
    assert listed(admin_client, RECORDINGS, "cancel") == set()


@pytest.mark.skipif(not POSTGRESQL, reason="the GIN index exists on PostgreSQL only")
def test_on_postgresql_the_words_are_looked_up_in_the_transcript_index(said):
    with transaction.atomic(), connection.cursor() as cursor:
        # A handful of rows is cheaper to scan; forbid that, to see whether the index can
        # serve the search at all.
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = search.recordings_saying("cancel").explain()

    assert "recordings_transcript_search" in plan, plan


def _plans(captured) -> list[str]:
    with connection.cursor() as cursor:
        plans = []
        for query in captured:
            sql = query["sql"]
            if sql.startswith("SELECT") and ("calls_call" in sql or "recordings_rec" in sql):
                cursor.execute("EXPLAIN " + query["sql"])
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
        return plans


@pytest.mark.skipif(not POSTGRESQL, reason="the GIN index exists on PostgreSQL only")
def test_on_postgresql_a_big_call_list_is_searched_through_the_index_unprompted(admin_client):
    """20,000 calls, each with a recording whose transcript is ordinary talk, and three
    that said "cancel": every query of the search reads an index, none a whole table."""
    now = timezone.now()
    calls = Call.objects.bulk_create(
        [
            Call(minivoice_id=f"call_{n:05}", created_at=now - timedelta(seconds=n))
            for n in range(20_000)
        ],
        batch_size=2000,
    )
    Recording.objects.bulk_create(
        [
            Recording(
                call=call,
                minivoice_id=f"rec_{n:05}",
                status=Recording.Status.COMPLETED,
                transcript=(
                    "I want to cancel my appointment"
                    if n % 7000 == 3
                    else f"Thank you for calling, your reference is {n}, have a nice day"
                ),
            )
            for n, call in enumerate(calls)
        ],
        batch_size=2000,
    )
    with connection.cursor() as cursor:
        # What autovacuum does in time: the rows just added leave GIN's pending list for
        # the index proper, and the planner learns the tables' contents.
        cursor.execute("SELECT gin_clean_pending_list('recordings_transcript_search')")
        cursor.execute("ANALYZE calls_call; ANALYZE recordings_recording")

    with CaptureQueriesContext(connection) as captured:
        found = listed(admin_client, CALLS, "cancel")
    plans = _plans(captured)

    assert found == {"call_00003", "call_07003", "call_14003"}
    assert any("recordings_transcript_search" in plan for plan in plans), plans
    # The two big tables; a tiny one (no problems stored) is rightly scanned.
    whole_table = re.compile(r"Seq Scan on (calls_call|recordings_recording)\b")
    assert not any(whole_table.search(plan) for plan in plans), plans
