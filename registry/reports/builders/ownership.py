"""The ownership report: per partner its units by stage, model and site, compute held against its
allocation; site power against capacity; deployments over time. Charts for each."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import func, select

from projections.common import STAGES
from projections.queries import PartnerOwnership, SiteInventoryRow
from registry.domain.errors import InvalidField
from registry.reports.builders.common import STAGE_TITLES, Context, percent
from registry.reports.model import (
    Cell,
    Chart,
    ChartKind,
    Column,
    ColumnType,
    Paragraph,
    Report,
    Section,
    Series,
    Summary,
    SummaryItem,
    Table,
)

KIND = "ownership"
NEEDS = ("batch_inventory", "ownership", "site_inventory", "custody_trail")
"""The projections this report reads (the as-of view replays only these)."""


def build(ctx: Context) -> Report:
    if ctx.filters.authorization is not None:
        raise InvalidField.one(
            "authorization",
            "the ownership report is by partner and takes no authorization filter; "
            "filter the compliance or custody report by authorization",
        )
    owners = ctx.read_models.ownership_by_partner(ctx.filters.partner)
    sites = _sites(ctx)
    months = _deployments(ctx)
    return Report(
        kind=KIND,
        title="Ownership and deployment of the national GPU programme",
        subtitle="Units by partner, model, stage and site; compute held against allocations; site power; "
        "deployments by month",
        as_of=ctx.as_of,
        inputs=ctx.inputs(),
        sections=(
            _summary(ctx, owners, sites),
            _by_partner(ctx, owners),
            _compute(ctx, owners),
            _by_model(ctx, owners),
            _by_site(ctx),
            _site_power(sites),
            _over_time(months),
        ),
    )


def _name(ctx: Context, o: PartnerOwnership) -> str:
    return o.name or ctx.name(o.partner_id)


def _units(o: PartnerOwnership) -> dict[str, int]:
    return {s: sum(m.units_by_stage.get(s, 0) for m in o.models) for s in STAGES}


def _sites(ctx: Context) -> list[SiteInventoryRow]:
    sites = ctx.read_models.site_inventory()
    if ctx.filters.partner is not None:
        sites = [s for s in sites if s.operator_id == ctx.filters.partner]
    return sites


PFLOPS = Decimal("0.01")


def pflops(value: Decimal) -> Decimal:
    """PFLOPS to two decimals, everywhere in the report (the sums are of these, so they add up)."""
    return value.quantize(PFLOPS)


# ---------------------------------------------------------------------------- sections
def _summary(ctx: Context, owners: list[PartnerOwnership], sites: list[SiteInventoryRow]) -> Section:
    units = [_units(o) for o in owners]
    allocated = [o.allocated_gpus for o in owners if o.allocated_gpus is not None]
    return Section("Summary", (
        Paragraph(
            "Units of the national GPU programme by partner, model, stage and site, "
            f"{ctx.as_of_sentence()}. A partner is the owner of a unit: its buyer until a transfer. "
            "A unit is one delivered item of its GPU model (one GPU, or a system of several). "
            "Compute and power figures come from each model's registered data. " + ctx.filter_sentence()
        ),
        Summary("Key totals", (
            SummaryItem("Partners", len(owners)),
            SummaryItem("Units registered", sum(sum(u.values()) for u in units), "units"),
            SummaryItem("GPUs held", sum(o.gpus_held for o in owners), "GPUs"),
            SummaryItem("GPUs installed", sum(o.gpus_installed for o in owners), "GPUs"),
            SummaryItem("Units in transit", sum(u["in_transit"] for u in units), "units"),
            SummaryItem("Compute held", sum((pflops(o.dense_pflops) for o in owners), Decimal("0.00")), "PFLOPS"),
            SummaryItem(
                "GPUs allocated", sum(allocated) if allocated else "not recorded", "GPUs" if allocated else None
            ),
            SummaryItem("Sites", len(sites)),
            SummaryItem("Installed power", sum((s.installed_tdp_kw for s in sites), Decimal(0)), "kW"),
            SummaryItem("Site capacity", sum((s.power_capacity_kw for s in sites), Decimal(0)), "kW"),
        )),
    ))


def _by_partner(ctx: Context, owners: list[PartnerOwnership]) -> Section:
    names = tuple(_name(ctx, o) for o in owners)
    units = [_units(o) for o in owners]
    charted = [s for s in STAGES if any(u[s] for u in units)]
    blocks: list[Chart | Table | Paragraph] = []
    if owners and charted:
        blocks.append(Chart(
            ChartKind.STACKED_BAR, "Units by partner and stage", names,
            tuple(Series(STAGE_TITLES[s], tuple(u[s] for u in units)) for s in charted),
            x_title="Partner", y_title="Units", data_table=False,
        ))
    else:
        blocks.append(Paragraph("No partner held units at the as-of time."))
    rows: list[tuple[Cell, ...]] = [
        (n, *(u[s] for s in STAGES), sum(u.values())) for n, u in zip(names, units, strict=True)
    ]
    blocks.append(Table(
        "Units by partner and stage",
        (Column("partner", "Partner"),
         *(Column(s, STAGE_TITLES[s], ColumnType.INT, total=True) for s in STAGES),
         Column("total", "Total", ColumnType.INT, total=True)),
        tuple(rows),
    ))
    return Section("Units by partner and stage", tuple(blocks), new_page=True)


def _compute(ctx: Context, owners: list[PartnerOwnership]) -> Section:
    names = tuple(_name(ctx, o) for o in owners)
    blocks: list[Chart | Table | Paragraph] = []
    if owners:
        series = [Series("GPUs held", tuple(o.gpus_held for o in owners))]
        if any(o.allocated_gpus is not None for o in owners):
            series.append(Series("Allocation", tuple(o.allocated_gpus or 0 for o in owners)))
        blocks.append(Chart(
            ChartKind.BAR, "GPUs held against each partner's allocation", names, tuple(series),
            x_title="Partner", y_title="GPUs", data_table=False,
        ))
    rows: list[tuple[Cell, ...]] = [
        (
            _name(ctx, o), o.gpus_held, o.gpus_installed, o.compute_tpp, pflops(o.dense_pflops),
            o.allocated_gpus,
            percent(o.gpus_held, o.allocated_gpus) if o.allocated_gpus else None,
        )
        for o in owners
    ]
    blocks.append(Table(
        "Compute held and allocation used",
        (Column("partner", "Partner"),
         Column("held", "GPUs held", ColumnType.INT, total=True),
         Column("installed", "Installed", ColumnType.INT, total=True),
         Column("tpp", "TPP held", ColumnType.DECIMAL, total=True),
         Column("pflops", "PFLOPS held", ColumnType.DECIMAL, total=True),
         Column("allocation", "Allocation", ColumnType.INT, total=True, empty="not recorded"),
         Column("used", "Used", ColumnType.DECIMAL, unit="%")),
        tuple(rows),
        note="In GPUs. Held: every live stage (pending through assigned); installed: installed or assigned. "
        "TPP held: the export-control Total Processing Performance per GPU times GPUs held; PFLOPS held: "
        "each model's highest dense throughput times GPUs held, in PFLOPS to two decimals. Used: GPUs held as a "
        "share of the allocation; \"not recorded\": no allocation had been recorded for the partner by the as-of "
        "time.",
    ))
    return Section("Compute held and allocation used", tuple(blocks))


def _by_model(ctx: Context, owners: list[PartnerOwnership]) -> Section:
    def rows() -> Iterator[tuple[Cell, ...]]:
        for o in owners:
            for m in o.models:
                units = [m.units_by_stage.get(s, 0) for s in STAGES]
                yield (_name(ctx, o), m.model_name, *units, sum(units), m.gpus_held)

    return Section("Units by partner, model and stage", (
        Table(
            "Units by partner, model and stage",
            (Column("partner", "Partner"), Column("model", "GPU model"),
             *(Column(s, STAGE_TITLES[s], ColumnType.INT, total=True) for s in STAGES),
             Column("total", "Total", ColumnType.INT, total=True),
             Column("gpus_held", "GPUs held", ColumnType.INT, total=True)),
            rows,
        ),
    ), new_page=True)


def _by_site(ctx: Context) -> Section:
    bucket = ctx.table("batch_inventory", "bucket")
    batch = ctx.table("batch_inventory", "batch")
    stmt = (
        select(bucket.c.owner, bucket.c.site, batch.c.model_id, bucket.c.stage, func.sum(bucket.c.units).label("units"))
        .join(batch, batch.c.batch_id == bucket.c.batch_id)
        .group_by(bucket.c.owner, bucket.c.site, batch.c.model_id, bucket.c.stage)
        .order_by(bucket.c.owner, bucket.c.site, batch.c.model_id, bucket.c.stage)
    )
    if ctx.filters.partner is not None:
        stmt = stmt.where(bucket.c.owner == ctx.filters.partner.hex)

    def rows() -> Iterator[tuple[Cell, ...]]:
        grouped: dict[tuple[str, str, UUID], dict[str, int]] = defaultdict(dict)
        for r in ctx.rows(stmt):
            grouped[(r["owner"], r["site"], r["model_id"])][r["stage"]] = int(r["units"])
        keyed = sorted(
            ((ctx.name(UUID(owner)), ctx.name(UUID(site)) if site else "", ctx.name(model), counts)
             for (owner, site, model), counts in grouped.items()),
            key=lambda x: (x[0], x[1], x[2]),
        )
        for partner, site, model, counts in keyed:
            units = [counts.get(s, 0) for s in STAGES]
            yield (partner, site or "(not at a site yet)", model, *units, sum(units))

    return Section("Units by partner, site and stage", (
        Paragraph("Where each partner's units are: the site a unit was received, installed or assigned at "
                  "(units in transit are listed under their destination site once shipped, pending units "
                  "under no site)."),
        Table(
            "Units by partner, site and stage",
            (Column("partner", "Partner"), Column("site", "Site"), Column("model", "GPU model"),
             *(Column(s, STAGE_TITLES[s], ColumnType.INT, total=True) for s in STAGES),
             Column("total", "Total", ColumnType.INT, total=True)),
            rows,
        ),
    ), new_page=True)


def _site_power(sites: list[SiteInventoryRow]) -> Section:
    blocks: list[Chart | Table | Paragraph] = [Paragraph(
        "Installed GPUs (installed or assigned) at each site and the sum of their thermal design power, "
        "against the site's registered power capacity. The chart shows the installed power as a share of "
        "capacity: above 100 % the site cannot power what it is said to hold."
    )]
    if sites:
        blocks.append(Chart(
            ChartKind.BAR, "Installed GPU power as a share of site capacity", tuple(s.name for s in sites),
            (Series("Installed TDP / capacity", tuple(percent(s.installed_tdp_kw, s.power_capacity_kw)
                                                       or Decimal(0) for s in sites)),),
            x_title="Site", y_title="Share of capacity", unit="%", data_table=False,
        ))
    blocks.append(Table(
        "Site power against capacity",
        (Column("site", "Site"), Column("country", "Country"),
         Column("gpus", "GPUs installed", ColumnType.INT, total=True),
         Column("tdp", "Installed TDP", ColumnType.DECIMAL, unit="kW", total=True),
         Column("capacity", "Capacity", ColumnType.DECIMAL, unit="kW", total=True),
         Column("headroom", "Headroom", ColumnType.DECIMAL, unit="kW", total=True),
         Column("used", "Utilisation", ColumnType.DECIMAL, unit="%"),
         Column("over", "Over capacity")),
        tuple(
            (s.name, s.country, s.installed_gpus, s.installed_tdp_kw, s.power_capacity_kw, s.power_headroom_kw,
             percent(s.installed_tdp_kw, s.power_capacity_kw), "yes" if s.over_capacity else "no")
            for s in sites
        ),
    ))
    return Section("Site power against capacity", tuple(blocks), new_page=True)


def _deployments(ctx: Context) -> list[tuple[str, int, int]]:
    """Units received at a site and units installed, per month of the business time."""
    custody = ctx.table("custody_trail", "custody")
    stmt = (
        select(custody.c.occurred_at, custody.c.moves)
        .where(custody.c.event_type.in_(("Received", "Installed")))
        .order_by(custody.c.position)
    )
    owner = ctx.filters.partner.hex if ctx.filters.partner is not None else None
    received: dict[str, int] = defaultdict(int)
    installed: dict[str, int] = defaultdict(int)
    for r in ctx.rows(stmt):
        month = _month(r["occurred_at"])
        for from_key, to_key, count in r["moves"]:
            source, target = str(from_key).split("|"), str(to_key).split("|")
            if owner is not None and target[2] != owner:
                continue
            if source[0] == "in_transit" and target[0] == "received":
                received[month] += int(count)
            elif source[0] == "received" and target[0] == "installed":
                installed[month] += int(count)
    active = sorted(set(received) | set(installed))
    if not active:
        return []
    out = []
    for month in _months(active[0], active[-1]):
        out.append((month, received.get(month, 0), installed.get(month, 0)))
    return out


def _month(value: datetime) -> str:
    return f"{value.year:04d}-{value.month:02d}"


def _months(first: str, last: str) -> Iterator[str]:
    year, month = int(first[:4]), int(first[5:])
    while f"{year:04d}-{month:02d}" <= last:
        yield f"{year:04d}-{month:02d}"
        month += 1
        if month == 13:
            year, month = year + 1, 1


def _over_time(months: list[tuple[str, int, int]]) -> Section:
    if not months:
        return Section("Deployments over time", (Paragraph("No units had been received at a site yet."),))
    cumulative: list[tuple[str, int, int, int, int]] = []
    got = put = 0
    for month, received, installed in months:
        got += received
        put += installed
        cumulative.append((month, received, installed, got, put))
    return Section("Deployments over time", (
        Paragraph("Units received at a site and units installed, by month of the business time the partner "
                  "reported (occurred_at), and their running totals."),
        Chart(
            ChartKind.LINE, "Units received and installed, cumulative, by month", tuple(m[0] for m in months),
            (Series("Received", tuple(c[3] for c in cumulative)), Series("Installed", tuple(c[4] for c in cumulative))),
            x_title="Month", y_title="Units", data_table=False,
        ),
        Table(
            "Deployments by month",
            (Column("month", "Month"),
             Column("received", "Received", ColumnType.INT, total=True),
             Column("installed", "Installed", ColumnType.INT, total=True),
             Column("received_total", "Received to date", ColumnType.INT),
             Column("installed_total", "Installed to date", ColumnType.INT)),
            tuple(cumulative),
        ),
    ), new_page=True)
