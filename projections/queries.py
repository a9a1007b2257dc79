"""Queries served from the read models (what the gRPC layer calls).

One concept: the read side's query facade, every query the gRPC layer asks of the read models, each
a small function of one projection's active tables (result types: ``query_results.py``; compliance
queries: ``compliance_queries.py``).

Every query reads the *active* generation of its projection in one read transaction. A query
that races a switch-over (the old generation's tables dropped under it) is retried once.
``wait_for_position`` gives read-your-writes: pass the position a command returned.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import Connection, Engine, Table, exc, exists, or_, select

from projections.catalog import default_projections
from projections.common import (
    INSTALLED_STAGES,
    LIVE_STAGES,
    STAGES,
    dense_pflops_per_gpu,
    tpp_per_gpu,
    uuid_or_none,
)
from projections.compliance import ComplianceFindings
from projections.compliance_queries import ComplianceQueries
from projections.db import ACTIVE, POSITIONS, reading, table_exists
from projections.engine import Generation, Projection, generations
from projections.feed import LogSource
from projections.location_queries import LocationQueries
from projections.page_tokens import decode_page_token, encode_page_token
from projections.query_results import (  # re-exported: the query results
    Allocation,
    BatchDetail,
    CustodyEntry,
    ModelHolding,
    PartnerOwnership,
    ProjectionStatus,
    SerialInfo,
    SiteInventoryRow,
    SiteModelInventory,
)
from projections.serial_runs import RUN_TABLE, RunIndex, run_holding
from registry.application.ports import BatchFilter, BatchSummary, EventLog
from registry.domain.errors import InvalidField, ReadModelRebuilding

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# ListBatches' stage filter. A unit stage matches every batch holding at least one unit in that
# stage (a batch with 2 units installed and 142 assigned is found under both); a batch-only
# stage (the clearance steps of pending units, and closed) matches the batch's one-word stage.
UNIT_STAGE_FILTERS = STAGES
BATCH_ONLY_STAGES = ("ordered", "clearance_requested", "cleared", "clearance_denied", "clearance_revoked", "closed")
BATCH_STAGES = (*BATCH_ONLY_STAGES, *UNIT_STAGE_FILTERS)




def _position_token(token: str) -> int:
    value = decode_page_token(token)
    if not value:
        return 0
    if not value.isdigit():
        raise InvalidField.one("page_token", "not a token this service returned")
    return int(value)


def _page_size(page_size: int) -> int:
    if page_size < 0:
        raise InvalidField.one("page_size", "must be >= 0 (0 means the default)")
    return min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# ------------------------------------------------------------------------------ queries
__all__ = [
    "Allocation", "BatchDetail", "CustodyEntry", "ModelHolding", "PartnerOwnership", "ProjectionStatus",
    "ReadModels", "SerialInfo", "SiteInventoryRow", "SiteModelInventory", "decode_page_token", "encode_page_token",
]


class ReadModels(ComplianceQueries, LocationQueries):
    """The read side: implements :class:`registry.application.ports.BatchListing` and
    :class:`~registry.application.ports.FindingLookup` (compliance queries: ComplianceQueries)."""

    def __init__(
        self,
        engine: Engine,
        registry: EventLog | None = None,
        projections: Sequence[Projection] | None = None,
    ) -> None:
        self.engine = engine
        self.source = LogSource(registry) if registry is not None else None
        self.projections = {
            p.name: p for p in (projections if projections is not None else default_projections())
        }

    # ---------------------------------------------------------------------- plumbing
    def _tables(self, conn: Connection, name: str) -> dict[str, Table] | None:
        active = [g for g in generations(conn, name) if g.status == ACTIVE]
        if not active:
            return None
        projection = self.projections[name]
        if active[0].version != projection.version:  # an upgrade's rebuild has not switched over
            raise ReadModelRebuilding(name, active[0].version, projection.version)
        return projection.tables(active[0].generation)

    def _read(self, name: str, query: Callable[[Connection, dict[str, Table]], T], empty: T) -> T:
        for attempt in range(2):
            try:
                with reading(self.engine) as conn:
                    tables = self._tables(conn, name)
                    return empty if tables is None else query(conn, tables)
            except (exc.ProgrammingError, exc.OperationalError):
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------------ batches
    def list_batches(
        self, f: BatchFilter, page_size: int, page_token: str
    ) -> tuple[list[BatchSummary], str]:
        """Batches matching ``f``, oldest first, a page at a time."""
        size = _page_size(page_size)
        after = _position_token(page_token)
        if f.stage is not None and f.stage not in BATCH_STAGES:
            raise InvalidField.one("stage", f"one of {list(BATCH_STAGES)}")

        def query(conn: Connection, t: dict[str, Table]) -> tuple[list[BatchSummary], str]:
            b, k = t["batch"], t["bucket"]
            stmt = select(b).where(b.c.created_position > after)
            if f.model_id is not None:
                stmt = stmt.where(b.c.model_id == f.model_id)
            if f.stage in UNIT_STAGE_FILTERS:
                stmt = stmt.where(b.c[f"units_{f.stage}"] > 0)
            elif f.stage is not None:
                stmt = stmt.where(b.c.stage == f.stage)
            if f.country is not None:
                stmt = stmt.where(b.c.destination_country == f.country)
            if f.site_id is not None:
                stmt = stmt.where(exists().where(k.c.batch_id == b.c.batch_id, k.c.site == f.site_id.hex))
            if f.partner_id is not None:
                p = f.partner_id.hex
                stmt = stmt.where(or_(
                    b.c.buyer_id == f.partner_id,
                    exists().where(k.c.batch_id == b.c.batch_id, or_(k.c.owner == p, k.c.assignee == p)),
                ))
            rows = list(conn.execute(stmt.order_by(b.c.created_position).limit(size + 1)).mappings())
            more = len(rows) > size
            rows = rows[:size]
            sites = _sites_by_batch(conn, k, [r["batch_id"] for r in rows])
            token = encode_page_token(rows[-1]["created_position"]) if more else ""
            return [_summary(r, sites.get(r["batch_id"], [])) for r in rows], token

        no_batches: tuple[list[BatchSummary], str] = ([], "")
        return self._read("batch_inventory", query, no_batches)

    def get_batch(self, batch_id: UUID) -> BatchDetail | None:
        def query(conn: Connection, t: dict[str, Table]) -> BatchDetail | None:
            b, k = t["batch"], t["bucket"]
            row = conn.execute(select(b).where(b.c.batch_id == batch_id)).mappings().first()
            if row is None:
                return None
            buckets = list(conn.execute(select(k).where(k.c.batch_id == batch_id)).mappings())
            sites = sorted({UUID(x["site"]) for x in buckets if x["site"]}, key=str)
            return BatchDetail(
                summary=_summary(row, sites),
                parent_id=row["parent_id"],
                supplier_id=row["supplier_id"],
                unit_price=Decimal(row["unit_price"]),
                currency=row["currency"],
                allocation_program=row["allocation_program"],
                clearance_status=row["clearance_status"],
                authorization_number=row["authorization_number"],
                ordered=row["ordered"],
                requested=row["requested"],
                cleared=row["cleared"],
                serials=row["serials"],
                totals={c.removeprefix("total_"): row[c] for c in row if c.startswith("total_")},
                owner_ids=sorted({UUID(x["owner"]) for x in buckets if x["owner"]}, key=str),
                assignee_ids=sorted({UUID(x["assignee"]) for x in buckets if x["assignee"]}, key=str),
            )

        return self._read("batch_inventory", query, None)

    def batch_units(
        self, batch_id: UUID, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[SerialInfo], str]:
        """The serials of a batch with where each is, by serial, a page at a time."""
        size = _page_size(page_size)
        after = decode_page_token(page_token)

        def query(conn: Connection, t: dict[str, Table]) -> tuple[list[SerialInfo], str]:
            s, runs = t["serial"], t[RUN_TABLE]
            stmt = select(s).where(s.c.batch_id == batch_id, s.c.serial > after)
            rows = list(conn.execute(stmt.order_by(s.c.serial).limit(size + 1)).mappings())
            more = len(rows) > size
            rows = rows[:size]
            token = encode_page_token(rows[-1]["serial"]) if more else ""
            if not rows:
                return [], token
            index = RunIndex(conn.execute(select(runs).where(runs.c.batch_id == batch_id)).mappings())
            return [_serial(r, index.holding(r["serial"])) for r in rows], token

        no_units: tuple[list[SerialInfo], str] = ([], "")
        return self._read("batch_inventory", query, no_units)

    def serial(self, serial: str) -> SerialInfo | None:
        """Where one GPU is (serials are compared in upper case without surrounding space)."""
        wanted = serial.strip().upper()

        def query(conn: Connection, t: dict[str, Table]) -> SerialInfo | None:
            s = t["serial"]
            row = conn.execute(select(s).where(s.c.serial == wanted)).mappings().first()
            if row is None:
                return None
            return _serial(row, run_holding(conn, t[RUN_TABLE], row["batch_id"], row["serial"]))

        return self._read("batch_inventory", query, None)

    # ----------------------------------------------------------------------- ownership
    def ownership_by_partner(self, partner_id: UUID | None = None) -> list[PartnerOwnership]:
        """Per partner (owner): units and GPUs per model and stage, compute held, allocation."""
        allocations = {a.partner_id: a for a in self.allocations()}

        def query(conn: Connection, t: dict[str, Table]) -> list[PartnerOwnership]:
            h = t["holding"]
            stmt = select(h)
            if partner_id is not None:
                stmt = stmt.where(h.c.partner_id == partner_id)
            holdings = list(conn.execute(stmt).mappings())
            models = {r["model_id"]: r for r in conn.execute(select(t["gpu_model"])).mappings()}
            parties = {r["party_id"]: r for r in conn.execute(select(t["party"])).mappings()}
            units: dict[UUID, dict[UUID, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
            for r in holdings:
                units[r["partner_id"]][r["model_id"]][r["stage"]] = r["units"]
            partners = set(units)
            if partner_id is not None:
                partners.add(partner_id)
            else:
                partners |= set(allocations)
            out = [
                _ownership(p, units.get(p, {}), models, parties.get(p), allocations.get(p))
                for p in partners
            ]
            return sorted(out, key=lambda o: (o.name, str(o.partner_id)))

        fallback = [] if partner_id is None else [
            _ownership(partner_id, {}, {}, None, allocations.get(partner_id))
        ]
        return self._read("ownership", query, fallback)

    # -------------------------------------------------------------------------- sites
    def site_inventory(self, site_id: UUID | None = None) -> list[SiteInventoryRow]:
        """Per site: units per model and stage, installed GPUs and their TDP against capacity."""

        def query(conn: Connection, t: dict[str, Table]) -> list[SiteInventoryRow]:
            u, s = t["site_units"], t["site"]
            unit_stmt = select(u)
            site_stmt = select(s)
            if site_id is not None:
                unit_stmt = unit_stmt.where(u.c.site_id == site_id)
                site_stmt = site_stmt.where(s.c.site_id == site_id)
            sites = {r["site_id"]: r for r in conn.execute(site_stmt).mappings()}
            models = {r["model_id"]: r for r in conn.execute(select(t["gpu_model"])).mappings()}
            units: dict[UUID, dict[UUID, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
            for r in conn.execute(unit_stmt).mappings():
                units[r["site_id"]][r["model_id"]][r["stage"]] = r["units"]
            ids = set(sites) | set(units)
            out = [_site(i, sites.get(i), units.get(i, {}), models) for i in ids]
            return sorted(out, key=lambda x: (x.name, str(x.site_id)))

        return self._read("site_inventory", query, [])

    # ------------------------------------------------------------------------ custody
    def custody_trail(self, batch_id: UUID, include_ancestors: bool = True) -> list[CustodyEntry]:
        """Every event of a batch, oldest first. A batch split from another starts with its
        parent's trail up to the split (``include_ancestors``)."""

        def query(conn: Connection, t: dict[str, Table]) -> list[CustodyEntry]:
            c = t["custody"]
            trail: list[CustodyEntry] = []
            current: UUID | None = batch_id
            before: int | None = None
            seen: set[UUID] = set()
            while current is not None and current not in seen:
                seen.add(current)
                stmt = select(c).where(c.c.batch_id == current)
                if before is not None:
                    stmt = stmt.where(c.c.position < before)
                rows = [_custody(r) for r in conn.execute(stmt.order_by(c.c.position)).mappings()]
                trail = rows + trail
                current = None
                if include_ancestors and rows and rows[0].event_type == "SplitFrom":
                    current = UUID(str(rows[0].detail["parent_id"]))
                    before = rows[0].position
            return trail

        return self._read("custody_trail", query, [])

    # -------------------------------------------------------------------- allocations
    def allocations(self) -> list[Allocation]:
        """Every partner's allocation in force now (set by ``SetAllocation`` events)."""
        return self.allocations_at(datetime.now(UTC))

    def allocations_at(self, when: datetime, effective_at: datetime | None = None) -> list[Allocation]:
        """The allocations as recorded by ``when`` and in force at ``effective_at`` (default:
        ``when``): per partner, of the values recorded by ``when`` that are effective by
        ``effective_at``, the one with the latest effective date (the latest recorded among equal
        dates); none when that is a removal. Derived from the ``PartnerAllocation`` events by the
        ownership projection (``allocation``), so deleting the read models loses nothing."""
        effective = effective_at or when
        with reading(self.engine) as conn:
            if not table_exists(conn, POSITIONS.name):
                return []  # no read models here yet (a store nobody projected): no allocations known

        def query(conn: Connection, t: dict[str, Table]) -> list[Allocation]:
            a = t["allocation"]
            latest: dict[UUID, Any] = {}
            for r in conn.execute(select(a).order_by(a.c.partner_id, a.c.seq)).mappings():
                if _aware(r["recorded_at"]) > when or _aware(r["effective_from"]) > effective:
                    continue
                prior = latest.get(r["partner_id"])
                if prior is None or _aware(r["effective_from"]) >= _aware(prior["effective_from"]):
                    latest[r["partner_id"]] = r
            return [
                Allocation(p, r["gpus"], r["reason"], _aware(r["recorded_at"]), _aware(r["effective_from"]), r["actor"])
                for p, r in sorted(latest.items(), key=lambda kv: str(kv[0]))
                if r["gpus"] is not None
            ]

        return self._read("ownership", query, [])

    # ----------------------------------------------------------------------- progress
    def _source(self) -> LogSource:
        if self.source is None:
            raise RuntimeError("ReadModels needs the registry to report the log head and lag")
        return self.source

    def projection_status(self, now: datetime | None = None) -> list[ProjectionStatus]:
        """Each projection generation's position, the log head, and the lag in events and
        seconds (how long the oldest event not applied yet has been waiting)."""
        source = self._source()
        now = now or datetime.now(UTC)
        with reading(self.engine) as conn:
            gens = generations(conn)
        head = source.head()
        counts: dict[int, int] = {}
        waited: dict[int, float] = {}

        def lag(position: int) -> tuple[int, float]:
            if position not in counts:
                counts[position] = source.count_after(position) if position < head else 0
                first = source.recorded_at_after(position) if counts[position] else None
                waited[position] = max((now - first).total_seconds(), 0.0) if first else 0.0
            return counts[position], waited[position]

        out: list[ProjectionStatus] = []
        for name, p in self.projections.items():
            mine = [g for g in gens if g.name == name]
            if not mine:
                mine = [Generation(name, 0, p.version, "not started", 0)]
            for g in mine:
                events, seconds = lag(g.position)
                out.append(ProjectionStatus(
                    name=name, code_version=p.version, version=g.version, generation=g.generation,
                    state=g.status, position=g.position, head=head, lag_events=events,
                    lag_seconds=seconds, worker=g.worker, updated_at=g.updated_at,
                ))
        return out

    def positions(self, names: Iterable[str] | None = None) -> dict[str, int]:
        """The active generation's position of each named projection (absent: not started)."""
        wanted = set(names) if names is not None else set(self.projections)
        with reading(self.engine) as conn:
            return {
                g.name: g.position
                for g in generations(conn)
                if g.status == ACTIVE and g.name in wanted
            }

    def reached(self, position: int, timeout: float) -> bool:
        """Whether the compliance read model has applied the log up to ``position`` (waiting up
        to ``timeout`` seconds): :class:`registry.application.ports.ReferenceQueries`."""
        if ComplianceFindings.name not in self.projections:
            return False
        return self.wait_for_position(position, timeout, [ComplianceFindings.name])

    def wait_for_position(
        self, position: int, timeout: float, names: Sequence[str] | None = None
    ) -> bool:
        """Read-your-writes: True as soon as every named projection (default: all) has applied
        the log up to ``position``; False when ``timeout`` seconds pass first."""
        wanted = list(names) if names is not None else list(self.projections)
        unknown = [n for n in wanted if n not in self.projections]
        if unknown:
            raise InvalidField.one("projections", f"unknown {unknown}; known: {sorted(self.projections)}")
        deadline = time.monotonic() + max(timeout, 0.0)
        pause = 0.005
        while True:
            reached = self.positions(wanted)
            if all(reached.get(n, -1) >= position for n in wanted):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.05)


