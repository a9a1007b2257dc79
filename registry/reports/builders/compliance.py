"""The compliance report: what an export-control auditor asks for.

In the order an auditor reads it: the summary (units by stage, open findings by severity); the
findings, open ones first and the most severe first, each with its rule, citation and the event that
revealed it, and their resolution trail; per authorization its drawdown and ledger; then the evidence:
per shipment the items, ECCN, authorization, destination, AES/EEI ITN and dates; per cleared batch its
parties (with ultimate parents and their headquarters countries) and the classification evidence
recorded with the clearance; record retention dates. The chain of custody of every batch is the
custody report (``gpureg report custody``, filterable by partner and authorization), not repeated here.
A partner's own report (``Filters.scope``) is the same report over the partner's batches, with its own
share of each authorization.

One concept: the compliance report, section by section over one pass of the batches (the findings
part is its own module, ``findings.py``); splitting the sections further would scatter what each
reads from that pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID

from sqlalchemy import select

from projections.common import STAGES
from projections.compliance_records import (
    ExportRecord,
    LegalHoldRecord,
    export_record,
    holds_of_lineage,
    legal_hold_record,
    lineages,
)
from projections.queries import CustodyEntry
from registry.application.ports import BatchSummary
from registry.domain.compliance_rules import DESTINATION_CONTROL_STATEMENT, RULES
from registry.domain.licensing import PartyFacts, headquarters_check
from registry.domain.reference import ExportAuthorization
from registry.reports.builders import findings as findings_section
from registry.reports.builders.common import PAGE, STAGE_TITLES, Context, serial_range
from registry.reports.builders.custody import CustodyTotals, keep_custody_of
from registry.reports.model import (
    Block,
    Cell,
    Column,
    ColumnType,
    Paragraph,
    Report,
    Section,
    Summary,
    SummaryItem,
    Table,
)

KIND = "compliance"
NEEDS = ("batch_inventory", "custody_trail", "compliance")
"""The projections this report reads (the as-of view replays only these)."""


def build(ctx: Context) -> Report:
    keep_batches(ctx)
    return Report(
        kind=KIND,
        title="Export-control compliance report",
        subtitle="Findings, authorizations and drawdown, then the evidence: shipments, parties, classification "
        "and record retention",
        as_of=ctx.as_of,
        inputs=ctx.inputs(),
        sections=(
            Section("Summary", lambda: _summary(ctx)),
            Section("Findings", lambda: findings_section.blocks(ctx), new_page=True),
            Section("Authorizations and drawdown", lambda: _authorizations(ctx), new_page=True),
            Section("Evidence: shipments", lambda: _shipments(ctx), new_page=True),
            Section("Evidence: parties of each cleared batch", lambda: _parties(ctx), new_page=True),
            Section("Evidence: classification", lambda: _classification(ctx), new_page=True),
            Section("Evidence: Destination Control Statement", lambda: _dcs(ctx), new_page=True),
            Section("Evidence: record retention and legal holds", lambda: _retention(ctx), new_page=True),
        ),
    )


# ------------------------------------------------------------------- the pass over batches
SHIPMENTS = "compliance/shipments"
SHIPMENT_PARTIES = "compliance/shipment_parties"
PARTIES = "compliance/parties"
CLASSIFICATION = "compliance/classification"
RETENTION = "compliance/retention"
DCS = "compliance/dcs"
EXPORT_TERMS = "compliance/export_terms"
HOLDS = "compliance/holds"


def keep_batches(ctx: Context) -> CustodyTotals:
    """One pass over the selected batches: each batch's custody trail is read once, and the rows the
    report derives from it (shipments, parties, classification evidence, retention) are kept in the view
    for the rendering passes."""
    if isinstance(ctx.custody, CustodyTotals):
        return ctx.custody
    totals = CustodyTotals()
    selected: set[UUID] = set()
    ctx.derived = selected
    with ctx.view.keeping():
        for page in ctx.batch_pages():
            ids = [b.batch_id for b in page]
            details = ctx.batch_rows(ids)
            # a partner's own report shows no legal holds, not even whether its batches are held
            # (policy.HOLD_READERS; docs/security.md, "Legal holds")
            holds = _holds(ctx, ids) if ctx.filters.scope is None else {}
            exports = _exports(ctx, ids, holds)
            for b in page:
                selected.add(b.batch_id)
                trail = ctx.trail(b.batch_id)
                ctx.view.keep(SHIPMENTS, _shipment_rows(ctx, b, trail))
                ctx.view.keep(SHIPMENT_PARTIES, _shipment_party_rows(ctx, b, trail))
                ctx.view.keep(PARTIES, _party_rows(ctx, b, trail))
                ctx.view.keep(CLASSIFICATION, _classification_rows(ctx, b, trail))
                ctx.view.keep(RETENTION, _retention_rows(ctx, b, exports.get(b.batch_id, [])))
                ctx.view.keep(DCS, _dcs_rows(b, exports.get(b.batch_id, [])))
                ctx.view.keep(EXPORT_TERMS, _export_terms_rows(ctx, b, exports.get(b.batch_id, []), trail))
                ctx.view.keep(HOLDS, _hold_rows(b, holds.get(b.batch_id, [])))
                keep_custody_of(ctx, totals, b, trail, details.get(b.batch_id), rows=False)
    ctx.custody = totals
    return totals


# ------------------------------------------------------------------------------ summary
def _summary(ctx: Context) -> Iterator[Block]:
    totals = keep_batches(ctx)
    units = totals.units
    yield Paragraph(
        f"The registry's export-control record {ctx.as_of_sentence()}. Decisions the registry owns (clearances, "
        "shipments against them, assignments, in-country transfers) were checked against the rules when they "
        "were made and refused when a rule said no; facts reported from the field are recorded and flagged as "
        "findings. Rule ids and citations are those of registry/domain/compliance_rules.py. The chain of custody "
        "of each batch, event by event, is the custody report (gpureg report custody), with the same filters. "
        + ctx.filter_sentence()
    )
    yield Summary("Units by stage", (
        SummaryItem("Batches", totals.batches),
        SummaryItem("Units", sum(units.values()), "units"),
        *(SummaryItem(STAGE_TITLES[s], units[s], "units") for s in STAGES),
        SummaryItem("Shipments", totals.shipments),
        SummaryItem("Authorizations", sum(1 for _ in _authorizations_selected(ctx))),
    ))
    yield from findings_section.summary(ctx)


# ----------------------------------------------------------------------- authorizations
def _authorizations_selected(ctx: Context) -> Iterator[ExportAuthorization]:
    """The authorization filtered to; else, with a partner filter, those naming the partner as consignee
    or end user or drawn on by one of its batches; else all."""
    for ident in ctx.view.ids_of("ExportAuthorization"):
        if ctx.filters.authorization is not None and ident != ctx.filters.authorization:
            continue
        auth: ExportAuthorization | None = ctx.view.aggregate(ident)
        if auth is None:
            continue
        if ctx.filters.scope is not None:
            named = ctx.filters.family & {*auth.consignee_ids, *_intermediates(auth), *auth.end_user_ids}
            if not named and not any(ctx.filters.in_scope(entry["batch_id"]) for entry in auth.ledger):
                continue  # names none of the partner's family, and none of its batches drew on it
        partner = ctx.filters.partner
        if partner is not None and partner not in auth.consignee_ids and partner not in auth.end_user_ids:
            selected = ctx.derived if isinstance(ctx.derived, set) else set()
            if not any(entry["batch_id"] in selected for entry in auth.ledger):
                continue  # names other parties, and no batch of the partner drew on it
        yield auth


def _label(auth: ExportAuthorization) -> str:
    """'D1234567 (license)', 'NAC-0042 (license exception NAC)', 'NLR-KR (no license required)'."""
    kind = auth.auth_type.replace("_", " ")
    return f"{auth.number or auth.exception_code or '(no number)'} ({kind}" + (
        f" {auth.exception_code})" if auth.exception_code and auth.number else ")"
    )


def _own_ledger(ctx: Context, auth: ExportAuthorization) -> list[Mapping[str, Any]]:
    """The ledger entries the report shows: all of them, or in a partner's own report those of its batches."""
    return [entry for entry in auth.ledger if ctx.filters.in_scope(entry["batch_id"])]


