"""Report builders: the compliance, ownership and custody reports, as of any past time.

    store = ReportStore(registry, read_models)          # read_models: the live ones (allocations)
    with ReportSession(store) as session:
        report = session.build("ownership", recorded_by=t, partner="Samsung Electronics Co., Ltd.")
        render(report, "pdf", out)                      # render inside the session: rows stream from it
    with ReportSession(store) as session:
        result = verify(file_bytes, session.regenerate)  # registry.reports.verify

Each build replays the log up to the as-of time into a scratch read-model database
(:class:`~registry.reports.builders.asof.AsOfView`) that lives until the session closes, or, at the
log head, reads the live read models in one snapshot when they are exactly there; the report's
tables read it lazily while the report is written. Nothing is cached between sessions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

from projections import catalog
from projections.db import POSITIONS, table_exists
from projections.queries import Allocation, ReadModels
from registry.application.ports import BatchFilter
from registry.domain.errors import InvalidField
from registry.domain.reference import ExportAuthorization, Party
from registry.reports.builders import compliance, custody, ownership
from registry.reports.builders.asof import AsOfView, last_recorded_at
from registry.reports.builders.checkpoints import CheckpointStore
from registry.reports.builders.common import (
    AUTHORIZATION_INPUT,
    BATCH_INPUT,
    FROM_INPUT,
    PARTNER_INPUT,
    SCOPE_INPUT,
    SERIAL_INPUT,
    TO_INPUT,
    Context,
    Filters,
    ReportStore,
    describe_store,
    describe_url,
)
from registry.reports.formatting import iso_utc
from registry.reports.model import AsOf, InvalidReport, Report, ReportRequest
from registry.security.scope import ScopeIndex

BUILDERS: dict[str, Callable[[Context], Report]] = {
    compliance.KIND: compliance.build,
    ownership.KIND: ownership.build,
    custody.KIND: custody.build,
}
NEEDS: dict[str, tuple[str, ...]] = {
    compliance.KIND: compliance.NEEDS,
    ownership.KIND: ownership.NEEDS,
    custody.KIND: custody.NEEDS,
}
KINDS: tuple[str, ...] = tuple(BUILDERS)


class ReportSession:
    """Builds reports from one store; the scratch databases of its reports live until :meth:`close`.

    Each report's view replays the projections of the catalog that report reads (``NEEDS``);
    ``projections`` names others to replay instead (all of them: ``projections.catalog.report_names()``).
    At the log head a view reads the store's live read models instead when they are exactly there
    (see :class:`~registry.reports.builders.asof.AsOfView`); ``live=False`` always replays.
    ``in_memory=False`` replays chunk by chunk into the tables instead of in memory (the same bytes,
    slower; for the test that compares the two). A replay in memory starts from the latest usable
    checkpoint in the store's read-model database (``checkpoints.py``; ``checkpoints=False``: from empty)."""

    def __init__(
        self, store: ReportStore, projections: Sequence[str] | None = None, live: bool = True, in_memory: bool = True,
        checkpoints: bool = True,
    ) -> None:
        self.store = store
        self.checkpoints = checkpoints
        self.in_memory = in_memory
        self.projections = tuple(projections) if projections is not None else None
        self.live = live
        self._stack = ExitStack()

    def __enter__(self) -> ReportSession:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()

    def build(
        self,
        kind: str,
        recorded_by: datetime | None = None,
        occurred_by: datetime | None = None,
        partner: UUID | str | None = None,
        authorization: UUID | str | None = None,
        batch: UUID | str | None = None,
        serial: str | None = None,
        occurred_from: datetime | None = None,
        occurred_to: datetime | None = None,
        scope: UUID | None = None,
    ) -> Report:
        """The ``kind`` report as recorded by ``recorded_by`` (default: when the registry recorded its
        latest event) and, if given, as occurred by ``occurred_by``. ``partner``: a party id or exact
        name (the scoping a partner's own report uses); ``authorization``: an authorization id or
        number. The custody report only: ``batch`` (id or PO number), ``serial``, and the period
        ``occurred_from``..``occurred_to`` (both included) select batches and events. The compliance
        report only: ``scope``, a party id, makes it that partner's own report (what a partner's
        compliance officer gets, as the registry's access rules scope the partner: the batches whose
        buyer, consignee or end user is the party or a subsidiary, as of the report's log position; the
        findings on them; their own share of each authorization). Bad input raises InvalidField naming
        the field (``kind``, ``as_of``, ``as_occurred_by``, ``partner``, ``authorization``, ``batch``,
        ``serial``, ``occurred_from``, ``occurred_to``, ``partner_scope``)."""
        if kind not in BUILDERS:
            raise InvalidField.one("kind", f"one of {list(KINDS)}")
        custody_only = {"batch": batch, "serial": serial, "occurred_from": occurred_from, "occurred_to": occurred_to}
        for field, value in custody_only.items():
            if kind != custody.KIND and value not in (None, ""):
                raise InvalidField.one(field, "only the custody report takes this filter")
        for field, when in (("occurred_from", occurred_from), ("occurred_to", occurred_to)):
            if when is not None:
                _check_time(field, when)
        if scope is not None and kind != compliance.KIND:
            raise InvalidField.one("partner_scope", "only the compliance report is scoped to a partner (the others "
                                   "take the partner filter)")
        if occurred_from is not None and occurred_to is not None and occurred_from > occurred_to:
            raise InvalidField.one("occurred_from", "must not be later than occurred_to")
        if serial is not None and not serial.strip():
            serial = None
        if recorded_by is None:
            recorded_by = last_recorded_at(self.store.registry)
            if recorded_by is None:
                raise InvalidField.one("as_of", "the registry has recorded nothing yet; give a time")
        else:
            _check_time("as_of", recorded_by)
            if recorded_by > datetime.now(UTC):
                raise InvalidField.one(
                    "as_of",
                    "must not be in the future: a report as recorded by a time still to come would change as "
                    "events arrive",
                )
        if occurred_by is not None:
            _check_time("as_occurred_by", occurred_by)
        as_of = AsOf(recorded_by, occurred_by)
        read_models = self.store.read_models
        allocations = _allocations_at(read_models, as_of.recorded_by)
        wanted = self.projections if self.projections is not None else NEEDS[kind]
        view = AsOfView(
            self.store.registry, as_of, allocations, catalog.select(list(wanted)),
            live=read_models if self.live else None, in_memory=self.in_memory,
            checkpoints=CheckpointStore(read_models.engine) if self.checkpoints and read_models is not None else None,
        )
        self._stack.callback(view.close)
        filters = Filters(
            partner=_resolve_partner(view, partner),
            authorization=_resolve_authorization(view, authorization),
            batch=_resolve_batch(view, batch),
            serial=serial.strip() if serial is not None else None,
            occurred_from=occurred_from.astimezone(UTC) if occurred_from is not None else None,
            occurred_to=occurred_to.astimezone(UTC) if occurred_to is not None else None,
            **_scope_of(view, scope),
        )
        return BUILDERS[kind](Context(self.store, view, as_of, filters, kind))

    def regenerate(self, request: ReportRequest) -> Report:
        """The report for a recorded request (what :func:`registry.reports.verify` calls)."""
        partner = request.get(PARTNER_INPUT)
        scope = request.get(SCOPE_INPUT)
        authorization = request.get(AUTHORIZATION_INPUT)
        batch = request.get(BATCH_INPUT)
        serial = request.get(SERIAL_INPUT)
        start = request.get(FROM_INPUT)
        end = request.get(TO_INPUT)
        if not all(isinstance(v, UUID | None) for v in (partner, authorization, batch, scope)):
            raise InvalidField.one("inputs", "the partner, authorization and batch filters and the scope must be ids")
        if not isinstance(serial, str | None) or not all(isinstance(v, datetime | None) for v in (start, end)):
            raise InvalidField.one("inputs", "the serial filter must be text and the period times")
        return self.build(
            request.kind, request.as_of.recorded_by, request.as_of.occurred_by, partner, authorization,  # type: ignore[arg-type]
            batch, serial, start, end, scope,  # type: ignore[arg-type]
        )