# ------------------------------------------------------------------------------ shaping
def _sites_by_batch(conn: Connection, bucket: Table, ids: list[UUID]) -> dict[UUID, list[UUID]]:
    if not ids:
        return {}
    stmt = select(bucket.c.batch_id, bucket.c.site).where(
        bucket.c.batch_id.in_(ids), bucket.c.site != ""
    ).distinct()
    found: dict[UUID, set[UUID]] = defaultdict(set)
    for batch_id, site in conn.execute(stmt):
        found[batch_id].add(UUID(site))
    return {k: sorted(v, key=str) for k, v in found.items()}


def _summary(r: Any, sites: list[UUID]) -> BatchSummary:
    return BatchSummary(
        batch_id=r["batch_id"],
        po_number=r["po_number"],
        model_id=r["model_id"],
        buyer_id=r["buyer_id"],
        stage=r["stage"],
        quantity=r["quantity"],
        destination_country=r["destination_country"],
        units_by_stage={s: r[f"units_{s}"] for s in STAGES},
        site_ids=sites,
        version=r["version"],
    )


def _serial(r: Any, run: Mapping[str, Any] | None) -> SerialInfo:
    """A serial's row (batch, GPU UUID) and the run that holds it (where it is)."""
    if run is None:  # every registered serial is in a run of its batch
        raise LookupError(f"serial {r['serial']} has no run in batch {r['batch_id']}")
    return SerialInfo(
        serial=r["serial"], batch_id=r["batch_id"], gpu_uuid=r["gpu_uuid"], stage=run["stage"],
        site_id=uuid_or_none(run["site"]), owner_id=uuid_or_none(run["owner"]),
        assignee_id=uuid_or_none(run["assignee"]), shipment_id=run["shipment_id"], rack=run["rack"],
        host=run["host"],
    )