def _own_drawdown(ctx: Context, auth: ExportAuthorization) -> tuple[int, int, Decimal, Decimal]:
    """A partner's own share of an authorization: (units drawn, units returned, value drawn, value returned)
    by its batches' ledger entries."""
    drawn = returned = 0
    drawn_value = returned_value = Decimal(0)
    for entry in _own_ledger(ctx, auth):
        if entry["kind"] == "drawn":
            drawn += int(entry["quantity"])
            drawn_value += Decimal(entry["value"])
        else:
            returned += int(entry["quantity"])
            returned_value += Decimal(entry["value"])
    return drawn, returned, drawn_value, returned_value


def _intermediates(auth: ExportAuthorization) -> list[UUID]:
    """The intermediate consignees a license names apart (none for an authorization of the first shape)."""
    return list(getattr(auth, "intermediate_consignee_ids", ()))


def _parties_named(ctx: Context, parties: Sequence[UUID]) -> str:
    """An authorization's consignees or end users; in a partner's own report only its family's."""
    shown = [p for p in parties if ctx.filters.scope is None or p in ctx.filters.family]
    return "; ".join(ctx.name(p) for p in shown)


def _authorizations(ctx: Context) -> Iterator[Block]:
    scoped = ctx.filters.scope is not None
    yield Paragraph(
        "Each export authorization (license, license exception or no-license-required determination) and its "
        "drawdown: a clearance draws the units it newly permits at the batch's unit price; a revocation returns "
        "the unshipped units; a split moves the child's share. Remaining is the limit minus drawn plus "
        "returned; an empty limit is unlimited. Values are in the authorization's currency."
        + (" This is a partner's own report: the consignees and end users listed are its own family's, the "
           "drawdown and ledger are those of its own batches, and what remains of each authorization (which "
           "depends on other partners' drawdown) is not shown." if scoped else "")
    )

    def terms() -> Iterator[tuple[Cell, ...]]:
        for auth in _authorizations_selected(ctx):
            yield (
                _label(auth), ", ".join(auth.eccns), ", ".join(auth.destination_countries),
                _parties_named(ctx, auth.consignee_ids),
                _parties_named(ctx, _intermediates(auth)),
                _parties_named(ctx, auth.end_user_ids),
                auth.valid_from, auth.valid_to,
            )

    yield Table(
        "Authorizations",
        (Column("authorization", "Authorization"), Column("eccns", "ECCNs"),
         Column("destinations", "Destinations"), Column("consignees", "Ultimate consignees"),
         Column("intermediate_consignees", "Intermediate consignees"), Column("end_users", "End users"),
         Column("valid_from", "Valid from", ColumnType.DATETIME), Column("valid_to", "Valid to", ColumnType.DATETIME)),
        terms,
    )

    def quantities() -> Iterator[tuple[Cell, ...]]:
        for auth in _authorizations_selected(ctx):
            if scoped:
                drawn, returned, _, _ = _own_drawdown(ctx, auth)
                yield (_label(auth), auth.ledger_view().quantity_limit, drawn, returned, drawn - returned, None)
                continue
            ledger = auth.ledger_view()
            yield (
                _label(auth), ledger.quantity_limit, ledger.drawn_quantity, ledger.returned_quantity,
                ledger.drawn_quantity - ledger.returned_quantity, ledger.remaining_quantity,
            )

    yield Table(
        "Drawdown per authorization: units",
        (Column("authorization", "Authorization"),
         Column("quantity_limit", "Limit", ColumnType.INT, unit="units"),
         Column("drawn", "Drawn", ColumnType.INT, unit="units", total=True),
         Column("returned", "Returned", ColumnType.INT, unit="units", total=True),
         Column("net", "Net drawn", ColumnType.INT, unit="units", total=True),
         Column("remaining", "Remaining", ColumnType.INT, unit="units")),
        quantities,
    )

    def values() -> Iterator[tuple[Cell, ...]]:
        for auth in _authorizations_selected(ctx):
            if scoped:
                _, _, drawn_value, returned_value = _own_drawdown(ctx, auth)
                ledger = auth.ledger_view()
                yield (_label(auth), ledger.currency, ledger.value_limit, drawn_value, returned_value,
                       drawn_value - returned_value, None)
                continue
            ledger = auth.ledger_view()
            yield (
                _label(auth), ledger.currency, ledger.value_limit, ledger.drawn_value, ledger.returned_value,
                ledger.drawn_value - ledger.returned_value, ledger.remaining_value,
            )

    yield Table(
        "Drawdown per authorization: value",
        (Column("authorization", "Authorization"), Column("currency", "Currency"),
         Column("value_limit", "Limit", ColumnType.DECIMAL), Column("drawn", "Drawn", ColumnType.DECIMAL),
         Column("returned", "Returned", ColumnType.DECIMAL), Column("net", "Net drawn", ColumnType.DECIMAL),
         Column("remaining", "Remaining", ColumnType.DECIMAL)),
        values,
    )

    def entries() -> Iterator[tuple[Cell, ...]]:
        pos: dict[UUID, str] = {}
        for auth in _authorizations_selected(ctx):
            shown = _own_ledger(ctx, auth)
            missing = [entry["batch_id"] for entry in shown if entry["batch_id"] not in pos]
            found = ctx.po_numbers(missing)
            for batch_id in missing:
                if batch_id not in pos:
                    pos[batch_id] = f"{found[batch_id]} ({batch_id})" if batch_id in found else str(batch_id)
            for entry in shown:
                yield (
                    _label(auth), entry["occurred_at"], entry["kind"], pos[entry["batch_id"]],
                    int(entry["quantity"]) if entry["kind"] == "drawn" else -int(entry["quantity"]),
                    Decimal(entry["value"]) if entry["kind"] == "drawn" else -Decimal(entry["value"]),
                    entry["currency"], entry["reason"], entry["actor"],
                )

    yield Table(
        "Ledger entries",
        (Column("authorization", "Authorization"), Column("occurred", "Occurred", ColumnType.DATETIME),
         Column("kind", "Entry"), Column("batch", "Batch"),
         Column("quantity", "Units", ColumnType.INT, total=True),
         Column("value", "Value", ColumnType.DECIMAL), Column("currency", "Currency"),
         Column("reason", "Reason"), Column("actor", "Actor")),
        entries,
        note="Draws are positive, returns negative. Values in different currencies are not summed.",
    )


