"""Timing classes for the access suites (A2's foreign-vs-missing ids, A8's
known-vs-unknown addresses): medians and p90, and "the same class"."""

from __future__ import annotations

import statistics


def stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p90 = ordered[round(0.9 * (len(ordered) - 1))]
    return {"median_ms": round(statistics.median(values) * 1000, 1), "p90_ms": round(p90 * 1000, 1)}


def same_class(a: list[float], b: list[float], *, ratio: float, floor: float) -> bool:
    """The medians are no further apart than ratio of the larger, or floor
    seconds, whichever is more: a margin a loaded 2-core box keeps, which an
    extra password hash or object lookup of consequence does not."""
    first, second = statistics.median(a), statistics.median(b)
    return abs(first - second) <= max(ratio * max(first, second), floor)