def _model_figures(model: Any) -> tuple[str, int, Decimal, Decimal, Decimal]:
    """name, GPUs per unit, TPP per GPU, dense PFLOPS per GPU, TDP kW per GPU."""
    if model is None:
        return "(unknown model)", 1, Decimal(0), Decimal(0), Decimal(0)
    return (
        model["name"],
        int(model["gpus_per_unit"]),
        tpp_per_gpu(model["dense_tops"], model["bit_lengths"]),
        dense_pflops_per_gpu(model["dense_tops"]),
        Decimal(int(model["tdp_watts"])) / 1000,
    )


def _ownership(
    partner_id: UUID,
    units: dict[UUID, dict[str, int]],
    models: dict[UUID, Any],
    party: Any,
    allocation: Allocation | None,
) -> PartnerOwnership:
    holdings: list[ModelHolding] = []
    gpus_by_stage: dict[str, int] = dict.fromkeys(STAGES, 0)
    for model_id, by_stage in sorted(units.items(), key=lambda kv: str(kv[0])):
        name, per_unit, tpp, pflops, _ = _model_figures(models.get(model_id))
        gpus = {s: by_stage.get(s, 0) * per_unit for s in STAGES}
        held = sum(gpus[s] for s in LIVE_STAGES)
        for s in STAGES:
            gpus_by_stage[s] += gpus[s]
        holdings.append(ModelHolding(
            model_id=model_id, model_name=name,
            units_by_stage={s: by_stage.get(s, 0) for s in STAGES}, gpus_by_stage=gpus,
            gpus_held=held, compute_tpp=tpp * held, dense_pflops=pflops * held,
        ))
    held = sum(gpus_by_stage[s] for s in LIVE_STAGES)
    allocated = allocation.gpus if allocation is not None else None
    return PartnerOwnership(
        partner_id=partner_id,
        name=party["name"] if party is not None else "",
        country=party["country"] if party is not None else "",
        gpus_by_stage=gpus_by_stage,
        gpus_held=held,
        gpus_installed=sum(gpus_by_stage[s] for s in INSTALLED_STAGES),
        compute_tpp=sum((h.compute_tpp for h in holdings), Decimal(0)),
        dense_pflops=sum((h.dense_pflops for h in holdings), Decimal(0)),
        allocated_gpus=allocated,
        allocation_used=(Decimal(held) / allocated) if allocated else None,
        models=holdings,
    )