# ---------------------------------------------------------------------------- shipments
def _granted_before(trail: list[CustodyEntry], position: int) -> CustodyEntry | None:
    found = None
    for e in trail:
        if e.position >= position:
            break
        if e.event_type == "ClearanceGranted":
            found = e
        elif e.event_type in ("ClearanceRevoked", "ClearanceDenied"):
            found = None
    return found


def _shipment_rows(ctx: Context, b: BatchSummary, trail: list[CustodyEntry]) -> Iterator[tuple[Cell, ...]]:
    received: dict[str, list[CustodyEntry]] = {}
    for e in trail:
        if e.event_type == "Received":
            received.setdefault(str(e.detail.get("shipment_id", "")), []).append(e)
    for e in trail:
        if e.event_type != "Shipped" or e.batch_id != b.batch_id:
            continue
        shipment = str(e.detail.get("shipment_id", ""))
        grant = _granted_before(trail, e.position)
        arrivals = received.get(shipment, [])
        site = _uuid(e.detail.get("destination_site_id"))
        yield (
            shipment, b.po_number, ctx.name(b.model_id), e.quantity, serial_range(e.serials),
            str(grant.detail.get("eccn", "")) if grant else "",
            _grant_authorization(ctx, grant),
            str(e.detail.get("destination_country", "")) + (f", {ctx.name(site)}" if site else ""),
            str(e.detail.get("itn", "")), ctx.name(_uuid(e.detail.get("carrier_id"))),
            e.occurred_at, sum(a.quantity or 0 for a in arrivals),
            min((a.occurred_at for a in arrivals), default=None),
            *_item_cells(ctx, b, trail, e, grant),
        )


