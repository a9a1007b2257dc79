"""What every report builder shares: the store, the filters, the stated inputs, names and helpers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

from sqlalchemy import Select, Table, select

from projections.common import uuid_or_none
from projections.queries import CustodyEntry, ReadModels
from registry.application.ports import BatchFilter, BatchSummary
from registry.application.service import Registry
from registry.domain.errors import InvalidField
from registry.reports.builders.asof import AsOfView
from registry.reports.formatting import iso_utc
from registry.reports.model import AsOf, InputValue

BUILDER_VERSION = 2
"""Bump when a builder's output changes for the same store: reports made before then no longer verify,
and their "Report version" input says why."""

PARTNER_INPUT = "Partner filter"
SCOPE_INPUT = "Partner scope"
"""A partner's own compliance report: the party whose scope (``registry.security.scope``) it covers;
stated only when set, after the partner filter (reports without it keep their inputs and bytes)."""
AUTHORIZATION_INPUT = "Authorization filter"
BATCH_INPUT = "Batch filter"
SERIAL_INPUT = "Serial filter"
FROM_INPUT = "Occurred from"
TO_INPUT = "Occurred to"
CUSTODY_INPUTS = (BATCH_INPUT, SERIAL_INPUT, FROM_INPUT, TO_INPUT)
"""The custody report's own filters (the chain of custody is a filterable artefact of its own)."""
STAGE_TITLES: dict[str, str] = {
    "pending": "Pending",
    "in_transit": "In transit",
    "received": "Received",
    "installed": "Installed",
    "assigned": "Assigned",
    "rma": "RMA",
    "lost": "Lost",
    "decommissioned": "Decommissioned",
}
PAGE = 500


@dataclass(frozen=True)
class ReportStore:
    """Where reports come from: the registry (its event log), the live read models (only for the
    partners' allocations, operator data that is not in the log) and a description of the store
    for the report's inputs (no absolute paths; see :func:`describe_store`)."""

    registry: Registry
    read_models: ReadModels | None = None
    description: str = ""

    @property
    def generated_from(self) -> str:
        return self.description or describe_store(self.registry)


def describe_store(registry: Registry) -> str:
    """The event store, named without anything that varies between machines or runs: the SQLite
    file's name (not its directory), or PostgreSQL's host, port, database and schema (no password)."""
    env = registry.env
    module = str(env.get("PERSISTENCE_MODULE", ""))
    if module.endswith("sqlite"):
        name = str(env.get("SQLITE_DBNAME", ""))
        if (name.startswith("file:") and "mode=memory" in name) or name in ("", ":memory:"):
            return "SQLite event store (in memory)"
        return f"SQLite event store {name.rsplit('/', 1)[-1]}"
    if "postgres" in module.lower():
        host = env.get("POSTGRES_HOST", "")
        port = env.get("POSTGRES_PORT", "")
        db = env.get("POSTGRES_DBNAME", "")
        schema = env.get("POSTGRES_SCHEMA") or "public"
        return f"PostgreSQL event store {host}:{port}/{db} schema {schema}"
    return "event store"


def describe_url(url: str) -> str:
    """The same description from a database URL (for messages before a registry is open)."""
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        path = parts.path.lstrip("/")
        if path in ("", ":memory:"):
            return "SQLite event store (in memory)"
        return f"SQLite event store {path.rsplit('/', 1)[-1]}"
    schema = parse_qs(parts.query).get("schema", ["public"])[0]
    return f"PostgreSQL event store {parts.hostname}:{parts.port or 5432}{parts.path} schema {schema}"


@dataclass(frozen=True)
class Filters:
    """A report's filters; None means everything. ``partner``: a party id (buyer, owner or assignee
    of the units; consignee or end user on an authorization); ``authorization``: an authorization id
    (the batches cleared under it)."""

    partner: UUID | None = None
    authorization: UUID | None = None
    batch: UUID | None = None
    serial: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    scope: UUID | None = None  # a partner's own report: the party, its family and their batches below
    family: frozenset[UUID] = frozenset()
    scope_batches: frozenset[UUID] = frozenset()

    def in_scope(self, batch_id: UUID | None) -> bool:
        """Whether a batch is one the report may show (every batch when it is not a partner's own)."""
        return self.scope is None or (batch_id is not None and batch_id in self.scope_batches)

    def sees_parties(self, *parties: UUID | None) -> bool:
        """A partner's own report: whether a row about these parties (no batch) is the partner's own:
        at least one party named, all in its family (as a ListFindings answer confines findings)."""
        if self.scope is None:
            return True
        named = [p for p in parties if p is not None]
        return bool(named) and all(p in self.family for p in named)

    @property
    def narrows_events(self) -> bool:
        """True when the custody report keeps only some events of a batch (a serial or a period)."""
        return self.serial is not None or self.occurred_from is not None or self.occurred_to is not None