def file_name(kind: str, recorded_by: datetime, extension: str) -> str:
    """The default file name of a report: ``ownership-report-20261231T235959Z.pdf``."""
    return f"{kind}-report-{recorded_by.astimezone(UTC):%Y%m%dT%H%M%SZ}{extension}"


def _check_time(field: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidField.one(field, "must carry a time zone (e.g. 2026-12-31T23:59:59Z or +09:00)")


def parse_time(field: str, text: str) -> datetime:
    """An ISO-8601 time with a zone (``2026-12-31T15:00:00Z``, ``...+09:00``), or a date meaning the
    end of that day in UTC (``2026-12-31`` = ``2026-12-31T23:59:59.999999Z``)."""
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time.max, UTC)
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidField.one(field, f"not an ISO-8601 time or date: {text!r}") from None
    _check_time(field, value)
    return value.astimezone(UTC)


def _resolve_partner(view: AsOfView, value: UUID | str | None) -> UUID | None:
    if value is None or value == "":
        return None
    ident = _as_uuid(value)
    when = iso_utc(view.as_of.recorded_by)
    if ident is not None:
        if not isinstance(view.aggregate(ident), Party):
            raise InvalidField.one("partner", f"no party {ident} had been registered by {when}")
        return ident
    wanted = str(value).strip().casefold()
    found = [i for i in view.ids_of("Party") if str(getattr(view.aggregate(i), "name", "")).casefold() == wanted]
    if len(found) != 1:
        problem = "no party is" if not found else f"{len(found)} parties are"
        raise InvalidField.one("partner", f"{problem} named {value!r} as of {when}; give the party's id")
    return found[0]


