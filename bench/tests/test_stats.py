"""The harness's arithmetic: percentiles, per-round ratios and their median, backlog."""

from __future__ import annotations

import math

import pytest

from bench import stats


def test_percentile_interpolates_between_ranks():
    values = [10, 20, 30, 40, 50]

    assert stats.percentile(values, 50) == 30
    assert stats.percentile(values, 0) == 10
    assert stats.percentile(values, 100) == 50
    assert stats.percentile(values, 90) == pytest.approx(46)
    assert stats.percentile(list(reversed(values)), 25) == 20


def test_percentile_of_nothing_is_none_and_out_of_range_is_refused():
    assert stats.percentile([], 99) is None
    with pytest.raises(ValueError, match="between 0 and 100"):
        stats.percentile([1], 101)


def test_ratios_pair_each_round_with_its_own_reference():
    assert stats.ratios([500, 300, 450], [1000, 1000, 900]) == [0.5, 0.3, 0.5]


def test_median_ratio_is_robust_to_one_noisy_round():
    # Round 2's reference ran while the machine was busy: its ratio is off, not the median.
    project, reference = [500, 480, 520], [1000, 400, 1040]

    assert stats.median_ratio(project, reference) == pytest.approx(0.5)


def test_median_ratio_differs_from_the_ratio_of_medians():
    project, reference = [100, 300, 200], [100, 1000, 1000]

    assert stats.median_ratio(project, reference) == pytest.approx(0.3)
    assert stats.median_ratio(project, reference) != 200 / 1000


def test_ratios_need_as_many_reference_rounds_and_skip_a_zero_reference():
    with pytest.raises(ValueError, match="same number of rounds"):
        stats.ratios([1, 2], [1])
    assert math.isnan(stats.ratios([5], [0])[0])
    assert stats.median_ratio([5, 4], [0, 8]) == 0.5
    assert stats.median_ratio([], []) is None


def test_spread_is_range_over_median():
    assert stats.spread([90, 100, 110]) == pytest.approx(0.2)
    assert stats.spread([100]) is None


def test_slope_of_a_line_and_of_nothing():
    assert stats.slope([(0, 1), (1, 3), (2, 5)]) == pytest.approx(2)
    assert stats.slope([(0, 7)]) == 0
    assert stats.slope([(1, 1), (1, 5)]) == 0


def test_a_steady_backlog_does_not_grow_but_a_climbing_one_does():
    steady = [(t, 20 + (5 if t % 2 else -5)) for t in range(60)]
    climbing = [(t, 10 * t) for t in range(60)]

    assert not stats.backlog_grows(steady, intake_rate=300)
    assert stats.backlog_grows(climbing, intake_rate=300)
    # Growing by 1 event/s at 300 req/s is noise, not falling behind.
    assert not stats.backlog_grows([(t, t) for t in range(60)], intake_rate=300)


def test_events_per_second_counts_gaps_over_the_span():
    assert stats.events_per_second([0.0, 0.5, 1.0, 1.5, 2.0]) == 2
    assert stats.events_per_second([3.0]) is None
    assert stats.events_per_second([3.0, 3.0]) is None