def _supplier(trail: list[CustodyEntry], batch_id: UUID) -> UUID | None:
    """The batch's supplier, from its first event (``Ordered``, or ``SplitFrom`` for a child batch)."""
    return next((_uuid(e.detail.get("supplier_id")) for e in trail
                 if e.batch_id == batch_id and e.detail.get("supplier_id")), None)


def _item_cells(
    ctx: Context, b: BatchSummary, trail: list[CustodyEntry], shipped: CustodyEntry, grant: CustodyEntry | None
) -> tuple[Cell, ...]:
    """What an auditor expects of a shipment's item besides the model and serials: the part
    number, the unit price and the shipment's value (the order's, as corrected before the
    shipment), whether the model is marketed for datacenters (Note 2 to 3A090) and GPUs per unit
    as the granted clearance classified it, and the end use the clearance was requested for."""
    price = currency = end_use = ""
    for e in trail:
        if e.position >= shipped.position:
            break
        if e.event_type in ("Ordered", "SplitFrom"):
            price, currency = str(e.detail.get("unit_price", "")), str(e.detail.get("currency", ""))
        elif e.event_type == "OrderCorrected":
            fields = e.detail.get("fields", {}) or {}
            price = str(fields.get("unit_price", price))
            currency = str(fields.get("currency", currency))
        elif e.event_type == "ClearanceRequested":
            end_use = str(e.detail.get("end_use", ""))
    unit_price = _decimal(price)
    value = unit_price * shipped.quantity if unit_price is not None and shipped.quantity is not None else None
    inputs: Mapping[str, Any] = {}
    if grant is not None:
        inputs = ((grant.detail.get("evidence", {}) or {}).get("classification", {}) or {}).get("inputs", {}) or {}
    datacenter = inputs.get("datacenter_marketed")
    model = ctx.view.aggregate(b.model_id)
    return (
        str(getattr(model, "part_number", "") or ""), unit_price, value, currency,
        "" if datacenter is None else ("yes" if datacenter else "no"),
        inputs.get("gpus_per_unit"), end_use,
    )


def _shipment_party_rows(ctx: Context, b: BatchSummary, trail: list[CustodyEntry]) -> Iterator[tuple[Cell, ...]]:
    """Who each shipment was from, for and through: the exporter of record (``Shipped`` v5; the
    batch's supplier before), the purchaser, the clearance's ultimate consignee and end user, and
    the shipment's own intermediate consignees, forwarder and carrier (``Shipped``)."""
    for e in trail:
        if e.event_type != "Shipped" or e.batch_id != b.batch_id:
            continue
        grant = _granted_before(trail, e.position)
        intermediates = [_uuid(p) for p in e.detail.get("intermediate_consignee_ids", []) or []]
        yield (
            str(e.detail.get("shipment_id", "")), b.po_number,
            ctx.name(_uuid(e.detail.get("exporter_id")) or _supplier(trail, b.batch_id)), ctx.name(b.buyer_id),
            "; ".join(ctx.name(p) for p in intermediates if p is not None),
            ctx.name(_uuid(grant.detail.get("consignee_id"))) if grant else "",
            ctx.name(_uuid(grant.detail.get("end_user_id"))) if grant else "",
            ctx.name(_uuid(e.detail.get("forwarder_id"))), ctx.name(_uuid(e.detail.get("carrier_id"))),
        )