@dataclass
class Context:
    """What a builder works with: the view, the filters, the request's as-of times and a name cache."""

    store: ReportStore
    view: AsOfView
    as_of: AsOf
    filters: Filters
    kind: str
    custody: Any = None  # the custody totals once the batches were read (custody.keep_custody)
    derived: Any = None  # what a builder's pass over the batches derived (e.g. the compliance totals)
    kept: set[str] = field(default_factory=set)  # keys of the rows kept in the view (AsOfView.keep)
    _names: dict[UUID, str] = field(default_factory=dict)

    @property
    def registry(self) -> Registry:
        return self.store.registry

    @property
    def read_models(self) -> ReadModels:
        return self.view.read_models

    # ----------------------------------------------------------------------- inputs
    def inputs(self) -> tuple[tuple[str, InputValue], ...]:
        """The inputs every report states, in this order (the first four come from the request)."""
        basis = self.as_of.occurred_by or self.as_of.recorded_by
        rulesets = tuple(r.ruleset_id for r in self.registry.rulesets.rulesets if r.effective_from <= basis)
        groups = tuple(v.version_id for v in self.registry.country_groups.versions if v.effective_from <= basis)
        snapshots = tuple(f"{s.source} sha256:{s.sha256}" for s in self.view.screening_snapshots())
        pairs: list[tuple[str, InputValue]] = [(PARTNER_INPUT, self.filters.partner)]
        if self.filters.scope is not None:
            pairs.append((SCOPE_INPUT, self.filters.scope))
        pairs.append((AUTHORIZATION_INPUT, self.filters.authorization))
        if self.kind == "custody":
            f = self.filters
            pairs += [(BATCH_INPUT, f.batch), (SERIAL_INPUT, f.serial), (FROM_INPUT, f.occurred_from),
                      (TO_INPUT, f.occurred_to)]
        pairs += [
            ("Log position", self.view.position),
            ("Events applied", self.view.applied),
        ]
        if self.as_of.occurred_by is not None:
            pairs.append(("Events left out (occurred later)", self.view.left_out))
        pairs += [
            ("Ruleset versions", rulesets),
            ("Country-group versions", groups),
            ("Screening snapshot", snapshots or None),
            ("Generated from", self.store.generated_from),
            ("Report version", f"gpureg {self.kind} report {BUILDER_VERSION}"),
        ]
        return tuple(pairs)

    def as_of_sentence(self) -> str:
        text = f"as the registry had recorded it by {display_time(self.as_of.recorded_by)} (log position " \
               f"{self.view.position:,}, {self.view.applied:,} events)"
        if self.as_of.occurred_by is not None:
            text += (
                f", counting only what had happened by {display_time(self.as_of.occurred_by)} "
                f"({self.view.left_out:,} recorded events occurred later and are left out)"
            )
        return text

    def filter_sentence(self) -> str:
        parts = []
        if self.filters.scope is not None:
            parts.append(
                f"the batches of {self.name(self.filters.scope)} and its subsidiaries (those whose buyer, consignee "
                "or end user is one of them, as the registry's access rules scope a partner), the findings on them "
                "and their own share of each authorization: nothing of any other partner's batches or drawdown"
            )
        if self.filters.partner is not None:
            parts.append(f"partner {self.name(self.filters.partner)}")
        if self.filters.authorization is not None:
            parts.append(f"authorization {self.authorization_label(self.filters.authorization)}")
        if self.filters.batch is not None:
            parts.append(f"batch {self.filters.batch}")
        if self.filters.serial is not None:
            parts.append(f"the events of serial {self.filters.serial} (and the batch-wide events of its batch)")
        if self.filters.occurred_from is not None:
            parts.append(f"events that occurred from {display_time(self.filters.occurred_from)}")
        if self.filters.occurred_to is not None:
            parts.append(f"events that occurred by {display_time(self.filters.occurred_to)}")
        return "Filtered to " + " and ".join(parts) + "." if parts else "No filter: the whole registry."

    # ------------------------------------------------------------------------ names
    def name(self, ident: UUID | None) -> str:
        """A party's, site's or GPU model's name as of the view ('' for None, the id if unknown)."""
        if ident is None:
            return ""
        if ident not in self._names:
            agg = self.view.aggregate(ident)
            self._names[ident] = str(getattr(agg, "name", "")) or str(ident)
        return self._names[ident]

    def authorization_label(self, ident: UUID) -> str:
        auth = self.view.aggregate(ident)
        if auth is None:
            return str(ident)
        return str(auth.number or auth.exception_code or auth.auth_type)

    # ---------------------------------------------------------------------- batches
    def batches(self) -> Iterator[BatchSummary]:
        """The batches the filters select, in the order they were created (streamed a page at a time)."""
        for page in self.batch_pages():
            yield from page

    def batch_pages(self) -> Iterator[list[BatchSummary]]:
        """The batches the filters select, in the order they were created, a page at a time."""
        token = ""
        while True:
            page, token = self.read_models.list_batches(BatchFilter(partner_id=self.filters.partner), PAGE, token)
            selected = [
                summary for summary in page
                if (self.filters.authorization is None or self.cleared_under(summary.batch_id))
                and (self.filters.batch is None or summary.batch_id == self.filters.batch)
                and self.filters.in_scope(summary.batch_id)
            ]
            if selected:
                yield selected
            if not token:
                return

    def batch_rows(self, ids: Sequence[UUID]) -> dict[UUID, dict[str, Any]]:
        """The batch inventory's rows of these batches (order data, clearance status, ...), by id, read
        in a few queries; a batch with no row is absent."""
        t = self.table("batch_inventory", "batch")
        found: dict[UUID, dict[str, Any]] = {}
        for i in range(0, len(ids), PAGE):
            for r in self.rows(select(t).where(t.c.batch_id.in_(ids[i: i + PAGE]))):
                found[r["batch_id"]] = dict(r)
        return found

    def po_numbers(self, ids: Iterable[UUID]) -> dict[UUID, str]:
        """The PO numbers of these batches, by id (a batch with no row is absent)."""
        t = self.table("batch_inventory", "batch")
        wanted = list(dict.fromkeys(ids))
        found: dict[UUID, str] = {}
        for i in range(0, len(wanted), PAGE):
            stmt = select(t.c.batch_id, t.c.po_number).where(t.c.batch_id.in_(wanted[i: i + PAGE]))
            for r in self.rows(stmt):
                found[r["batch_id"]] = r["po_number"]
        return found

    def cleared_under(self, batch_id: UUID) -> bool:
        wanted = str(self.filters.authorization)
        return any(
            e.event_type == "ClearanceGranted" and str(e.detail.get("authorization_id")) == wanted
            for e in self.read_models.custody_trail(batch_id, include_ancestors=False)
        )

    def trail(self, batch_id: UUID) -> list[CustodyEntry]:
        return self.read_models.custody_trail(batch_id)

    # ------------------------------------------------------------------------ tables
    def table(self, projection: str, name: str) -> Table:
        return self.view.table(projection, name)

    def rows(self, stmt: Select[Any]) -> Iterator[Any]:
        """Stream a query's rows from the view's read models."""
        yield from self.view.rows(stmt)


