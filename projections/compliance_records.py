"""The compliance projection's export records (15 CFR 762.6, 758.6) as the queries and the
compliance report give them: per shipment its retention dates, whether a legal hold keeps it and
its Destination Control Statement; a batch's legal holds and its known reexports, transshipments
and diversions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Table, select

from projections.compliance_checks import retention_basis
from projections.findings import utc
from registry.domain.compliance_rules import destination_control_statement, retention_until


@dataclass(frozen=True)
class ExportRecord:
    """One export (shipment) and how long its records are kept (15 CFR 762.6)."""

    shipment_id: str
    shipped_at: datetime
    quantity: int
    received: int
    destination_country: str
    destination_site_id: UUID | None
    retention_basis_at: datetime  # the latest export, reexport, transshipment, diversion, transfer or termination
    retention_until: datetime
    held: bool = False  # a legal hold of the batch is in place: kept whatever retention_until says
    eccn: str = ""  # the clearance's ECCN when it shipped
    destination_control_statement: str = ""  # 15 CFR 758.6, from eccn and destination_country
    # the shipment's own parties (v5 of the projection): carrier, intermediate consignees in order,
    # freight forwarder
    carrier_id: UUID | None = None
    intermediate_consignee_ids: tuple[UUID, ...] = ()
    forwarder_id: UUID | None = None
    # the exporter of record (v8 of the projection; None for a shipment recorded before it was)
    exporter_id: UUID | None = None
    # v8: the AES/EEI Internal Transaction Number, the clearance's end-use statement, the value
    # (units x unit price, in ``currency``; None when unknown) and the authorization the units left
    # under with its running drawdown then (net units drawn on it, what remained of its limits;
    # None: unlimited, or an export recorded before v8)
    itn: str = ""
    end_use: str = ""
    value: Decimal | None = None
    currency: str = ""
    authorization_id: UUID | None = None
    authorization_number: str = ""
    authorization_type: str = ""
    exception_code: str = ""
    authorization_valid_to: datetime | None = None
    authorization_drawn_quantity: int | None = None
    authorization_remaining_quantity: int | None = None
    authorization_remaining_value: Decimal | None = None
    # v8: the clearance's classification evidence: TPP, performance density, designed or marketed
    # for datacenters, the paragraphs met and the ruleset (empty / None: none recorded)
    tpp: str = ""
    performance_density: str = ""
    datacenter_marketed: bool | None = None
    classification_paragraphs: tuple[str, ...] = ()
    classification_ruleset_id: str = ""
    # v13: the AES/EEI license code of the authorization (C30 license, C33 NLR, a license
    # exception's from its ruleset: NAC C67); "" when the clearance recorded no classification
    aes_license_code: str = ""

    @property
    def destruction_allowed_from(self) -> datetime | None:
        """From when the records may be destroyed: ``retention_until``; never while held."""
        return None if self.held else self.retention_until

    def eligible_for_destruction(self, at: datetime) -> bool:
        """Whether the records may be destroyed at ``at``: past retention and not held."""
        allowed = self.destruction_allowed_from
        return allowed is not None and utc(at) >= allowed


@dataclass(frozen=True)
class LegalHoldRecord:
    """An agency's legal hold on a batch's export records (15 CFR 762.6)."""

    hold_id: UUID
    batch_id: UUID
    agency: str
    reference: str
    reason: str
    placed_by: str
    placed_at: datetime
    released_by: str
    released_at: datetime | None
    release_reason: str

    @property
    def active(self) -> bool:
        return self.released_at is None


@dataclass(frozen=True)
class OnwardMovementRecord:
    """A known reexport, transshipment or diversion of a batch's exported units."""

    kind: str
    country: str
    place: str
    quantity: int
    serials: list[str]
    occurred_at: datetime
    recorded_by: str
    note: str
    recipient_id: UUID | None = None  # the party the units went to, when recorded (v13)


