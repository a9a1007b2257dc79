"""Projections as an as-of view replays them: the catalog's own, less the rows no report reads.

One concept: what a view may leave out of a projection, and the guard that refuses a query on it.

The batch inventory keeps a row per serial (its batch and GPU UUID) and where the serials are, as
runs (``serial_run``); its handlers only write those rows (no other row of the projection is derived
from them), and no report reads them (reports read the batches, the buckets, and the compliance
projection's own serial runs). Writing ~260,000 serial rows is a large part of a full-scale view's
final write, so a view replays :class:`ViewBatchInventory`: the catalog's handlers, run unchanged,
with the ``serial`` and ``serial_run`` row caches replaced by a sink. Every other table's rows are
the catalog's (the test comparing the view's report bytes with the chunk-by-chunk replay of the
catalog's projections checks it), and the view's read models refuse the two serial queries instead
of answering from an empty table.

The compliance projection's handlers read its serial runs (each serial's stage, shipment, site),
so a view replays them all in memory (:class:`ViewComplianceFindings` runs the catalog's handlers
unchanged); but of those runs the reports read only the ones ``overdue`` reads, the serials still
waiting in transit or received and not installed (``WAITING_STAGE``). So the view *writes* only those
(:meth:`projections.engine.Projection.written`). ``batch_compliance``, which counts a batch's
serials, is refused by the view's read models (no report calls it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from projections.batch_inventory import BatchInventory
from projections.compliance import ComplianceFindings
from projections.compliance_clock import WAITING_STAGE
from projections.engine import Handler, Projection, Row, Work
from projections.serial_runs import RUN_TABLE

SERIAL_TABLE = "serial"
SINKS = frozenset({SERIAL_TABLE, RUN_TABLE})  # the batch inventory's caches a view replaces by a sink


class _Sink:
    """A row cache that keeps nothing: the calls the batch inventory's handlers make on its serial
    and run caches (a sink holds no runs, so a movement finds none to move). Any other call fails."""

    def prefetch(self, _keys: Iterable[Any]) -> None:
        return None

    def absent(self, *_key: Any) -> None:
        return None

    def put_many(self, _rows: Iterable[Any]) -> None:
        return None

    def put_new(self, _rows: Iterable[Any]) -> None:
        return None

    def members(self, _value: Any) -> list[Row]:
        return []

    def put(self, _row: Row) -> None:
        return None

    def delete(self, *_key: Any) -> None:
        return None


class _WithoutSerials:
    """The handler's :class:`Work`, its ``serial`` cache a sink; everything else passed through."""

    __slots__ = ("_work",)

    def __init__(self, work: Work) -> None:
        self._work = work

    def cache(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if name in SINKS:
            return _SINK
        return self._work.cache(name, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._work, name)


_SINK = _Sink()


def _without_serials(handler: Handler) -> Handler:
    def handle(work: Work, e: Any) -> None:
        handler(_WithoutSerials(work), e)  # type: ignore[arg-type]

    return handle


class ViewBatchInventory(BatchInventory):
    """The batch inventory without its per-serial rows (same name, version and tables)."""

    def handlers(self) -> Mapping[type[Any], Handler]:
        return {kind: _without_serials(h) for kind, h in super().handlers().items()}


_WAITING = frozenset(WAITING_STAGE.values())


def _waiting(row: Row) -> bool:
    return row["stage"] in _WAITING


class ViewComplianceFindings(ComplianceFindings):
    """The compliance projection, writing of its serial runs only those still waiting (same name,
    version, tables and handlers)."""

    def written(self) -> Mapping[str, Callable[[Row], bool]]:
        return {RUN_TABLE: _waiting}


def _variant(p: Projection) -> Projection:
    if type(p) is BatchInventory:
        return ViewBatchInventory()
    if type(p) is ComplianceFindings:
        return ViewComplianceFindings(p.transit_days, p.install_days)
    return p


def for_view(projections: Sequence[Projection]) -> list[Projection]:
    """The projections a view replays in place of the catalog's."""
    return [_variant(p) for p in projections]


def keeps_serials(projections: Sequence[Projection]) -> bool:
    """Whether the batch inventory among ``projections`` (if any) keeps its serial rows."""
    return not any(isinstance(p, ViewBatchInventory) for p in projections)


__all__: Sequence[str] = ("ViewBatchInventory", "ViewComplianceFindings", "for_view", "keeps_serials")
