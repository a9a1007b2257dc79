"""Pure helpers of the benchmark: percentiles, latency summaries, open-loop pacing, ratios.

No I/O here, so ``tests/unit/test_bench_helpers.py`` can check them without timing anything.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks.

    The same definition as ``numpy.percentile``'s default: rank ``q/100 * (n - 1)`` in the sorted
    values, interpolated. An empty sequence has no percentile (``nan``).
    """
    if not 0 <= q <= 100:
        raise ValueError("q must be between 0 and 100")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    lo = math.floor(rank)
    hi = math.ceil(rank)
    if lo == hi:
        return float(ordered[lo])
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo))


@dataclass(frozen=True)
class Latency:
    """A latency distribution in milliseconds."""

    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float

    def as_dict(self) -> dict[str, float]:
        return {"count": self.count, "p50_ms": self.p50_ms, "p90_ms": self.p90_ms,
                "p99_ms": self.p99_ms, "max_ms": self.max_ms, "mean_ms": self.mean_ms}


def summarize(seconds: Iterable[float]) -> Latency:
    """Summarize latencies given in seconds as milliseconds."""
    ms = [s * 1000.0 for s in seconds]
    if not ms:
        nan = math.nan
        return Latency(0, nan, nan, nan, nan, nan)
    return Latency(
        count=len(ms),
        p50_ms=percentile(ms, 50),
        p90_ms=percentile(ms, 90),
        p99_ms=percentile(ms, 99),
        max_ms=max(ms),
        mean_ms=sum(ms) / len(ms),
    )


def schedule(rate: float, duration: float) -> list[float]:
    """Open-loop send times: offsets (seconds from the start) of a steady ``rate`` per second
    for ``duration`` seconds, evenly spaced, the first at 0. Sends are due at these times
    whether or not earlier ones have been answered (open loop: no coordinated omission)."""
    if rate <= 0:
        raise ValueError("rate must be > 0")
    if duration < 0:
        raise ValueError("duration must be >= 0")
    count = math.floor(rate * duration + 1e-9)
    return [i / rate for i in range(count)]


def achieved_rate(send_offsets: Sequence[float], duration: float) -> float:
    """Sends per second actually made within ``duration`` (the paced window)."""
    if duration <= 0:
        return 0.0
    return sum(1 for t in send_offsets if t <= duration) / duration


def lag_after(
    responses: Sequence[tuple[float, int]], observed: Sequence[tuple[float, int]]
) -> list[float]:
    """Append-to-projection lag per command.

    ``responses`` are (time the command's response arrived, its log position); ``observed`` are
    (time, position every projection had reached), in time order. A command's lag is the time
    from its response to the first observation at or after it that shows its position reached
    (0 when the projection had it before the response came back). Commands never observed as
    reached are left out; the caller counts them.
    """
    lags: list[float] = []
    times = [t for t, _ in observed]
    # The running maximum position seen by each observation (positions only grow).
    best: list[int] = []
    top = -1
    for _, p in observed:
        top = max(top, p)
        best.append(top)

    for t_resp, position in responses:
        start = bisect.bisect_left(times, t_resp)
        # Binary search the first index >= start whose running max reaches position.
        lo, hi = start, len(best)
        while lo < hi:
            mid = (lo + hi) // 2
            if best[mid] >= position:
                hi = mid
            else:
                lo = mid + 1
        if lo < len(best):
            if start > 0 and best[start - 1] >= position:
                lags.append(0.0)
            else:
                lags.append(max(times[lo] - t_resp, 0.0))
    return lags


def ratio(value: float | None, baseline: float | None) -> float | None:
    """value / baseline, or None when either is missing or the baseline is 0."""
    if value is None or baseline is None or baseline == 0 or math.isnan(value) or math.isnan(baseline):
        return None
    return value / baseline


def fmt(value: float | None, digits: int = 3) -> str:
    """A figure for a table: thousands separators, about ``digits`` significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(digits - 1 - magnitude, 0)
    return f"{value:,.{decimals}f}"