def _shipments(ctx: Context) -> Iterator[Block]:
    yield Paragraph(
        "Every shipment (an export of some of a batch's units): the items (model, units, serials), the ECCN and "
        "authorization of the clearance it shipped under (none: the batch had no granted clearance then), the "
        "destination, the AES/EEI Internal Transaction Number, when it shipped and when its units were received."
    )
    yield Table(
        "Shipments: items, classification and authorization",
        (Column("shipment", "Shipment"), Column("batch", "Batch PO"), Column("model", "GPU model"),
         Column("units", "Units", ColumnType.INT, total=True), Column("serials", "Serials"),
         Column("eccn", "ECCN"), Column("authorization", "Authorization"),
         Column("destination", "Destination")),
        lambda: (r[:8] for r in ctx.view.kept(SHIPMENTS)),
    )
    yield Table(
        "Shipments: export filing, carrier and dates",
        (Column("shipment", "Shipment"), Column("batch", "Batch PO"), Column("itn", "AES/EEI ITN"),
         Column("carrier", "Carrier"), Column("shipped", "Shipped", ColumnType.DATETIME),
         Column("units", "Units shipped", ColumnType.INT, total=True),
         Column("received", "Units received", ColumnType.INT, total=True),
         Column("received_at", "First received", ColumnType.DATETIME)),
        lambda: ((r[0], r[1], *r[8:11], r[3], *r[11:13]) for r in ctx.view.kept(SHIPMENTS)),
    )
    yield Table(
        "Shipments: part number, value, datacenter marketing and end use",
        (Column("shipment", "Shipment"), Column("batch", "Batch PO"), Column("part_number", "Part number"),
         Column("unit_price", "Unit price", ColumnType.DECIMAL), Column("value", "Value", ColumnType.DECIMAL),
         Column("currency", "Currency"), Column("datacenter", "Marketed for datacenters"),
         Column("gpus_per_unit", "GPUs per unit", ColumnType.INT), Column("end_use", "End use")),
        lambda: ((r[0], r[1], *r[13:20]) for r in ctx.view.kept(SHIPMENTS)),
    )
    yield Table(
        "Shipments: parties",
        (Column("shipment", "Shipment"), Column("batch", "Batch PO"), Column("exporter", "Exporter"),
         Column("purchaser", "Purchaser"), Column("intermediate_consignees", "Intermediate consignee(s)"),
         Column("consignee", "Ultimate consignee"), Column("end_user", "End user"),
         Column("forwarder", "Forwarder"), Column("carrier", "Carrier")),
        lambda: ctx.view.kept(SHIPMENT_PARTIES),
        note="Consignee and end user as cleared; exporter (the batch's supplier unless the shipment named "
        "another), intermediate consignees (in order), forwarder and carrier as shipped. Each was screened at "
        "the shipment; the purchaser, consignees and end user were also held to the headquarters rule (their "
        "ownership: the next section).",
    )
    yield Table(
        "Shipments: authorization and its drawdown",
        (Column("shipment", "Shipment"), Column("batch", "Batch PO"), Column("authorization", "Authorization"),
         Column("aes_license_code", "AES license code"),
         Column("valid_to", "Authorization valid to", ColumnType.DATETIME),
         Column("drawn", "Units drawn on it then", ColumnType.INT),
         Column("remaining", "Units left then", ColumnType.INT),
         Column("remaining_value", "Value left then", ColumnType.DECIMAL)),
        lambda: ctx.view.kept(EXPORT_TERMS),
        note="The authorization the units left under with the license code its AES/EEI filing carries (C30 a BIS "
        "license, C33 no license required, a license exception's from the ruleset: NAC C67), and its drawdown as "
        "it stood then (an empty limit: unlimited); the shipment's value and end use are in the part-number table "
        "above."
        + (" A partner's own report leaves the drawdown out: it depends on other partners' batches."
           if ctx.filters.scope is not None else ""),
    )


def _aes_license_code(trail: Sequence[CustodyEntry]) -> str:
    """The AES license code of the license exception the batch's clearance was last granted under,
    as its evidence recorded it from the ruleset (NAC: C67; the EEI's license code)."""
    code = ""
    for e in trail:
        if e.event_type == "ClearanceGranted":
            evidence: Mapping[str, Any] = e.detail.get("evidence", {}) or {}
            code = str((evidence.get("authorization", {}) or {}).get("aes_license_code", "") or "")
    return code


def _export_terms_rows(
    ctx: Context, b: BatchSummary, exports: list[ExportRecord], trail: Sequence[CustodyEntry] = ()
) -> Iterator[tuple[Cell, ...]]:
    """Per export: the authorization it left under, the license code its AES/EEI filing carries (the
    export record's: C30 license, C33 NLR, a license exception's from the ruleset, 15 CFR 740.8: NAC
    is C67; for a record without it, a license exception's as the grant's evidence recorded it) and
    its running drawdown then (the compliance read model's export record). A partner's own report
    leaves the drawdown out: it depends on other partners' batches."""
    scoped = ctx.filters.scope is not None
    granted_code = _aes_license_code(trail)
    for x in exports:
        label = x.authorization_number or x.exception_code or x.authorization_type.replace("_", " ")
        if x.exception_code and x.authorization_number:
            label += f" ({x.exception_code})"
        aes_code = x.aes_license_code or (granted_code if x.exception_code else "")
        yield (
            x.shipment_id, b.po_number, label, aes_code, x.authorization_valid_to,
            None if scoped else x.authorization_drawn_quantity,
            None if scoped else x.authorization_remaining_quantity,
            None if scoped else x.authorization_remaining_value,
        )


