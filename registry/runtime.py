"""Process-wide settings for the long-running processes (``gpureg serve``, projection workers)."""

from __future__ import annotations

import gc

#: Collect the youngest generation every 50,000 allocations instead of 700, and the oldest only
#: after 100 collections of the middle one instead of 10. A server keeps thousands of aggregates
#: in its cache and a projection worker keeps rows; a collection of the oldest generation walks all
#: of them, and with the default thresholds those pauses (100-300 ms) were the worst
#: append-to-projection lags of the benchmark. Three runs of 10 s at 127 commands/s each, one
#: after the other: lag p99 56-97 ms instead of 82-172 ms, longest lag 73-130 ms instead of
#: 161-219 ms (docs/performance.md, change 11).
GC_THRESHOLDS = (50_000, 20, 100)


def tune_for_serving() -> None:
    """Set the collector for a long-running process, once its start-up is done: collect the
    start-up garbage, move what survives (modules, descriptors, settings) out of the collector's
    sight for good, and collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
