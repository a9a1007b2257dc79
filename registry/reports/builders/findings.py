"""The findings part of the compliance report, from the compliance projection (replayed into the
as-of view like every other projection): open findings by severity, each finding with its rule,
citation, what it says and its resolution trail, and the shipments and installations outstanding at
the as-of time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from uuid import UUID

from projections.compliance_queries import Finding, FindingFilter
from projections.findings import SEVERITIES
from registry.domain.compliance_rules import RULES
from registry.domain.findings import FindingStatus
from registry.reports.builders.common import Context, serial_range
from registry.reports.model import (
    Block,
    Cell,
    Chart,
    ChartKind,
    Column,
    ColumnType,
    Paragraph,
    Series,
    Summary,
    SummaryItem,
    Table,
)

PAGE = 500
BY_SEVERITY = tuple(reversed(SEVERITIES))  # critical first
STATUSES = tuple(s.value for s in FindingStatus)


KEY = "compliance/findings"


def findings(ctx: Context) -> Iterator[Finding]:
    """The findings the filters select, in the order they were raised. With an authorization filter:
    the findings naming the authorization or a batch cleared under it. Read from the view once (a page
    at a time) and kept in it (:meth:`AsOfView.keep`): the report lists them in several tables, each
    rendering pass reads them back."""
    if KEY not in ctx.kept:
        ctx.view.keep(KEY, ((f,) for f in _selected(ctx)))
        ctx.kept.add(KEY)
    for (f,) in ctx.view.kept(KEY):
        yield f


def _selected(ctx: Context) -> Iterator[Finding]:
    token = ""
    cleared: dict[UUID, bool] = {}
    while True:
        page, token = ctx.read_models.list_findings(FindingFilter(partner_id=ctx.filters.partner), PAGE, token)
        for f in page:
            if not (ctx.filters.in_scope(f.batch_id) if f.batch_id is not None
                    else ctx.filters.sees_parties(f.partner_id, f.party_id)):
                continue
            wanted = ctx.filters.authorization
            if wanted is not None and f.authorization_id != wanted:
                if f.batch_id is None:
                    continue
                if f.batch_id not in cleared:
                    cleared[f.batch_id] = ctx.cleared_under(f.batch_id)
                if not cleared[f.batch_id]:
                    continue
            yield f
        if not token:
            return


def _order(f: Finding) -> tuple[int, int]:
    rank = BY_SEVERITY.index(f.severity) if f.severity in BY_SEVERITY else len(BY_SEVERITY)
    return (0 if _open(f.status) else 1, rank)


def ordered(ctx: Context) -> list[Finding]:
    """The selected findings as an auditor reads them: open (and acknowledged) ones first, the most
    severe first, then in the order they were raised (the sort is stable)."""
    return sorted(findings(ctx), key=_order)


def _counts(ctx: Context) -> Counter[tuple[str, str]]:
    return Counter((f.severity, f.status) for f in findings(ctx))


def _open(status: str) -> bool:
    return status != FindingStatus.RESOLVED.value


def summary(ctx: Context) -> Iterator[Block]:
    counts = _counts(ctx)
    yield Summary("Open findings by severity", (
        *(SummaryItem(s.capitalize(), sum(n for (sev, st), n in counts.items() if sev == s and _open(st)))
          for s in BY_SEVERITY),
        SummaryItem("Resolved", sum(n for (_, st), n in counts.items() if not _open(st))),
    ))


def blocks(ctx: Context) -> Iterator[Block]:
    yield Paragraph(
        "Facts the registry recorded that break a rule are raised as findings by the compliance projection, "
        "replayed to the as-of time: each names its rule and where the rule comes from, the batch, shipment and "
        "units concerned, and what the facts were. A finding stays open (or acknowledged) until a compliance "
        "officer resolves it with a note; the trail lists every step. Detected is when the registry recorded the "
        "fact that revealed it; occurred is that fact's business time."
    )
    counts = _counts(ctx)
    if counts:
        yield Chart(
            ChartKind.STACKED_BAR, "Findings by severity and status", tuple(s.capitalize() for s in BY_SEVERITY),
            tuple(Series(st.capitalize(), tuple(counts[(sev, st)] for sev in BY_SEVERITY)) for st in STATUSES),
            x_title="Severity", y_title="Findings", data_table=False,
        )

    def per_rule() -> Iterator[tuple[Cell, ...]]:
        by_rule = Counter((f.rule_id, _open(f.status)) for f in findings(ctx))
        for rule in RULES.values():
            if rule.kind != "finding":
                continue
            yield (rule.rule_id, rule.title, rule.citation, by_rule[(rule.rule_id, True)],
                   by_rule[(rule.rule_id, False)])

    yield Table(
        "Finding rules and their citations",
        (Column("rule", "Rule"), Column("title", "What it checks"), Column("citation", "Citation"),
         Column("open", "Open", ColumnType.INT, total=True),
         Column("resolved", "Resolved", ColumnType.INT, total=True)),
        per_rule,
    )
    pos: dict[UUID, str] = {}

    def po(batch_id: UUID | None) -> str:
        if batch_id is None:
            return ""
        if batch_id not in pos:
            detail = ctx.read_models.get_batch(batch_id)
            pos[batch_id] = detail.summary.po_number if detail is not None else str(batch_id)
        return pos[batch_id]

    def listed() -> Iterator[tuple[Cell, ...]]:
        for f in ordered(ctx):
            yield (f.finding_id, f.rule_id, f.severity, f.status, po(f.batch_id), f.shipment_id or None,
                   f.quantity, f.first_detected_at)

    yield Table(
        "Findings",
        (Column("finding", "Finding", ColumnType.UUID), Column("rule", "Rule"), Column("severity", "Severity"),
         Column("status", "Status"), Column("batch", "Batch PO"), Column("shipment", "Shipment"),
         Column("units", "Units", ColumnType.INT, total=True), Column("detected", "Detected", ColumnType.DATETIME)),
        listed,
        note="Open and acknowledged findings first, the most severe first; then resolved ones. The same order in "
        "the tables below.",
    )

    def reasons() -> Iterator[tuple[Cell, ...]]:
        for f in ordered(ctx):
            party = f"; party {ctx.name(f.party_id)}" if f.party_id else ""
            site = f"; site {ctx.name(f.site_id)}" if f.site_id else ""
            rule = RULES.get(f.rule_id)
            yield (f.finding_id, f.rule_id, rule.citation if rule is not None else None, f.revealed_event_type,
                   f.revealed_occurred_at, serial_range(f.serials), f"{party}{site}".removeprefix("; ") or None,
                   "; ".join(f.reasons))

    yield Table(
        "What each finding says: its rule, citation and the event that revealed it",
        (Column("finding", "Finding", ColumnType.UUID), Column("rule", "Rule"), Column("citation", "Citation"),
         Column("revealed_by", "Revealed by"), Column("occurred", "Occurred", ColumnType.DATETIME),
         Column("serials", "Serials"), Column("where", "Party, site"), Column("reasons", "Facts")),
        reasons,
    )

    def trail() -> Iterator[tuple[Cell, ...]]:
        for f in ordered(ctx):
            for step in f.trail:
                yield (f.finding_id, step.seq, step.action, step.actor, step.note or None, step.event_type,
                       step.occurred_at, step.recorded_at)

    yield Table(
        "Resolution trail",
        (Column("finding", "Finding", ColumnType.UUID), Column("seq", "#", ColumnType.INT),
         Column("action", "Step"), Column("actor", "Actor"), Column("note", "Note"), Column("event", "Event"),
         Column("occurred", "Occurred", ColumnType.DATETIME), Column("recorded", "Recorded", ColumnType.DATETIME)),
        trail,
        note="The discrepancy log's resolutions: each finding's evidence, acknowledgement and resolution. An event "
        "declared in error (event-declared-in-error) is raised by its declaration, whose note (who declared it, "
        "when, the reason, the corrective events) is the evidence its resolution rests on.",
    )
    yield from _outstanding(ctx)


def _outstanding(ctx: Context) -> Iterator[Block]:
    when = ctx.as_of.occurred_by or ctx.as_of.recorded_by
    transit, install = ctx.read_models.overdue_allowances()
    yield Paragraph(
        f"Shipments not received within {transit} days and received units not installed within {install} days, "
        "evaluated at the as-of time against the business times the partners reported."
    )
    batches: dict[UUID, str] = {}

    def selected(batch_id: UUID) -> str | None:
        if batch_id not in batches:
            detail = ctx.read_models.get_batch(batch_id)
            keep = detail is not None and (
                ctx.filters.partner is None or ctx.filters.partner in (detail.summary.buyer_id, *detail.owner_ids)
            ) and (ctx.filters.authorization is None or ctx.cleared_under(batch_id)) and ctx.filters.in_scope(batch_id)
            batches[batch_id] = detail.summary.po_number if keep and detail is not None else ""
        return batches[batch_id] or None

    def rows() -> Iterator[tuple[Cell, ...]]:
        for item in ctx.read_models.overdue(when):
            po = selected(item.batch_id)
            if po is None:
                continue
            yield (po, item.shipment_id, item.kind, item.rule_id, item.units, item.since, item.due, item.days_waiting,
                   item.finding_id)

    yield Table(
        "Outstanding at the as-of time",
        (Column("batch", "Batch PO"), Column("shipment", "Shipment"), Column("kind", "Waiting for"),
         Column("rule", "Rule"), Column("units", "Units", ColumnType.INT, total=True),
         Column("since", "Since", ColumnType.DATETIME), Column("due", "Due", ColumnType.DATETIME),
         Column("days", "Days waiting", ColumnType.INT), Column("finding", "Finding", ColumnType.UUID)),
        rows,
    )
