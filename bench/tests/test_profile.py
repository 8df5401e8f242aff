"""Reading py-spy's collapsed stacks into where the time goes."""

from __future__ import annotations

import pytest

from bench.profile import inclusive_shares, parse_collapsed, self_shares, suspect_shares

COLLAPSED = """\
process 1;handle;view (calls/views.py:90);event_ingest (services.py:195);get_or_create 30
process 1;handle;view (calls/views.py:90);send_event (calls/dispatch.py:30) 50
process 2;handle;view (calls/views.py:90);verify (signatures.py:40) 20
garbage line without a count
"""


def test_collapsed_stacks_are_parsed_with_their_counts():
    stacks = parse_collapsed(COLLAPSED)

    assert sum(stacks.values()) == 100
    assert len(stacks) == 3


def test_inclusive_share_counts_every_sample_through_a_frame():
    shares = dict(inclusive_shares(parse_collapsed(COLLAPSED)))

    assert shares["view (calls/views.py:90)"] == 1.0
    assert shares["send_event (calls/dispatch.py:30)"] == pytest.approx(0.5)
    assert shares["event_ingest (services.py:195)"] == pytest.approx(0.3)


def test_recursion_counts_a_sample_once():
    shares = dict(inclusive_shares(parse_collapsed("a;b;a;b 10\nc 10\n")))

    assert shares["a"] == pytest.approx(0.5)


def test_self_share_is_where_the_cpu_was():
    leaves = dict(self_shares(parse_collapsed(COLLAPSED)))

    assert leaves["send_event (calls/dispatch.py:30)"] == pytest.approx(0.5)
    assert leaves["verify (signatures.py:40)"] == pytest.approx(0.2)


def test_no_samples_no_shares():
    assert inclusive_shares(parse_collapsed("")) == []


def test_suspect_shares_match_frames_by_prefix():
    shares = suspect_shares(
        parse_collapsed(COLLAPSED),
        {"publish": "send_event ", "ingest": "event_ingest ", "absent": "ensure_valid "},
    )

    assert shares == {"publish": 0.5, "ingest": 0.3, "absent": 0.0}
