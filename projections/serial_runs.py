"""Serial runs: a read model's per-serial state kept as ranges, split only where units diverge.

One concept: the ``serial_run`` table of a projection and how a movement changes it.

A batch's serials are usually consecutive (``KR-H100-000001`` .. ``KR-H100-005000``) and move
together: a shipment carries thousands, a rack holds 72. A read model that kept one row per
serial moved them one by one (about 1.3 million row updates for the full demo). Here a batch's
serials are kept as *runs*: a prefix, a width and the numbers ``first`` .. ``last`` (the serials
``prefix + str(n).zfill(width)``), all in the same state (the projection's state columns). A run
has no gaps: every number in it is a serial of the batch. Serials are split into prefix and
number exactly as :class:`~registry.domain.serials.SerialSet` splits them; a serial that does
not end in a digit (or whose number would not fit 18 digits) is a run of one of its own, keyed
``(serial, 0, 0)``.

Runs are *canonical*: after every change, neighbouring runs (``last + 1 == first``) of the same
batch, prefix and width have different states. So the rows are a function of the per-serial state
alone: a model built event by event and one rebuilt from empty hold the same rows, and a
movement splits runs only where the moved serials' state diverges from their neighbours'.

The primary key ``(batch_id, prefix, width, first)`` is the index per-serial questions go
through: the run holding a serial is the one with the greatest ``first`` at or below its number
(:func:`run_holding`). Operations go through the projection's row cache of the table (grouped by
batch: a batch's runs are loaded in one query), so chunks, memory builds, checkpoints and warm
caches work as for any other table.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import BigInteger, Column, Connection, Integer, MetaData, String, Table, select

from registry.domain.serials import SerialSet, one_run, split_serial

Row = dict[str, Any]
State = tuple[Any, ...]
SerialKey = tuple[str, int, int]  # (prefix, width, number)
Span = tuple[int, int]  # first, last (inclusive)

RUN_TABLE = "serial_run"
MAX_DIGITS = 18  # the widest number kept as a number (a BIGINT holds 18 digits)
KEY = ("batch_id", "prefix", "width", "first")


def define_runs(metadata: MetaData, name: str, batch_id: Column[Any], state: Sequence[Column[Any]]) -> Table:
    """The run table: ``batch_id`` (the given column, made the leading key), prefix, width, first,
    last, then the ``state`` columns."""
    batch_id.primary_key = True
    return Table(
        name, metadata,
        batch_id,
        Column("prefix", String(64), primary_key=True),
        Column("width", Integer, primary_key=True),
        Column("first", BigInteger, primary_key=True),
        Column("last", BigInteger, nullable=False),
        *state,
    )


# ---------------------------------------------------------------------------- serial keys
def key_of(serial: str) -> SerialKey:
    """``(prefix, width, number)`` of a serial (``(serial, 0, 0)`` when it has no usable number)."""
    parts = split_serial(serial)
    if parts is None or len(parts[1]) > MAX_DIGITS:
        return (serial, 0, 0)
    prefix, digits = parts
    return (prefix, len(digits), int(digits))


def serial_of(prefix: str, width: int, number: int) -> str:
    return prefix + str(number).zfill(width) if width else prefix


def run_serials(run: Mapping[Any, Any]) -> Iterator[str]:
    """The serials of a run, in number order."""
    prefix, width = run["prefix"], run["width"]
    if not width:
        yield prefix
        return
    for n in range(run["first"], run["last"] + 1):
        yield prefix + str(n).zfill(width)


def spans_of(serials: Iterable[str]) -> dict[tuple[str, int], list[Span]]:
    """The serials as sorted, merged spans of numbers per (prefix, width) (a ``SerialSet``'s runs
    are taken as they are, without expanding them)."""
    found: dict[tuple[str, int], list[Span]] = {}
    if isinstance(serials, str):
        raise TypeError("spans_of takes an iterable of serials, not one str")
    if not isinstance(serials, SerialSet):
        return _merged(_spans_of_list(serials))
    for part in serials.parts():
        if isinstance(part, str):
            prefix, width, n = key_of(part)
            found.setdefault((prefix, width), []).append((n, n))
            continue
        prefix, width, first, last, exceptions = part
        if width > MAX_DIGITS:
            for n in range(first, last + 1):
                if n not in exceptions:
                    serial = prefix + str(n).zfill(width)
                    found.setdefault((serial, 0), []).append((0, 0))
            continue
        spans = found.setdefault((prefix, width), [])
        start = first
        for n in sorted(exceptions):
            if n > start:
                spans.append((start, n - 1))
            start = n + 1
        if start <= last:
            spans.append((start, last))
    return _merged(found)


def _spans_of_list(serials: Iterable[str]) -> dict[tuple[str, int], list[Span]]:
    """Spans of a plain list (a registration's 5,000 serials): consecutive numbers extend a span as
    they come, without forming a ``SerialSet`` first."""
    found: dict[tuple[str, int], list[Span]] = {}
    if type(serials) is list or type(serials) is tuple:
        # The common case, one delivery's consecutive serials: one span, found without splitting
        # each serial (the loop below would extend one span over all of them the same way).
        run = one_run(serials)
        if run is not None and run[1] <= MAX_DIGITS:
            prefix, width, first, last = run
            return {(prefix, width): [(first, last)]}
    key: tuple[str, int] | None = None
    start = last = 0
    for serial in serials:
        parts = split_serial(serial)
        if parts is None or len(parts[1]) > MAX_DIGITS:
            here, n = (serial, 0), 0
        else:
            here, n = (parts[0], len(parts[1])), int(parts[1])
        if here == key and n == last + 1:
            last = n
            continue
        if key is not None:
            found.setdefault(key, []).append((start, last))
        key, start, last = here, n, n
    if key is not None:
        found.setdefault(key, []).append((start, last))
    return found


def _merged(found: dict[tuple[str, int], list[Span]]) -> dict[tuple[str, int], list[Span]]:
    """Each key's spans sorted, overlapping and adjacent ones joined."""
    for key, spans in found.items():
        spans.sort()
        merged: list[Span] = []
        for a, b in spans:
            if merged and a <= merged[-1][1] + 1:
                if b > merged[-1][1]:
                    merged[-1] = (merged[-1][0], b)
            else:
                merged.append((a, b))
        found[key] = merged
    return found


# ------------------------------------------------------------------------------ the sweep
Change = Callable[[State | None], State | None]


def sweep(runs: Sequence[Span], states: Sequence[State], spans: Sequence[Span], change: Change
          ) -> list[tuple[int, int, State]]:
    """The canonical runs after ``change`` is applied to the numbers of ``spans``.

    ``runs`` (sorted, disjoint) hold ``states``; a number in ``spans`` takes ``change(state)``
    (``state`` None where no run holds it; a None result: the number holds no serial), the other
    numbers keep theirs. Neighbouring pieces of equal state are merged."""
    points = sorted({p for a, b in runs for p in (a, b + 1)} | {p for a, b in spans for p in (a, b + 1)})
    out: list[tuple[int, int, State]] = []
    i = j = 0
    for k in range(len(points) - 1):
        a, b = points[k], points[k + 1] - 1
        while i < len(runs) and runs[i][1] < a:
            i += 1
        while j < len(spans) and spans[j][1] < a:
            j += 1
        old = states[i] if i < len(runs) and runs[i][0] <= a else None
        inside = j < len(spans) and spans[j][0] <= a
        new = change(old) if inside else old
        if new is None:
            continue
        if out and out[-1][1] + 1 == a and out[-1][2] == new:
            out[-1] = (out[-1][0], b, new)
        else:
            out.append((a, b, new))
    return out


# ---------------------------------------------------------------------------- the runs
class RunRows(Protocol):
    """What :class:`SerialRuns` needs of a row cache (:class:`projections.row_cache.RowCache`,
    grouped by ``batch_id``)."""

    def members(self, value: Any) -> list[Row]: ...

    def put(self, row: Row) -> None: ...

    def delete(self, *key: Any) -> None: ...


class SerialRuns:
    """A projection's runs of serials (the cache of its ``serial_run`` table) and their state columns."""

    def __init__(self, cache: RunRows, state: Sequence[str]) -> None:
        self.cache = cache
        self.state = tuple(state)

    def _runs(self, batch_id: Any) -> dict[tuple[str, int], list[Row]]:
        by_key: dict[tuple[str, int], list[Row]] = {}
        for r in self.cache.members(batch_id):
            by_key.setdefault((r["prefix"], r["width"]), []).append(r)
        for rows in by_key.values():
            rows.sort(key=lambda r: r["first"])
        return by_key

    def _window(self, rows: list[Row], spans: Sequence[Span], margin: int) -> list[Row]:
        """The runs within ``margin`` of the spans' extent (the others cannot change or merge)."""
        lo, hi = spans[0][0] - margin, spans[-1][1] + margin
        firsts = [r["first"] for r in rows]
        i = max(bisect.bisect_right(firsts, lo) - 1, 0)
        while i < len(rows) and rows[i]["last"] < lo:
            i += 1
        j = bisect.bisect_right(firsts, hi)
        return rows[i:j]

    def change(self, batch_id: Any, serials: Iterable[str], change: Change) -> None:
        """Apply ``change`` to the state of each of ``serials`` of the batch (see :func:`sweep`)."""
        wanted = spans_of(serials)
        if not wanted:
            return
        held = self._runs(batch_id)
        columns = self.state
        for (prefix, width), spans in wanted.items():
            window = self._window(held.get((prefix, width), []), spans, 1)
            states = [tuple(r[c] for c in columns) for r in window]
            after = sweep([(r["first"], r["last"]) for r in window], states, spans, change)
            old = {r["first"]: r for r in window}
            for a, b, state in after:
                row = {"batch_id": batch_id, "prefix": prefix, "width": width, "first": a, "last": b,
                       **dict(zip(columns, state, strict=True))}
                if old.pop(a, None) != row:
                    self.cache.put(row)
            for first in old:
                self.cache.delete(batch_id, prefix, width, first)

    def register(self, batch_id: Any, serials: Iterable[str], state: Mapping[Any, Any]) -> None:
        """The serials join the batch in ``state``."""
        fresh = tuple(state[c] for c in self.state)
        self.change(batch_id, serials, lambda _old: fresh)

    def remove(self, batch_id: Any, serials: Iterable[str]) -> None:
        """The serials leave the batch (a split re-points them to the child batch)."""
        self.change(batch_id, serials, lambda _old: None)

    def move(self, batch_id: Any, serials: Iterable[str], by: Sequence[str],
             moves: Mapping[tuple[Any, ...], Mapping[Any, Any]]) -> None:
        """Each named serial whose ``by`` columns hold a key of ``moves`` takes that move's values
        (as :meth:`projections.row_cache.RowCache.move` on per-serial rows); the others stay."""
        if not moves:
            return
        columns = self.state
        at = [columns.index(c) for c in by]
        memo: dict[State, State] = {}

        def moved(old: State | None) -> State | None:
            if old is None:
                return None
            new = memo.get(old)
            if new is None:
                to = moves.get(tuple(old[i] for i in at))
                new = old if to is None else tuple(to.get(c, v) for c, v in zip(columns, old, strict=True))
                memo[old] = new
            return new

        self.change(batch_id, serials, moved)

    def tally(self, batch_id: Any, serials: Iterable[str], columns: Sequence[str]) -> dict[tuple[Any, ...], int]:
        """How many of the named serials of the batch hold each combination of ``columns``' values
        (serials the batch does not hold are not counted)."""
        counts: dict[tuple[Any, ...], int] = {}
        wanted = spans_of(serials)
        if not wanted:
            return counts
        held = self._runs(batch_id)
        for key, spans in wanted.items():
            window = self._window(held.get(key, []), spans, 0)
            j = 0
            for r in window:
                a, b = r["first"], r["last"]
                values = tuple(r[c] for c in columns)
                while j < len(spans) and spans[j][1] < a:
                    j += 1
                k = j
                n = 0
                while k < len(spans) and spans[k][0] <= b:
                    n += min(b, spans[k][1]) - max(a, spans[k][0]) + 1
                    k += 1
                if n:
                    counts[values] = counts.get(values, 0) + n
        return counts

    def serials(self, batch_id: Any, keep: Callable[[Row], bool]) -> list[str]:
        """The batch's serials whose run ``keep`` keeps, sorted."""
        return sorted(s for r in self.cache.members(batch_id) if keep(r) for s in run_serials(r))


# --------------------------------------------------------------------------- reading them
def run_holding(conn: Connection, runs: Table, batch_id: Any, serial: str) -> Row | None:
    """The run of the batch that holds ``serial`` (one index lookup), or None."""
    prefix, width, n = key_of(serial)
    c = runs.c
    row = conn.execute(
        select(runs).where(c.batch_id == batch_id, c.prefix == prefix, c.width == width, c.first <= n)
        .order_by(c.first.desc()).limit(1)
    ).mappings().first()
    return dict(row) if row is not None and row["last"] >= n else None


class RunIndex:
    """A batch's runs, to find the one holding a serial (for a page of serials)."""

    def __init__(self, rows: Iterable[Mapping[Any, Any]]) -> None:
        by_key: dict[tuple[str, int], list[Mapping[Any, Any]]] = {}
        for r in rows:
            by_key.setdefault((r["prefix"], r["width"]), []).append(r)
        self._rows = {k: sorted(v, key=lambda r: r["first"]) for k, v in by_key.items()}
        self._firsts = {k: [r["first"] for r in v] for k, v in self._rows.items()}

    def holding(self, serial: str) -> Mapping[Any, Any] | None:
        prefix, width, n = key_of(serial)
        firsts = self._firsts.get((prefix, width))
        if not firsts:
            return None
        i = bisect.bisect_right(firsts, n) - 1
        if i < 0:
            return None
        row = self._rows[(prefix, width)][i]
        return row if row["last"] >= n else None


def expand(runs: Iterable[Mapping[Any, Any]], extra: Callable[[str, Mapping[Any, Any]], Row] | None = None
           ) -> list[Row]:
    """Per-serial rows from runs: ``serial``, ``batch_id`` and the state columns (plus ``extra``
    columns of each serial), sorted by serial: the rows a per-serial table held."""
    out: list[Row] = []
    skip = {"prefix", "width", "first", "last"}
    for r in runs:
        values = {k: v for k, v in r.items() if k not in skip}
        for serial in run_serials(r):
            row = {"serial": serial, **values}
            if extra is not None:
                row.update(extra(serial, r))
            out.append(row)
    out.sort(key=lambda row: row["serial"])
    return out