def _grant_authorization(ctx: Context, grant: CustodyEntry | None) -> str:
    if grant is None:
        return "no granted clearance"
    number = str(grant.detail.get("authorization_number", ""))
    ident = _uuid(grant.detail.get("authorization_id"))
    return number or (ctx.authorization_label(ident) if ident else "")


def _uuid(value: Any) -> UUID | None:
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


def _latest_grant(trail: list[CustodyEntry]) -> CustodyEntry | None:
    return _granted_before(trail, 1 << 62)


# ------------------------------------------------------------------------------ parties
def _relation(link: Mapping[str, Any], i: int, n: int) -> str:
    """A link's relation; evidence recorded before links carried one: first, middle, last."""
    implied = "entity" if i == 0 else "ultimate parent" if i == n - 1 else "intermediate owner"
    return str(link.get("relation") or implied)


def _party_rows(ctx: Context, b: BatchSummary, trail: list[CustodyEntry]) -> Iterator[tuple[Cell, ...]]:
    """The headquarters walk recorded with the latest granted clearance (its evidence): the report
    does not run the rule again, it shows what the decision found. Then each shipment's
    intermediate consignees (the auditor's parties per shipment, with their ultimate parent and its
    headquarters country): ``Ship`` held them to the rule without recording the walk, so it is
    made here on the parties as of the view, with the country groups in force at the shipment (not
    in a partner's own report: their owners are not the partner's to learn)."""
    grant = _latest_grant(trail)
    if grant is not None:
        evidence: Mapping[str, Any] = grant.detail.get("evidence", {}) or {}
        for walk in evidence.get("headquarters", []) or []:
            row = _walk_row(b, walk)
            if row is not None:
                yield row
    if ctx.filters.scope is not None:
        return  # a partner's own report: another party's ownership is not the partner's to learn
    seen: set[UUID] = set()
    for e in trail:
        if e.event_type != "Shipped" or e.batch_id != b.batch_id:
            continue
        for p in e.detail.get("intermediate_consignee_ids", []) or []:
            party_id = _uuid(p)
            if party_id is None or party_id in seen:
                continue
            seen.add(party_id)
            groups = ctx.registry.country_groups.in_force(e.occurred_at)
            check = headquarters_check(party_id, partial(_party_facts_of, ctx), groups)
            row = _walk_row(b, {"role": "intermediate consignee", **check.to_evidence()})
            if row is not None:
                yield row


def _party_facts_of(ctx: Context, party_id: UUID) -> PartyFacts | None:
    party = ctx.view.aggregate(party_id)
    return PartyFacts.of(party) if party is not None and hasattr(party, "headquarters_country") else None


def _walk_row(b: BatchSummary, walk: Mapping[str, Any]) -> tuple[Cell, ...] | None:
    """One party's headquarters walk (as evidence) as a row of "Parties of each cleared batch"."""
    links = list(walk.get("chain", []) or [])
    if not links:
        return None
    n = len(links)
    entity = links[0]
    top = links[-1] if n > 1 and _relation(links[-1], n - 1, n) == "ultimate parent" else None
    chain = " \u2192 ".join(
        f"{p.get('name', '')} ({p.get('headquarters_country', '')}, {_relation(p, i + 1, n)})"
        for i, p in enumerate(links[1:])
    )
    if walk.get("missing_parent"):
        chain += f" \u2192 unknown party {walk['missing_parent']}"
    if walk.get("cycle_at"):
        chain += f" \u2192 cycle at {walk['cycle_at']}"
    decided = str(walk.get("decided_by") or "")
    verdict = "applies" if walk.get("applies") else "does not apply"
    if walk.get("applies") and decided:
        verdict += f" ({decided})"
    if walk.get("intermediate_flags"):
        verdict += "; intermediate owner in D:5/Macau: review"
    return (
        b.po_number, str(walk.get("role", "")).replace("_", " "), str(entity.get("name", "")),
        str(entity.get("country", "")), str(entity.get("headquarters_country", "")),
        str(top.get("name", "")) if top else "", str(top.get("headquarters_country", "")) if top else "",
        chain, f"{verdict} (country groups {walk.get('country_groups_version', '')})",
    )


def _parties(ctx: Context) -> Iterator[Block]:
    yield Paragraph(
        "The purchaser, consignee and end user of each cleared batch (as of the latest granted clearance), and "
        "the intermediate consignees its shipments named (their walk made on the parties as of the report), "
        "with each party's own headquarters country, its ownership chain (intermediate owners and ultimate "
        "parent) and whether the headquarters rule (15 CFR 742.6(a)(6)(iii)(A): the entity, or its ultimate "
        "parent, headquartered in D:5 or Macau) applied, as recorded with the decision (its evidence) under "
        "the country-group version named in each row."
    )
    yield Table(
        "Parties of each cleared batch",
        (Column("batch", "Batch PO"), Column("role", "Role"), Column("party", "Party"),
         Column("country", "Country"), Column("hq", "HQ country"), Column("parent", "Ultimate parent"),
         Column("parent_hq", "Parent HQ country"), Column("chain", "Chain of parents"),
         Column("hq_rule", "Headquarters rule")),
        partial(ctx.view.kept, PARTIES),
    )


