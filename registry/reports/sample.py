"""A sample ownership report built from fixed fixture data (no store): for the rendering check
(``make report-screenshot``), the documentation image and the renderer tests.

The numbers are invented but consistent: 260,000 units across seven partners, every table's totals
agree with the summary and the charts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import NAMESPACE_URL, uuid5

from registry.reports.model import (
    AsOf,
    Cell,
    Chart,
    ChartKind,
    Column,
    ColumnType,
    Paragraph,
    Report,
    ReportRequest,
    Section,
    Series,
    Summary,
    SummaryItem,
    Table,
)

KIND = "ownership"
AS_OF = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
STAGES = ("pending", "in_transit", "received", "installed", "assigned", "rma", "lost", "decommissioned")
STAGE_TITLES = {
    "pending": "Pending",
    "in_transit": "In transit",
    "received": "Received",
    "installed": "Installed",
    "assigned": "Assigned",
    "rma": "RMA",
    "lost": "Lost",
    "decommissioned": "Decommissioned",
}

# partner: units by stage in STAGES order (each row sums to the partner's allocation)
PARTNER_UNITS: dict[str, tuple[int, ...]] = {
    "National AI Computing Center": (5_000, 2_000, 3_000, 6_000, 19_000, 0, 0, 0),
    "Samsung Electronics": (8_000, 4_000, 2_500, 10_000, 25_400, 100, 0, 0),
    "SK Group": (10_000, 5_000, 5_000, 12_000, 17_880, 80, 40, 0),
    "Hyundai Motor Group": (20_000, 6_000, 4_000, 8_000, 12_000, 0, 0, 0),
    "NAVER Cloud": (6_000, 4_000, 4_000, 16_000, 29_850, 150, 0, 0),
    "Kakao": (2_000, 1_000, 1_000, 2_000, 3_990, 10, 0, 0),
    "NHN Cloud": (1_000, 500, 500, 1_000, 1_950, 0, 0, 50),
}
# partner: (GPU model, dense FP8 petaflops per unit, allocation of units)
PARTNER_COMPUTE: dict[str, tuple[str, Decimal, int]] = {
    "National AI Computing Center": ("B200", Decimal("4.5"), 40_000),
    "Samsung Electronics": ("GB200", Decimal("5.0"), 50_000),
    "SK Group": ("RTX PRO 6000", Decimal("2.0"), 55_000),
    "Hyundai Motor Group": ("B200", Decimal("4.5"), 50_000),
    "NAVER Cloud": ("GB200", Decimal("5.0"), 64_000),
    "Kakao": ("B200", Decimal("4.5"), 12_000),
    "NHN Cloud": ("B200", Decimal("4.5"), 8_000),
}
# site: (operator, capacity MW, power in use MW)
SITES: dict[str, tuple[str, Decimal, Decimal]] = {
    "NAIC Gwangju": ("National AI Computing Center", Decimal("40.0"), Decimal("28.6")),
    "Pyeongtaek AI Factory": ("Samsung Electronics", Decimal("60.0"), Decimal("49.2")),
    "Icheon AI Campus": ("SK Group", Decimal("35.0"), Decimal("22.4")),
    "Namyang R&D Center": ("Hyundai Motor Group", Decimal("45.0"), Decimal("18.7")),
    "Gak Sejong": ("NAVER Cloud", Decimal("70.0"), Decimal("61.3")),
    "Ansan Data Center": ("Kakao", Decimal("12.0"), Decimal("7.9")),
    "Gimhae Data Center": ("NHN Cloud", Decimal("8.0"), Decimal("4.1")),
}
MONTHS = tuple(f"2026-{m:02d}" for m in range(1, 13))
DELIVERED_BY_MONTH = (4_000, 9_000, 16_000, 26_000, 39_000, 55_000, 74_000, 95_000, 118_000, 141_000, 164_000, 185_500)
INSTALLED_BY_MONTH = (0, 2_500, 7_500, 15_000, 25_000, 38_000, 54_000, 72_000, 93_000, 116_000, 140_000, 165_500)


def sample_request() -> ReportRequest:
    return ReportRequest(
        kind=KIND,
        as_of=AsOf(recorded_by=AS_OF),
        inputs=(
            ("Log position", 1_482_907),
            ("Partner filter", None),
            ("Ruleset versions", ("ear-2026.3", "kr-fta-2026.1")),
            ("Screening snapshot", "9f2c4e0b7d1a58c3e6f4b2a90d7c1e5f3a8b6d4c2e0f1a9b7c5d3e1f0a2b4c6d"),
            ("Generated from", "sqlite store var/registry.db"),
        ),
    )


def _units_by_stage_rows() -> Iterator[tuple[Cell, ...]]:
    for partner, units in PARTNER_UNITS.items():
        yield (partner, *units, sum(units))


def _compute_rows() -> Iterator[tuple[Cell, ...]]:
    for partner, (model, pflops, allocation) in PARTNER_COMPUTE.items():
        units = PARTNER_UNITS[partner]
        held = sum(units) - units[STAGES.index("lost")] - units[STAGES.index("decommissioned")]
        in_service = units[STAGES.index("installed")] + units[STAGES.index("assigned")]
        used = (Decimal(100) * Decimal(sum(units)) / Decimal(allocation)).quantize(Decimal("0.1"))
        yield (partner, model, held, in_service, pflops * in_service, allocation, used)


def _site_rows() -> Iterator[tuple[Cell, ...]]:
    for site, (operator, capacity, used) in SITES.items():
        yield (
            site,
            operator,
            capacity,
            used,
            capacity - used,
            (Decimal(100) * used / capacity).quantize(Decimal("0.1")),
        )


def _batch_rows() -> Iterator[tuple[Cell, ...]]:
    start = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
    for i, (partner, (model, _, _)) in enumerate(PARTNER_COMPUTE.items()):
        for j in range(2):
            n = i * 2 + j
            yield (
                uuid5(NAMESPACE_URL, f"gpureg:sample:batch:{n}"),
                f"PO-2026-{1001 + n}",
                partner,
                model,
                4_000 if j == 0 else 2_500,
                start + timedelta(days=17 * n, hours=3 * j),
            )


def sample_report(request: ReportRequest | None = None) -> Report:
    """The sample report for ``request`` (default :func:`sample_request`). The fixture data do not
    depend on the request; its as-of time and inputs are printed as given, so this doubles as the
    ``regenerate`` callable of :func:`registry.reports.verify` in tests."""
    request = request or sample_request()
    totals_by_stage = [sum(units[i] for units in PARTNER_UNITS.values()) for i in range(len(STAGES))]
    total_units = sum(totals_by_stage)
    in_service = totals_by_stage[STAGES.index("installed")] + totals_by_stage[STAGES.index("assigned")]
    capacity = sum((c for _, c, _ in SITES.values()), Decimal(0))
    power = sum((u for _, _, u in SITES.values()), Decimal(0))
    charted = [s for s, t in zip(STAGES, totals_by_stage, strict=True) if t]

    summary = Section(
        "Summary",
        (
            Paragraph(
                "Units of the national GPU programme by partner and stage, as the registry had recorded them "
                "by the as-of time. A unit is counted once, in its current stage; transfers move it between "
                "partners. Power figures are the sites' reported draw against their contracted capacity."
            ),
            Summary(
                "Key totals",
                (
                    SummaryItem("Units registered", total_units, "units"),
                    SummaryItem("Units in service", in_service, "units"),
                    SummaryItem("Units in transit", totals_by_stage[STAGES.index("in_transit")], "units"),
                    SummaryItem("Site power in use", power, "MW"),
                    SummaryItem("Site capacity", capacity, "MW"),
                    SummaryItem("Partners", len(PARTNER_UNITS)),
                ),
            ),
        ),
    )
    stage_columns = tuple(Column(stage, STAGE_TITLES[stage], ColumnType.INT, total=True) for stage in STAGES)
    by_partner = Section(
        "Units by partner and stage",
        (
            Chart(
                ChartKind.STACKED_BAR,
                "Units by partner and stage",
                tuple(PARTNER_UNITS),
                tuple(
                    Series(STAGE_TITLES[stage], tuple(units[STAGES.index(stage)] for units in PARTNER_UNITS.values()))
                    for stage in charted
                ),
                x_title="Partner",
                y_title="Units",
                data_table=False,
            ),
            Table(
                "Units by partner and stage",
                (
                    Column("partner", "Partner"),
                    *stage_columns,
                    Column("total", "Total", ColumnType.INT, total=True),
                ),
                _units_by_stage_rows,
            ),
            Table(
                "Compute held and allocation used",
                (
                    Column("partner", "Partner"),
                    Column("model", "GPU model"),
                    Column("held", "Units held", ColumnType.INT, total=True),
                    Column("in_service", "In service", ColumnType.INT, total=True),
                    Column("compute", "Compute in service", ColumnType.DECIMAL, unit="PFLOPS FP8", total=True),
                    Column("allocation", "Allocation", ColumnType.INT, unit="units", total=True),
                    Column("used", "Allocation used", ColumnType.DECIMAL, unit="%"),
                ),
                _compute_rows,
                note="Held excludes lost and decommissioned units; in service is installed plus assigned.",
            ),
        ),
    )
    sites = Section(
        "Site power against capacity",
        (
            Chart(
                ChartKind.BAR,
                "Power in use and contracted capacity by site",
                tuple(SITES),
                (
                    Series("Power in use", tuple(u for _, _, u in SITES.values())),
                    Series("Capacity", tuple(c for _, c, _ in SITES.values())),
                ),
                x_title="Site",
                y_title="Power",
                unit="MW",
                data_table=False,
            ),
            Table(
                "Site power",
                (
                    Column("site", "Site"),
                    Column("operator", "Operator"),
                    Column("capacity", "Capacity", ColumnType.DECIMAL, unit="MW", total=True),
                    Column("power", "In use", ColumnType.DECIMAL, unit="MW", total=True),
                    Column("headroom", "Headroom", ColumnType.DECIMAL, unit="MW", total=True),
                    Column("utilisation", "Utilisation", ColumnType.DECIMAL, unit="%"),
                ),
                _site_rows,
            ),
        ),
    )
    deployments = Section(
        "Deployments over time",
        (
            Chart(
                ChartKind.LINE,
                "Units delivered and installed, cumulative, by month",
                MONTHS,
                (Series("Delivered", DELIVERED_BY_MONTH), Series("Installed", INSTALLED_BY_MONTH)),
                x_title="Month (2026)",
                y_title="Units",
            ),
            Table(
                "Largest purchase-order batches",
                (
                    Column("batch", "Batch", ColumnType.UUID),
                    Column("po", "Purchase order"),
                    Column("partner", "Buyer"),
                    Column("model", "Model"),
                    Column("quantity", "Quantity", ColumnType.INT, total=True),
                    Column("ordered", "Ordered", ColumnType.DATETIME),
                ),
                _batch_rows,
            ),
        ),
    )
    return Report(
        kind=request.kind,
        title="Ownership and deployment of the national GPU programme",
        as_of=request.as_of,
        inputs=request.inputs,
        subtitle="Korea sovereign AI build-out: 260,000 GPUs from NVIDIA, by partner, site and month",
        sections=(summary, by_partner, sites, deployments),
    )