def export_record(r: Any, last_transaction_at: datetime | None, held: bool = False) -> ExportRecord:
    """A shipment row of the compliance projection as an export record, with its retention dates,
    whether a legal hold keeps it, and its Destination Control Statement."""
    basis = retention_basis(r["shipped_at"], last_transaction_at)
    eccn = r["eccn"]
    return ExportRecord(
        shipment_id=r["shipment_id"], shipped_at=utc(r["shipped_at"]), quantity=r["quantity"],
        received=r["received"], destination_country=r["destination_country"],
        destination_site_id=r["destination_site_id"], retention_basis_at=basis,
        retention_until=retention_until(basis), held=held, eccn=eccn,
        destination_control_statement=destination_control_statement(eccn, r["destination_country"]),
        carrier_id=r.get("carrier_id"),
        intermediate_consignee_ids=tuple(UUID(str(p)) for p in r.get("intermediate_consignee_ids") or ()),
        forwarder_id=r.get("forwarder_id"), exporter_id=r.get("exporter_id"),
        itn=r.get("itn") or "", end_use=r.get("end_use") or "",
        value=Decimal(r["value"]) if r.get("value") is not None else None, currency=r.get("currency") or "",
        authorization_id=r.get("authorization_id"), authorization_number=r.get("authorization_number") or "",
        authorization_type=r.get("authorization_type") or "", exception_code=r.get("exception_code") or "",
        authorization_valid_to=utc(r["authorization_valid_to"]) if r.get("authorization_valid_to") else None,
        authorization_drawn_quantity=r.get("authorization_drawn_quantity"),
        authorization_remaining_quantity=r.get("authorization_remaining_quantity"),
        authorization_remaining_value=(Decimal(r["authorization_remaining_value"])
                                       if r.get("authorization_remaining_value") is not None else None),
        **_classification(r.get("classification")),
    )


def _classification(found: Any) -> dict[str, Any]:
    if not isinstance(found, dict):
        return {}
    return {"tpp": str(found.get("tpp") or ""), "performance_density": str(found.get("performance_density") or ""),
            "datacenter_marketed": found.get("datacenter_marketed"),
            "classification_paragraphs": tuple(str(p) for p in found.get("paragraphs") or ()),
            "classification_ruleset_id": str(found.get("ruleset_id") or ""),
            "aes_license_code": str(found.get("aes_license_code") or "")}


def lineages(
    rows: Callable[[Any], Iterable[Any]], batch_table: Table, batch_ids: Sequence[UUID]
) -> dict[UUID, list[UUID]]:
    """Each batch with the batches it was split from, nearest first (``[batch, parent, ...]``):
    a legal hold asks for the records of the order, so a hold on a batch holds its split-off
    batches' records as well (15 CFR 762.6). ``rows`` runs a statement and gives its mapping rows."""
    parent_of: dict[UUID, UUID | None] = {}
    wanted = list(dict.fromkeys(batch_ids))
    while wanted:
        for i in range(0, len(wanted), 500):
            stmt = select(batch_table.c.batch_id, batch_table.c.parent_batch_id).where(
                batch_table.c.batch_id.in_(wanted[i: i + 500]))
            for r in rows(stmt):
                parent_of[r["batch_id"]] = r["parent_batch_id"]
        wanted = [p for p in {parent_of.get(b) for b in wanted} if p is not None and p not in parent_of]
    out: dict[UUID, list[UUID]] = {}
    for batch_id in batch_ids:
        line = [batch_id]
        parent = parent_of.get(batch_id)
        while parent is not None and parent not in line:
            line.append(parent)
            parent = parent_of.get(parent)
        out[batch_id] = line
    return out


def holds_of_lineage(
    lineage: Mapping[UUID, list[UUID]], holds: Mapping[UUID, list[LegalHoldRecord]]
) -> dict[UUID, list[LegalHoldRecord]]:
    """Each batch's own holds, then those of the batches it was split from."""
    return {b: [h for a in line for h in holds.get(a, [])] for b, line in lineage.items()}


def legal_holds(conn: Connection, table: Table, batch_ids: Sequence[UUID]) -> dict[UUID, list[LegalHoldRecord]]:
    """The legal holds of these batches (in place and released), each batch's in placing order."""
    out: dict[UUID, list[LegalHoldRecord]] = {}
    for i in range(0, len(batch_ids), 500):
        stmt = select(table).where(table.c.batch_id.in_(batch_ids[i: i + 500])).order_by(table.c.position)
        for r in conn.execute(stmt).mappings():
            out.setdefault(r["batch_id"], []).append(legal_hold_record(r))
    return out


def legal_hold_record(r: Any) -> LegalHoldRecord:
    """A row of the compliance projection's legal holds."""
    return LegalHoldRecord(
        hold_id=r["hold_id"], batch_id=r["batch_id"], agency=r["agency"], reference=r["reference"],
        reason=r["reason"], placed_by=r["placed_by"], placed_at=utc(r["placed_at"]), released_by=r["released_by"],
        released_at=utc(r["released_at"]) if r["released_at"] is not None else None,
        release_reason=r["release_reason"],
    )