# ------------------------------------------------------------------------ classification
def _classification_rows(ctx: Context, b: BatchSummary, trail: list[CustodyEntry]) -> Iterator[tuple[Cell, ...]]:
    for e in trail:
        if e.event_type != "ClearanceGranted":
            continue
        ev: Mapping[str, Any] = e.detail.get("evidence", {}) or {}
        c: Mapping[str, Any] = ev.get("classification", {}) or {}
        groups: Mapping[str, Any] = ev.get("country_groups", {}) or {}
        requirements = ev.get("license_requirements", []) or []
        screening = ev.get("screening", []) or []
        snapshots = sorted({
            f"{source} {info.get('sha256', '')[:12]}"
            for s in screening for source, info in (s.get("screened", {}) or {}).items()
        })
        yield (
            b.po_number, e.occurred_at, str(e.detail.get("eccn", "")),
            str(c.get("status", "")).replace("_", " "), _decimal(c.get("tpp")),
            _decimal(c.get("performance_density")), ", ".join(c.get("paragraphs", []) or []),
            str(c.get("ruleset_id", "")),
            _groups_text(groups),
            "; ".join(f"{r.get('rule', '')} ({r.get('citation', '')})" for r in requirements) or "none",
            ", ".join(snapshots) or "no list imported",
            str(e.detail.get("authorization_number", "")),
            _screening_hits_text(ctx, screening),
        )


def _screening_hits_text(ctx: Context, screening: Sequence[Mapping[str, Any]]) -> str:
    """Each restricted-party hit recorded with a clearance: the party and its role, the list and
    entry it came from, the snapshot, its match score, and how it was resolved and by whom."""
    parts = []
    for s in screening:
        for hit in s.get("hits", []) or []:
            resolution = str(hit.get("resolution", "")).replace("_", " ")
            by = f" by {hit['resolved_by']}" if hit.get("resolved_by") else ""
            parts.append(
                f"{str(s.get('role', '')).replace('_', ' ')} {ctx.name(_uuid(s.get('party_id')))}: "
                f"{hit.get('entry_name', '')} (entry {hit.get('entry_id', '')}, {hit.get('source_list', '')}, "
                f"{hit.get('source', '')} {str(hit.get('snapshot_sha256', ''))[:12]}), score {hit.get('score', '')}, "
                f"{resolution}{by}"
            )
    return "; ".join(parts) or "none"


def _classification(ctx: Context) -> Iterator[Block]:
    yield Paragraph(
        "The evidence recorded with each granted clearance: the GPU model's classification under the ruleset in "
        "force at the decision (Total Processing Performance, performance density, the 3A090 paragraphs met), "
        "the country groups of the destination, the license requirements found, the screening snapshots the "
        "parties were checked against and each hit: the list and entry it came from, its score, how it was "
        "resolved and by whom."
    )
    yield Table(
        "Classification per clearance",
        (Column("batch", "Batch PO"), Column("decided", "Decided", ColumnType.DATETIME),
         Column("eccn", "ECCN"), Column("status", "Status"), Column("tpp", "TPP", ColumnType.DECIMAL),
         Column("pd", "Performance density", ColumnType.DECIMAL), Column("paragraphs", "Paragraphs met"),
         Column("ruleset", "Ruleset")),
        lambda: (r[:8] for r in ctx.view.kept(CLASSIFICATION)),
    )
    yield Table(
        "Destination, license requirements and screening per clearance",
        (Column("batch", "Batch PO"), Column("authorization", "Authorization"),
         Column("groups", "Destination groups"), Column("requirements", "License requirements"),
         Column("screening", "Screened against"), Column("hits", "Screening hits and their resolution")),
        lambda: ((r[0], r[11], *r[8:11], r[12]) for r in ctx.view.kept(CLASSIFICATION)),
    )


def _groups_text(groups: Mapping[str, Any]) -> str:
    members = ", ".join(groups.get("destination_groups", []) or []) or "none"
    return f"{groups.get('destination', '')}: {members} ({groups.get('version', '')})"


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        d = Decimal(str(value))
    except ArithmeticError:
        return None
    return d if d.is_finite() else None


# ----------------------------------------------------------------------------- retention
def _holds(ctx: Context, ids: Sequence[UUID]) -> dict[UUID, list[LegalHoldRecord]]:
    """The legal holds of these batches, in place and released (15 CFR 762.6): each batch's own,
    then those of the batches it was split from (a hold asks for the records of the order)."""
    table = ctx.table("compliance", "legal_hold")
    lineage = lineages(ctx.rows, ctx.table("compliance", "batch"), ids)
    wanted = list(dict.fromkeys(a for line in lineage.values() for a in line))
    found: dict[UUID, list[LegalHoldRecord]] = {}
    for i in range(0, len(wanted), PAGE):
        stmt = select(table).where(table.c.batch_id.in_(wanted[i: i + PAGE])).order_by(table.c.position)
        for r in ctx.rows(stmt):
            found.setdefault(r["batch_id"], []).append(legal_hold_record(r))
    return holds_of_lineage(lineage, found)


