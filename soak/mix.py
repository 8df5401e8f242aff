"""The calls the soak plays: the shipped consent IVR (calls/flows/examples), each way a
caller can go through it, as `simulate_call` runs played at once, each with its share
of the calls and of the concurrency."""

from __future__ import annotations

from dataclasses import dataclass

FLOW = "Main line"  # calls/flows/examples/consent-ivr.json


@dataclass(frozen=True)
class Part:
    name: str
    share: float
    arguments: tuple[str, ...]


PARTS = (
    Part("consent given, recorded", 0.40, ("--digits", "1")),
    Part("consent declined, transferred", 0.20, ("--digits", "2")),
    Part("no input twice, goodbye", 0.15, ("--digits", "none", "--digits", "none")),
    Part("caller hangs up at the greeting", 0.10, ("--scenario", "caller-hangs-up")),
    Part(
        "consent given, recording fails", 0.15, ("--scenario", "recording-fails", "--digits", "1")
    ),
)


def split(total: int, parts: int, shares: list[float]) -> list[int]:
    """`total` in whole numbers by `shares` (each at least 1 when total allows), adding up
    to `total`: largest remainders first."""
    exact = [total * share for share in shares]
    counts = [max(1, int(value)) if total >= parts else int(value) for value in exact]
    order = sorted(range(parts), key=lambda i: exact[i] - int(exact[i]), reverse=True)
    index = 0
    while sum(counts) < total:
        counts[order[index % parts]] += 1
        index += 1
    while sum(counts) > total:
        largest = max(range(parts), key=lambda i: counts[i])
        counts[largest] -= 1
    return counts


def planned(calls: int, concurrency: int) -> list[tuple[Part, int, int]]:
    """(part, its calls, its concurrency) for each part that gets calls."""
    shares = [part.share for part in PARTS]
    call_counts = split(calls, len(PARTS), shares)
    concurrencies = split(max(concurrency, len(PARTS)), len(PARTS), shares)
    return [
        (part, count, max(1, min(count, threads)))
        for part, count, threads in zip(PARTS, call_counts, concurrencies, strict=True)
        if count
    ]
