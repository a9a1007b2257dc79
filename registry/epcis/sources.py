"""Which stored events an EPCIS export covers: one batch's, the whole log's, or one partner's.

Each source yields EPCIS events through :class:`registry.epcis.export.Translator`, in log order.
A partner's source finds the partner's batches from the three event types that name parties
(filtered by topic in the store) and decodes only those batches' events; the others are passed
over by their aggregate id, undecoded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from registry.application.service import Registry
from registry.domain.batch import GpuBatch
from registry.domain.claims import RequestRecord
from registry.domain.errors import NotFound
from registry.epcis.export import Event, Translator


def batch_events(
    registry: Registry, batch_id: UUID, visible: Callable[[UUID], bool] | None = None
) -> Iterator[Event]:
    """One batch's history as EPCIS events (NotFound if there is no such batch, or if
    ``visible`` does not admit it: another partner's batch is answered as a missing one)."""
    if visible is not None and not visible(batch_id):
        raise NotFound("batch", batch_id)
    registry.get_batch(batch_id)
    translator = Translator(registry, splits_at_parent=True, captured_by=captured_by(visible),
                            sees_party=sees_party(visible))
    after = 0
    while True:
        page = registry.history(batch_id, after_version=after, limit=500)
        if not page:
            return
        for stored in page:
            yield from translator.events(stored)
        after = page[-1].originator_version


def log_events(
    registry: Registry, after: int = 0, stop: int | None = None, visible: Callable[[UUID], bool] | None = None
) -> Iterator[tuple[int, Event]]:
    """Every batch event after log position ``after`` (up to ``stop``), with its position; only
    the events of batches ``visible`` admits when given (a partner's reach)."""
    translator = Translator(registry, captured_by=captured_by(visible), sees_party=sees_party(visible))
    # A captured event waits for its request record (the event as captured), which its command
    # wrote just after it, so that the record read with the log is not read again.
    waiting: list[tuple[int, Any]] = []
    for position, stored in registry.iter_log(after=after, stop=stop):
        if isinstance(stored, RequestRecord.Handled):
            translator.captured.note(stored)
        elif visible is None or _visible(stored, visible):
            waiting.append((position, stored))
        if not waiting:  # the records met so far are of events not exported here
            translator.captured.forget()
        elif len(waiting) >= _MAX_WAITING or not any(translator.awaits_record(s) for _, s in waiting):
            yield from _render(translator, waiting)
    yield from _render(translator, waiting)


#: At most this many events wait for a record (a command's events and its record are one write).
_MAX_WAITING = 64


def _render(translator: Translator, waiting: list[tuple[int, Any]]) -> Iterator[tuple[int, Event]]:
    """The waiting events' EPCIS events, in log order (emptying ``waiting``)."""
    taken = list(waiting)
    waiting.clear()
    for position, stored in taken:
        for out in translator.events(stored):
            yield position, out
    translator.captured.forget()


def captured_by(visible: Callable[[UUID], bool] | None) -> str | None:
    """Whose captured events a confined reader sees as captured: the subject its reach names
    (:class:`registry.security.grants.Reach`); None: every captured event as captured."""
    return getattr(visible, "subject", None) if visible is not None else None


def sees_party(visible: Callable[[UUID], bool] | None) -> Callable[[UUID], bool] | None:
    """A confined reader's party view (:class:`registry.security.grants.Reach`): which parties it
    may see named (an onward movement's recipient); None: every party."""
    return getattr(visible, "sees_party", None) if visible is not None else None


def _visible(stored: Any, visible: Callable[[UUID], bool]) -> bool:
    batch = getattr(stored, "originator_id", None)
    return isinstance(batch, UUID) and visible(batch)


def partner_events(
    registry: Registry, party_id: UUID, after: int = 0, visible: Callable[[UUID], bool] | None = None
) -> Iterator[Event]:
    """The events of every batch the party ordered, supplied, is consignee or end user of."""
    return (e for _, e in partner_log_events(registry, party_id, after, visible))


def partner_log_events(
    registry: Registry, party_id: UUID, after: int = 0, visible: Callable[[UUID], bool] | None = None
) -> Iterator[tuple[int, Event]]:
    """:func:`partner_events` with log positions; only batches ``visible`` admits when given.

    The partner's batches are found from the three event types that name parties (the store
    filters them by topic), and of the log after ``after`` only those batches' events are decoded:
    other partners' events are skipped by their aggregate id, undecoded."""
    batches: set[UUID] = set()
    for _, stored in registry.iter_log(topics=_PARTY_TOPICS):
        named: tuple[UUID, ...] = ()
        if isinstance(stored, GpuBatch.Ordered | GpuBatch.SplitFrom):
            named = (stored.buyer_id, stored.supplier_id)
        elif isinstance(stored, GpuBatch.ClearanceRequested):
            named = (stored.consignee_id, stored.end_user_id)
        if party_id in named:
            batches.add(stored.originator_id)
    if not batches:
        return
    translator = Translator(registry, captured_by=captured_by(visible), sees_party=sees_party(visible))
    for position, stored in registry.iter_log(after, aggregates=batches):
        if visible is None or _visible(stored, visible):
            for out in translator.events(stored):
                yield position, out


_PARTY_TOPICS = tuple(get_topic(cls) for cls in (GpuBatch.Ordered, GpuBatch.SplitFrom, GpuBatch.ClearanceRequested))