def _exports(
    ctx: Context, ids: Sequence[UUID], holds: Mapping[UUID, list[LegalHoldRecord]]
) -> dict[UUID, list[ExportRecord]]:
    """The export records of these batches as :meth:`ReadModels.batch_compliance` gives them (its
    ``exports``: each shipment in log order, with its retention dates and whether a legal hold keeps
    it), read in a few queries."""
    batch = ctx.table("compliance", "batch")
    shipment = ctx.table("compliance", "shipment")
    found: dict[UUID, list[ExportRecord]] = {}
    for i in range(0, len(ids), PAGE):
        stmt = (
            select(shipment, batch.c.last_transaction_at.label("batch_last_transaction_at"))
            .join(batch, batch.c.batch_id == shipment.c.batch_id)
            .where(shipment.c.batch_id.in_(ids[i: i + PAGE]))
            .order_by(shipment.c.batch_id, shipment.c.position)
        )
        for r in ctx.rows(stmt):
            held = any(h.active for h in holds.get(r["batch_id"], ()))
            found.setdefault(r["batch_id"], []).append(export_record(r, r["batch_last_transaction_at"], held))
    return found


def _retention_rows(ctx: Context, b: BatchSummary, exports: list[ExportRecord]) -> Iterator[tuple[Cell, ...]]:
    for x in exports:
        site = f", {ctx.name(x.destination_site_id)}" if x.destination_site_id else ""
        row: tuple[Cell, ...] = (b.po_number, x.shipment_id, x.shipped_at, x.quantity, x.destination_country + site,
                                 x.retention_basis_at, x.retention_until)
        yield row if ctx.filters.scope is not None else (*row, "held" if x.held else "no", x.destruction_allowed_from)


def _hold_rows(b: BatchSummary, holds: list[LegalHoldRecord]) -> Iterator[tuple[Cell, ...]]:
    for h in holds:
        yield (b.po_number, h.agency, h.reference, h.reason, h.placed_by, h.placed_at,
               "in place" if h.active else f"released by {h.released_by}: {h.release_reason}", h.released_at)


def _retention(ctx: Context) -> Iterator[Block]:
    rule = RULES["record-retention"]
    yield Paragraph(
        f"{rule.title} ({rule.citation}): each export's records are kept until 5 years after the batch's "
        "latest export, reexport (an RMA return or a recorded reexport), transshipment, diversion, in-country "
        "transfer or other termination (loss, decommission), by business time, as the compliance projection "
        "records them. While an agency's legal hold of the batch is in place its records are held: never "
        "eligible for destruction, whatever the retention date says (no destruction date is shown)."
        + (" Legal holds are the exporter's and the authorities' matter: a partner's own report shows none, "
           "and no destruction date." if ctx.filters.scope is not None else "")
    )
    columns = (
        Column("batch", "Batch PO"), Column("shipment", "Shipment"), Column("shipped", "Shipped", ColumnType.DATETIME),
        Column("units", "Units", ColumnType.INT, total=True), Column("destination", "Destination"),
        Column("basis", "Latest export, reexport, transshipment, diversion, transfer or termination",
               ColumnType.DATETIME),
        Column("until", "Keep records until", ColumnType.DATETIME))
    if ctx.filters.scope is not None:
        yield Table("Record retention per export", columns, partial(ctx.view.kept, RETENTION))
        return
    yield Table(
        "Record retention per export",
        (*columns, Column("held", "Legal hold"), Column("destroy", "Destruction allowed from", ColumnType.DATETIME)),
        partial(ctx.view.kept, RETENTION),
    )
    yield Table(
        "Legal holds",
        (Column("batch", "Batch PO"), Column("agency", "Agency"), Column("reference", "Reference"),
         Column("reason", "Reason"), Column("by", "Placed by"), Column("at", "Placed", ColumnType.DATETIME),
         Column("state", "State"), Column("released", "Released", ColumnType.DATETIME)),
        partial(ctx.view.kept, HOLDS),
    )


# ------------------------------------------------------------------ destination control statement
def _dcs_rows(b: BatchSummary, exports: list[ExportRecord]) -> Iterator[tuple[Cell, ...]]:
    for x in exports:
        yield (b.po_number, x.shipment_id, x.eccn or "(none)", x.destination_country,
               x.destination_control_statement or "(no ECCN on the clearance: none)")


def _dcs(ctx: Context) -> Iterator[Block]:
    yield Paragraph(
        "15 CFR 758.6: the commercial invoice of each export carries the Destination Control Statement, and for a "
        "3A090 or 4A090 item the item's ECCN. The statement of each shipment follows from the ECCN its batch was "
        f"cleared under and the declared destination. The standard wording: \"{DESTINATION_CONTROL_STATEMENT}\""
    )
    yield Table(
        "Destination Control Statement per shipment",
        (Column("batch", "Batch PO"), Column("shipment", "Shipment"), Column("eccn", "ECCN"),
         Column("destination", "Country of ultimate destination"), Column("statement", "Statement on the invoice")),
        partial(ctx.view.kept, DCS),
    )