# ---------------------------------------------------------------------------- helpers
def display_time(value: datetime) -> str:
    return iso_utc(value).replace("T", " ").replace("Z", " UTC")


def percent(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(100) * Decimal(part) / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)


def quantize(value: Decimal, places: str = "0.001") -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_EVEN)


def serial_range(serials: Sequence[str]) -> str:
    """Serials as a short range, the first and last joined by an en dash, then the count; one serial
    as itself; '' for none.
    Ranges of numeric serials say whether they are contiguous."""
    if not serials:
        return ""
    if len(serials) == 1:
        return serials[0]
    lengths = set(map(len, serials))
    if len(lengths) == 1:  # the usual case: ordering by (length, serial) is ordering by serial
        first, last = min(serials), max(serials)
    else:
        first = min(serials, key=lambda s: (len(s), s))
        last = max(serials, key=lambda s: (len(s), s))
    text = f"{first} \u2013 {last} ({len(serials):,})"
    if all(s.isdigit() for s in (first, last)) and int(last) - int(first) + 1 != len(serials):
        text += ", not contiguous"
    return text


def hex_uuid(value: str) -> UUID | None:
    return uuid_or_none(value)


def moves_text(moves: Sequence[Sequence[Any]]) -> str:
    """'pending → in_transit 72' for each move (the accounting an event carries)."""
    out = []
    for move in moves:
        from_key, to_key, count = str(move[0]), str(move[1]), int(move[2])
        to_stage = to_key.split("|", maxsplit=1)[0] or "split"
        out.append(f"{from_key.split('|', maxsplit=1)[0]} \u2192 {to_stage} {count:,}")
    return "; ".join(out)


def refuse_unknown(field: str, what: str, value: object, as_of: AsOf) -> InvalidField:
    return InvalidField.one(field, f"no {what} {value} as of {iso_utc(as_of.recorded_by)}")