def _site(
    site_id: UUID, site: Any, units: dict[UUID, dict[str, int]], models: dict[UUID, Any]
) -> SiteInventoryRow:
    per_model: list[SiteModelInventory] = []
    by_stage: dict[str, int] = dict.fromkeys(STAGES, 0)
    for model_id, counts in sorted(units.items(), key=lambda kv: str(kv[0])):
        name, per_unit, _, _, kw = _model_figures(models.get(model_id))
        installed = sum(counts.get(s, 0) for s in INSTALLED_STAGES) * per_unit
        for s in STAGES:
            by_stage[s] += counts.get(s, 0)
        per_model.append(SiteModelInventory(
            model_id=model_id, model_name=name,
            units_by_stage={s: counts.get(s, 0) for s in STAGES},
            installed_gpus=installed, tdp_kw=kw * installed,
        ))
    capacity = Decimal(site["power_capacity_kw"]) if site is not None else Decimal(0)
    tdp = sum((m.tdp_kw for m in per_model), Decimal(0))
    return SiteInventoryRow(
        site_id=site_id,
        name=site["name"] if site is not None else "",
        country=site["country"] if site is not None else "",
        operator_id=site["operator_id"] if site is not None else None,
        power_capacity_kw=capacity,
        installed_gpus=sum(m.installed_gpus for m in per_model),
        installed_tdp_kw=tdp,
        power_headroom_kw=capacity - tdp,
        over_capacity=tdp > capacity,
        units_by_stage=by_stage,
        models=per_model,
    )


def _custody(r: Any) -> CustodyEntry:
    return CustodyEntry(
        position=r["position"], batch_id=r["batch_id"], version=r["version"],
        event_type=r["event_type"], actor=r["actor"], request_id=r["request_id"],
        occurred_at=_aware(r["occurred_at"]), recorded_at=_aware(r["recorded_at"]),
        quantity=r["quantity"], serials=list(r["serials"]), site_id=r["site_id"],
        detail=dict(r["detail"]), moves=list(r["moves"]),
    )