def _scope_of(view: AsOfView, party: UUID | None) -> dict[str, Any]:
    """A partner's scope as of the view's log position (``registry.security.scope``, the index the
    server confines partners' calls with, read only up to that position): the party, its family and
    their batches; nothing when ``party`` is None."""
    if party is None:
        return {}
    when = iso_utc(view.as_of.recorded_by)
    if not isinstance(view.aggregate(party), Party):
        raise InvalidField.one("partner_scope", f"no party {party} had been registered by {when}")
    index = ScopeIndex(view.registry)
    index.refresh(up_to=view.position)
    family = index.family(party)
    return {"scope": party, "family": family, "scope_batches": index.batches_in(family)}


def _resolve_authorization(view: AsOfView, value: UUID | str | None) -> UUID | None:
    if value is None or value == "":
        return None
    ident = _as_uuid(value)
    when = iso_utc(view.as_of.recorded_by)
    if ident is not None:
        if not isinstance(view.aggregate(ident), ExportAuthorization):
            raise InvalidField.one("authorization", f"no authorization {ident} had been registered by {when}")
        return ident
    wanted = str(value).strip()
    found = [i for i in view.ids_of("ExportAuthorization") if getattr(view.aggregate(i), "number", None) == wanted]
    if len(found) != 1:
        problem = "no authorization has" if not found else f"{len(found)} authorizations have"
        raise InvalidField.one("authorization", f"{problem} the number {wanted!r} as of {when}; give its id")
    return found[0]


def _resolve_batch(view: AsOfView, value: UUID | str | None) -> UUID | None:
    if value is None or value == "":
        return None
    ident = _as_uuid(value)
    when = iso_utc(view.as_of.recorded_by)
    if ident is not None:
        if view.read_models.get_batch(ident) is None:
            raise InvalidField.one("batch", f"no batch {ident} had been recorded by {when}")
        return ident
    wanted = str(value).strip()
    token = ""
    found: list[UUID] = []
    while True:
        page, token = view.read_models.list_batches(BatchFilter(), 500, token)
        found += [b.batch_id for b in page if b.po_number == wanted]
        if not token:
            break
    if len(found) != 1:
        problem = "no batch has" if not found else f"{len(found)} batches have"
        raise InvalidField.one("batch", f"{problem} the PO number {wanted!r} as of {when}; give the batch's id")
    return found[0]


def _as_uuid(value: UUID | str) -> UUID | None:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(value.strip())
    except ValueError:
        return None


__all__ = [
    "KINDS",
    "InvalidReport",
    "ReportSession",
    "ReportStore",
    "describe_store",
    "describe_url",
    "file_name",
    "parse_time",
]


def _allocations_at(read_models: ReadModels | None, when: datetime) -> list[Allocation]:
    """The allocations in force at ``when`` from the store's live read models; none when the store has
    no read models (a copied event store, say): the view then derives them from its own replay of the
    ownership projection, the same events."""
    if read_models is None:
        return []
    with read_models.engine.connect() as conn:
        if not table_exists(conn, POSITIONS.name):
            return []
    return read_models.allocations_at(when)
