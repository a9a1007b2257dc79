"""Large tables stream: rendering ten times the rows does not need more memory (tracemalloc peak ratio)."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from registry.reports import (
    AsOf,
    Cell,
    Column,
    ColumnType,
    Format,
    Report,
    ReportRequest,
    Section,
    Table,
    render,
    verify,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
# Ten times the rows. (tracemalloc costs about a microsecond per allocation, so the sizes are kept to
# what runs in seconds; the ratio is what shows the streaming.)
SMALL, LARGE = 2_000, 20_000


# A fixed pool of rows, cycled: the source itself holds the same memory whatever the row count.
SITES = ("Pyeongtaek AI Factory, Samsung Electronics", "Gak Sejong data centre, NAVER Cloud", "NAIC Gwangju")
POOL: tuple[tuple[Cell, ...], ...] = tuple(
    (f"SN-{i:08d}", SITES[i % 3], i % 97, Decimal(i % 1000) / 10) for i in range(1000)
)


def big_report(rows: int) -> Report:
    def source() -> Iterator[tuple[Cell, ...]]:
        pool = POOL
        for i in range(rows):
            yield pool[i % 1000]

    table = Table(
        "Serials",
        (
            Column("serial", "Serial"),
            Column("site", "Site"),
            Column("slot", "Slot", ColumnType.INT, total=True),
            Column("power", "Power", ColumnType.DECIMAL, unit="kW", total=True),
        ),
        source,
    )
    return Report("custody", "Serials", AsOf(T0), {"rows": rows}, (Section("All serials", (table,)),))


class HashingSink:
    """A binary stream that keeps nothing but a hash and a count."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        return len(data)


def peak_bytes(rows: int, fmt: Format) -> tuple[int, int]:
    report = big_report(rows)
    sink = HashingSink()
    tracemalloc.start()
    try:
        render(report, fmt, sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, sink.size


@pytest.mark.parametrize("fmt", [Format.HTML, Format.CSV])
def test_rendering_ten_times_the_rows_keeps_peak_memory_flat(fmt: Format) -> None:
    peak_bytes(SMALL, fmt)  # first use: one-time allocations (caches, buffers) out of the way
    small_peak, small_size = peak_bytes(SMALL, fmt)
    large_peak, large_size = peak_bytes(LARGE, fmt)
    assert large_size > 9 * small_size  # the output did grow tenfold
    assert large_size > 2 * small_peak  # big enough that holding it would show in the peak
    assert large_peak < 1.3 * small_peak, (small_peak, large_peak)


def test_verifying_a_large_file_compares_it_in_place_without_copying_it() -> None:
    rows = SMALL * 3
    data = bytearray()
    render(big_report(rows), Format.HTML, data.extend)
    file_bytes = bytes(data)

    def regenerate(request: ReportRequest) -> Report:
        count = request["rows"]
        assert isinstance(count, int)
        return big_report(count)

    tracemalloc.start()
    try:
        result = verify(file_bytes, regenerate)
        _, verify_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.matches, result.reason
    assert verify_peak < len(file_bytes) / 3, (verify_peak, len(file_bytes))
