"""The QA list (the recordings' admin list): filtered by outcome, duration, flow, date and
words said; each row links to its call and plays through the protected audio view; the
page's queries do not grow with its rows; bad parameters are ignored, never a 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calls.tests.console_data import logged_in, support_member
from recordings.filters import DURATIONS, OUTCOMES
from recordings.models import Recording
from recordings.tests.qa_data import qa_recordings

pytestmark = pytest.mark.django_db

QA_LIST = "admin:recordings_recording_changelist"


@pytest.fixture
def made(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return qa_recordings(60, audio_seconds_cap=3)


@pytest.fixture
def support():
    return logged_in(support_member("sam"))


def listed(client, params: dict) -> set[str]:
    response = client.get(reverse(QA_LIST), {**params, "all": ""})
    assert response.status_code == 200
    return {row.minivoice_id for row in response.context["cl"].result_list}


def ids(made, keep) -> set[str]:
    return {m.recording.minivoice_id for m in made if keep(m)}


def test_the_data_has_every_outcome_and_flow(made):
    # Otherwise the filter tests below could pass on empty sets.
    assert {m.outcome for m in made} == set(OUTCOMES)
    assert {m.flow for m in made} == {"booking", "billing", "fallback"}


@pytest.mark.parametrize("outcome", list(OUTCOMES))
def test_each_outcome_finds_exactly_its_recordings(support, made, outcome):
    assert listed(support, {"outcome": outcome}) == ids(made, lambda m: m.outcome == outcome)


def test_the_outcomes_split_the_recordings_with_none_left_over(support, made):
    found = [listed(support, {"outcome": outcome}) for outcome in OUTCOMES]

    assert sum(len(each) for each in found) == len(made)
    assert set().union(*found) == ids(made, lambda m: True)


@pytest.mark.parametrize(
    ("duration", "within"),
    [
        ("under-30s", lambda s: s is not None and s < 30),
        ("30s-2m", lambda s: s is not None and 30 <= s < 120),
        ("2m-10m", lambda s: s is not None and 120 <= s < 600),
        ("over-10m", lambda s: s is not None and s >= 600),
        ("unknown", lambda s: s is None),
    ],
)
def test_duration_ranges_narrow_the_list(support, made, duration, within):
    expected = ids(made, lambda m: within(m.recording.duration_seconds))

    assert expected  # the data has some of each
    assert listed(support, {"duration": duration}) == expected
    assert duration in DURATIONS


@pytest.mark.parametrize("flow", ["booking", "billing", "fallback"])
def test_the_flow_filter_finds_the_recordings_of_calls_that_flow_answered(support, made, flow):
    assert listed(support, {"flow": flow}) == ids(made, lambda m: m.flow == flow)


def test_the_flows_offered_are_the_flows_and_the_fallback(support, made):
    page = support.get(reverse(QA_LIST)).content.decode()
    filters = page.split('id="changelist-filter"')[1]

    for choice in ("?flow=billing", "?flow=booking", "?flow=fallback"):
        assert choice in filters


def test_dates_narrow_the_list(support, made):
    day_ago = timezone.now() - timedelta(days=1)
    recent = ids(made, lambda m: m.recording.created_at >= day_ago)
    since = (timezone.now() - timedelta(days=3)).date()
    from_since = ids(made, lambda m: timezone.localtime(m.recording.created_at).date() >= since)

    assert listed(support, {"when": "24h"}) == recent
    assert listed(support, {"since": since.isoformat()}) == from_since
    assert recent < from_since < ids(made, lambda m: True)


def test_words_said_and_filters_narrow_together(support, made):
    expected = ids(
        made,
        lambda m: (
            m.outcome == "completed"
            and m.flow == "booking"
            and "cancel" in m.recording.transcript.lower()
            and m.recording.transcript_state == "done"
        ),
    )

    found = listed(support, {"q": "cancel", "outcome": "completed", "flow": "booking"})

    assert expected and found == expected


def test_a_row_shows_the_outcome_links_to_its_call_and_plays(support, made):
    stored = next(m.recording for m in made if m.outcome == "completed" and m.recording.audio_key)
    failed = next(m.recording for m in made if m.outcome == "failed")
    page = support.get(reverse(QA_LIST), {"all": ""}).content.decode()

    row = _row(page, stored)
    assert reverse("admin:calls_call_change", args=[stored.call_id]) in row
    audio = reverse("admin:recordings_recording_audio", args=[stored.pk])
    assert f'<audio class="mv-row-player" controls preload="none" src="{audio}"' in row
    assert "Completed" in row

    row = _row(page, failed)
    assert "<audio" not in row
    assert "Failed" in row and failed.failure_reason in row


def test_the_rows_player_is_served_as_a_range(support, made):
    stored = next(m.recording for m in made if m.outcome == "completed" and m.recording.audio_key)

    response = support.get(
        reverse("admin:recordings_recording_audio", args=[stored.pk]), HTTP_RANGE="bytes=0-99"
    )

    assert response.status_code == 206
    assert len(b"".join(response.streaming_content)) == 100


def test_staff_who_may_not_listen_get_no_player(made):
    viewer = get_user_model().objects.create_user("vic", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_recording"))

    page = logged_in(viewer).get(reverse(QA_LIST), {"all": ""}).content.decode()

    assert "<audio" not in page
    assert "Outcome" in page


def test_unavailable_audio_says_why_in_its_row(support, made):
    unavailable = next(m.recording for m in made if m.outcome == "unavailable")

    row = _row(support.get(reverse(QA_LIST), {"all": ""}).content.decode(), unavailable)

    assert "Audio unavailable" in row
    assert unavailable.audio_error[:40] in row


def test_the_words_searched_are_marked_in_what_was_said(support, made):
    page = support.get(reverse(QA_LIST), {"q": "refund"}).content.decode()

    assert "<mark>refund</mark>" in page


def test_the_page_runs_the_same_queries_for_a_few_rows_as_for_60(support, made):
    def queries(params: dict) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            response = support.get(reverse(QA_LIST), params)
        return len(captured), len(response.context["cl"].result_list)

    few, rows = queries({"outcome": "failed", "all": ""})
    every, all_rows = queries({"all": ""})

    assert (rows, all_rows) == (len(ids(made, lambda m: m.outcome == "failed")), 60)
    assert few == every


@pytest.mark.parametrize(
    "params",
    [
        {"outcome": "\x00"},
        {"outcome": "everything"},
        {"duration": "-1"},
        {"flow": "'; DROP TABLE calls_call; --"},
        {"flow": "x" * 5000},
        {"q": '"cancel', "outcome": "pruned"},
    ],
    ids=lambda value: str(value)[:24],
)
def test_bad_filter_values_are_ignored_never_a_500(support, made, params):
    support.raise_request_exception = False

    response = support.get(reverse(QA_LIST), params)

    assert response.status_code in (200, 302)
    assert Recording.objects.count() == len(made)


def _row(page: str, recording: Recording) -> str:
    start = page.index(f">{recording.minivoice_id}</div>")
    return page[start : page.index("</tr>", start)]
