"""The few statistics the harness reports, kept pure so that they are tested."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation; None for no values."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is not between 0 and 100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratios(project: Sequence[float], reference: Sequence[float]) -> list[float]:
    """Each round's project figure over the reference figure of the same round.

    Runs alternate (reference, project, reference, project…), so pairing by round
    compares runs made a few seconds apart, under the same background load.
    """
    if len(project) != len(reference):
        raise ValueError("project and reference need the same number of rounds")
    return [p / r if r else math.nan for p, r in zip(project, reference, strict=True)]


def median_ratio(project: Sequence[float], reference: Sequence[float]) -> float | None:
    """The median of the per-round ratios (None with no rounds)."""
    found = [r for r in ratios(project, reference) if not math.isnan(r)]
    return statistics.median(found) if found else None


def spread(values: Sequence[float]) -> float | None:
    """(max - min) / median: how noisy a figure was across rounds."""
    if len(values) < 2:
        return None
    middle = statistics.median(values)
    return (max(values) - min(values)) / middle if middle else None


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of y over x (0 for fewer than two distinct x)."""
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    var_x = sum((x - mean_x) ** 2 for x, _ in points)
    if var_x == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var_x


def backlog_grows(samples: Sequence[tuple[float, float]], *, intake_rate: float) -> bool:
    """Whether the backlog (events waiting, sampled over time) keeps growing.

    A backlog that holds steady wobbles with bursts; one that grows by more than 1 % of
    the intake rate each second is falling behind (it would never drain).
    """
    return slope(samples) > max(0.01 * intake_rate, 0.5)


def events_per_second(times: Sequence[float]) -> float | None:
    """Rate of events that finished at `times` (seconds): (n-1) gaps over the span."""
    if len(times) < 2:
        return None
    span = max(times) - min(times)
    return (len(times) - 1) / span if span > 0 else None
