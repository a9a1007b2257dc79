"""The compliance projection's handlers of batch events: orders, splits, clearances, serials and
the movements (shipment, receipt, installation, assignment, transfer, loss, decommission).

One concept: what each batch event does to the compliance read model's rows (the batch, its
shipments, holdings, site loads, serial runs and pending items) and which findings it raises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from projections.common import SERIAL_POSITION, moves_of, serial_moves
from projections.compliance_checks import (
    _check_power,
    _check_recipient,
    _check_site,
    _intermediate_consignee_problems,
    _location_problems,
    _onward_movement_problem,
    _shipment_license_problems,
)
from projections.compliance_clock import _flag_if_late, _pending_add, _pending_take, receipt_key, starts_wait
from projections.compliance_lookups import _auth_label, _authorization_of, _site_name, authorization_terms
from projections.compliance_red_flags import flag_first_time_buyer, flag_recipient, flag_shipment_parties
from projections.compliance_serials import fresh, serial_runs
from projections.engine import Row, Work
from projections.findings import INSTALL, INSTALLED_STAGES, LIVE_STAGES, TRANSIT, _flag, utc
from registry.domain.policy import remaining, validity_problem
from registry.domain.reference_codes import aes_license_code


# ================================================================================= batches
def _batch(work: Work, batch_id: UUID) -> Row:
    found = work.cache("batch").get(batch_id)
    if found is None:
        raise LookupError(f"batch {batch_id} has events but no creation event")
    return dict(found)


def _opt_uuid(value: Any) -> UUID | None:
    return UUID(str(value)) if value else None


def _new_batch(work: Work, e: Any) -> Row:
    # The batch's first event (Ordered, SplitFrom): its row cannot be stored yet (no lookup for it)
    work.cache("batch").absent(e.originator_id)
    return {
        "batch_id": e.originator_id, "created_position": work.position, "po_number": e.po_number,
        "buyer_id": e.buyer_id, "model_id": e.model_id, "quantity": e.quantity,
        "clearance_status": "none", "authorization_id": None, "destination_country": "",
        "cleared": 0, "granted_at": None, "shipped": 0, "last_transaction_at": None,
        "consignee_id": None, "end_user_id": None, "eccn": "",
        "end_use": "", "unit_price": str(e.unit_price), "currency": e.currency, "classification": None,
        "parent_batch_id": None,
    }


def _ordered(work: Work, e: Any) -> None:
    work.cache("batch").put(_new_batch(work, e))
    _hold(work, e.buyer_id, e.originator_id, "owner", e.quantity)
    flag_first_time_buyer(work, e)


def _split_from(work: Work, e: Any) -> None:
    row = _new_batch(work, e)
    clearance = dict(e.clearance or {})
    parent = work.cache("batch").get(e.parent_id)
    auth = clearance.get("authorization_id")
    row.update(
        clearance_status=e.clearance_status,
        authorization_id=UUID(str(auth)) if auth else None,
        destination_country=str(clearance.get("destination_country", "")),
        cleared=int(clearance.get("cleared_quantity", 0)),
        granted_at=parent["granted_at"] if parent is not None else None,
        consignee_id=_opt_uuid(clearance.get("consignee_id")),
        end_user_id=_opt_uuid(clearance.get("end_user_id")),
        eccn=str(clearance.get("eccn", "")),
        end_use=str(clearance.get("end_use", "")),
        classification=parent.get("classification") if parent is not None else None,
        parent_batch_id=e.parent_id,
    )
    work.cache("batch").put(row)
    _hold(work, e.buyer_id, e.originator_id, "owner", e.quantity)
    if e.serials:
        runs = serial_runs(work)
        runs.remove(e.parent_id, e.serials)
        runs.register(e.originator_id, e.serials, fresh(e.buyer_id.hex))


def _order_corrected(work: Work, e: Any) -> None:
    changed = {k: e.fields[k] for k in ("po_number", "unit_price", "currency") if k in e.fields}
    if changed:
        row = _batch(work, e.originator_id)
        if "unit_price" in changed:
            changed["unit_price"] = str(changed["unit_price"])
        row.update(changed)
        work.cache("batch").put(row)


def _clearance_requested(work: Work, e: Any) -> None:
    row = _batch(work, e.originator_id)
    row.update(clearance_status="requested", destination_country=e.destination_country, cleared=0,
               consignee_id=e.consignee_id, end_user_id=e.end_user_id, eccn=e.eccn, end_use=e.end_use)
    work.cache("batch").put(row)


def _clearance_granted(work: Work, e: Any) -> None:
    row = _batch(work, e.originator_id)
    row.update(
        clearance_status="granted", authorization_id=e.authorization_id,
        destination_country=e.destination_country, cleared=e.cleared_quantity,
        granted_at=utc(e.occurred_at), consignee_id=e.consignee_id, end_user_id=e.end_user_id,
        eccn=e.eccn, classification=classification_summary(e.evidence),
    )
    work.cache("batch").put(row)


def classification_summary(evidence: Mapping[str, Any] | None) -> Row | None:
    """What an auditor reads of a grant's classification evidence: TPP, performance density,
    whether the model is designed or marketed for datacenters, the paragraphs met and the ruleset
    (None when the grant recorded none); and (v13) the AES/EEI license code of the authorization it
    was granted under (C30 a license, C33 NLR, a license exception's as the evidence recorded it
    from the ruleset: NAC is C67)."""
    found = (evidence or {}).get("classification")
    if not isinstance(found, Mapping):
        return None
    inputs = found.get("inputs") or {}
    return {"tpp": found.get("tpp"), "performance_density": found.get("performance_density"),
            "datacenter_marketed": inputs.get("datacenter_marketed"),
            "paragraphs": list(found.get("paragraphs") or []), "ruleset_id": found.get("ruleset_id") or "",
            "aes_license_code": _aes_license_code(evidence or {})}


def _aes_license_code(evidence: Mapping[str, Any]) -> str:
    auth = evidence.get("authorization")
    auth = auth if isinstance(auth, Mapping) else {}
    return aes_license_code(str(auth.get("auth_type") or evidence.get("authorization_type") or ""),
                            str(auth.get("aes_license_code") or ""))


def _clearance_ended(status: str) -> Callable[[Work, Any], None]:
    def handle(work: Work, e: Any) -> None:
        row = _batch(work, e.originator_id)
        row["clearance_status"] = status
        if status == "denied":
            row["cleared"] = 0
        work.cache("batch").put(row)

    return handle


def _serials_registered(work: Work, e: Any) -> None:
    row = _batch(work, e.originator_id)
    serial_runs(work).register(e.originator_id, e.serials, fresh(row["buyer_id"].hex))


def _touch(row: Row, when: datetime) -> None:
    """The batch's latest export, reexport (an RMA return or a recorded one), transshipment,
    diversion, transfer or other termination (loss, decommission): record retention runs 5 years
    from the latest (15 CFR 762.6)."""
    when = utc(when)
    if row["last_transaction_at"] is None or utc(row["last_transaction_at"]) < when:
        row["last_transaction_at"] = when


# ------------------------------------------------------------------------------ movements
def _hold(work: Work, party: UUID, batch_id: UUID, role: str, n: int) -> None:
    if n:
        work.cache("holding", group="party_id").add((party, batch_id, role), "units", n)


def _apply(work: Work, e: Any, skip_transit: bool = False, changes: Mapping[str, Any] | None = None,
           receipt: str | None = None) -> None:
    """The event's moves: holdings, site loads, serial positions (and ``changes`` to the serials'
    rows), and the pending items; with ``receipt`` (a transfer, a repair), units it receives at a
    site anew (:func:`starts_wait`) wait for their installation under that key from the event."""
    batch_id = e.originator_id
    loads = work.cache("site_load", group="site_id")
    for f, t, n in moves_of(e):
        if f.stage in LIVE_STAGES:
            _hold(work, UUID(f.owner), batch_id, "owner", -n)
            if f.assignee:
                _hold(work, UUID(f.assignee), batch_id, "assignee", -n)
        if t.stage in LIVE_STAGES:
            _hold(work, UUID(t.owner), batch_id, "owner", n)
            if t.assignee:
                _hold(work, UUID(t.assignee), batch_id, "assignee", n)
        if f.stage in INSTALLED_STAGES and f.site:
            loads.add((UUID(f.site), batch_id), "units", -n)
        if t.stage in INSTALLED_STAGES and t.site:
            loads.add((UUID(t.site), batch_id), "units", n)
    serials = getattr(e, "serials", ())
    waiting = 0
    if not serials:
        for f, t, n in moves_of(e):
            anew = receipt is not None and starts_wait(f, t)
            if f.stage == "in_transit" and t.stage != "in_transit" and not skip_transit:
                _pending_take(work, e, TRANSIT, batch_id, None, n)
            if f.stage == "received" and (t.stage != "received" or anew):
                _pending_take(work, e, INSTALL, batch_id, None, n)
            waiting += n if anew else 0
    else:
        to_by_from = serial_moves(e, changes or {})
        if receipt is not None:
            for m in e.moves:
                if starts_wait(m.source, m.target):
                    key = (m.source.stage, m.source.site, m.source.owner, m.source.assignee)
                    to_by_from[key] = {**to_by_from[key], "shipment_id": receipt}
        runs = serial_runs(work)
        leaving: dict[tuple[str, str], int] = {}
        for (*position, shipment_id), n in runs.tally(batch_id, serials, (*SERIAL_POSITION, "shipment_id")).items():
            to = to_by_from.get(tuple(position))
            if to is None:
                continue
            anew = receipt is not None and to.get("shipment_id") == receipt
            if position[0] == "in_transit" and to["stage"] != "in_transit" and not skip_transit:
                leaving[(TRANSIT, shipment_id)] = leaving.get((TRANSIT, shipment_id), 0) + n
            if position[0] == "received" and (to["stage"] != "received" or anew):
                leaving[(INSTALL, shipment_id)] = leaving.get((INSTALL, shipment_id), 0) + n
            waiting += n if anew else 0
        # Items first (a late one is flagged with the serials still waiting), then the serials move.
        for (kind, shipment_id), n in sorted(leaving.items()):
            _pending_take(work, e, kind, batch_id, shipment_id, n)
        runs.move(batch_id, serials, SERIAL_POSITION, to_by_from)
    if receipt is not None and waiting:
        _pending_add(work, INSTALL, batch_id, receipt, e.occurred_at, waiting)


def _shipped(work: Work, e: Any) -> None:
    batch = _batch(work, e.originator_id)
    auth = _authorization_of(work, batch)
    when = utc(e.occurred_at)
    subject = f"shipment:{batch['batch_id'].hex}:{e.shipment_id}"
    common: dict[str, Any] = {"batch": batch, "serials": e.serials, "quantity": e.quantity,
                              "shipment_id": e.shipment_id}
    # Export without a valid clearance or authorization.
    problems: list[str] = []
    if batch["clearance_status"] != "granted":
        problems.append(f"the batch's clearance was {batch['clearance_status']}")
    elif batch["granted_at"] is not None and when < utc(batch["granted_at"]):
        problems.append(f"shipped {when:%Y-%m-%d} before the clearance was granted on "
                        f"{utc(batch['granted_at']):%Y-%m-%d}")
    if auth is not None:
        label = _auth_label(auth)
        invalid = validity_problem(authorization_terms(auth), when)
        if invalid is not None and invalid.facts["state"] == "expired":
            problems.append(f"shipped {when:%Y-%m-%d} after authorization {label} expired on "
                            f"{utc(auth['valid_to']):%Y-%m-%d}")
        elif invalid is not None:
            problems.append(f"shipped {when:%Y-%m-%d} before authorization {label} became valid on "
                            f"{utc(auth['valid_from']):%Y-%m-%d}")
    elif batch["clearance_status"] == "granted":
        problems.append("the clearance names no registered authorization")
    if batch["clearance_status"] == "granted" and auth is not None:
        problems += _shipment_license_problems(work, batch, auth, when, e.intermediate_consignee_ids)
        problems += _intermediate_consignee_problems(auth, e.intermediate_consignee_ids)
    for p in problems:
        _flag(work, e, "export-without-clearance", subject, severity="critical",
              reason=f"shipment {e.shipment_id} of {e.quantity} unit(s): {p}", **common)
    # Where it went.
    for p in _location_problems(work, batch, auth, e.destination_country, e.destination_site_id):
        _flag(work, e, "location-not-authorized", subject, severity="critical",
              reason=f"shipment {e.shipment_id}: {p}", **common)
    # How much.
    if batch["shipped"] + e.quantity > batch["cleared"]:
        _flag(work, e, "quantity-over-clearance", f"batch:{batch['batch_id'].hex}", severity="high",
              batch=batch, serials=e.serials, quantity=batch["shipped"] + e.quantity - batch["cleared"],
              reason=f"shipment {e.shipment_id} brings the batch to {batch['shipped'] + e.quantity} "
              f"shipped against {batch['cleared']} cleared")
    batch["shipped"] += e.quantity
    _touch(batch, when)
    work.cache("batch").put(batch)
    work.cache("shipment").put({
        "batch_id": batch["batch_id"], "shipment_id": e.shipment_id, "position": work.position,
        "shipped_at": when, "quantity": e.quantity, "received": 0,
        "destination_country": e.destination_country, "destination_site_id": e.destination_site_id,
        "carrier_id": e.carrier_id, "intermediate_consignee_ids": [p.hex for p in e.intermediate_consignee_ids],
        "forwarder_id": e.forwarder_id, "exporter_id": getattr(e, "exporter_id", None),
        "eccn": batch.get("eccn") or "",
        **_export_terms(work, batch, e.itn, e.quantity),
    })
    flag_shipment_parties(work, e, batch)
    if e.destination_site_id is not None:
        _check_power(work, e, e.destination_site_id, batch, e.serials, e.quantity, shipped_to=True)
    _apply(work, e, changes={"shipment_id": e.shipment_id})
    _pending_add(work, TRANSIT, batch["batch_id"], e.shipment_id, when, e.quantity)


def _export_terms(work: Work, batch: Row, itn: str, quantity: int) -> Row:
    """What the auditor's record of an export carries beyond its parties: the AES/EEI ITN, the
    end-use statement of the clearance, the value (units x the order's unit price), and the
    authorization the units left under with its running drawdown then."""
    price = batch.get("unit_price")
    auth = _authorization_of(work, batch)
    terms: Row = {
        "itn": itn or "", "end_use": batch.get("end_use") or "",
        "value": str(quantity * Decimal(price)) if price is not None else None,
        "currency": batch.get("currency") or "", "classification": batch.get("classification"),
        "authorization_id": None, "authorization_number": "", "authorization_type": "", "exception_code": "",
        "authorization_valid_to": None, "authorization_drawn_quantity": None,
        "authorization_remaining_quantity": None, "authorization_remaining_value": None,
    }
    if auth is not None:
        left_v = remaining(Decimal(auth["value_limit"]) if auth["value_limit"] is not None else None,
                           Decimal(auth["drawn_value"]), Decimal(auth["returned_value"]))
        terms.update(
            authorization_id=auth["authorization_id"], authorization_number=auth["number"],
            authorization_type=auth["auth_type"], exception_code=auth["exception_code"],
            authorization_valid_to=auth["valid_to"],
            authorization_drawn_quantity=auth["drawn_quantity"] - auth["returned_quantity"],
            authorization_remaining_quantity=remaining(auth["quantity_limit"], auth["drawn_quantity"],
                                                       auth["returned_quantity"]),
            authorization_remaining_value=str(left_v) if left_v is not None else None,
        )
    return terms


def _received(work: Work, e: Any) -> None:
    batch = _batch(work, e.originator_id)
    shipments = work.cache("shipment")
    shipment = shipments.get(batch["batch_id"], e.shipment_id)
    subject = f"shipment:{batch['batch_id'].hex}:{e.shipment_id}"
    if e.missing_serials:
        _flag(work, e, "units-missing-in-transit", subject, severity="high", batch=batch,
              serials=e.missing_serials, shipment_id=e.shipment_id,
              reason=f"receipt of shipment {e.shipment_id} is missing {len(e.missing_serials)} serial(s)")
    elif not e.serials and shipment is not None and shipment["received"] + e.quantity < shipment["quantity"]:
        short = shipment["quantity"] - shipment["received"] - e.quantity
        _flag(work, e, "units-missing-in-transit", subject, severity="high", batch=batch,
              quantity=short, shipment_id=e.shipment_id,
              reason=f"receipt of shipment {e.shipment_id}: {shipment['received'] + e.quantity} of "
              f"{shipment['quantity']} unit(s) received, {short} short")
    if e.unexpected_serials:
        _flag(work, e, "serial-not-shipped", subject, severity="medium", batch=batch,
              serials=e.unexpected_serials, shipment_id=e.shipment_id,
              reason=f"receipt of shipment {e.shipment_id} names {len(e.unexpected_serials)} serial(s) "
              "the shipment did not carry")
    if e.site_id is not None:
        _check_site(work, e, batch, e.site_id, "received", e.serials, e.quantity)
        declared = shipment.get("destination_site_id") if shipment is not None else None
        if declared is not None and declared != e.site_id:
            _flag(work, e, "received-at-other-site", subject, severity="medium", batch=batch, serials=e.serials,
                  quantity=e.quantity, shipment_id=e.shipment_id, site_id=e.site_id,
                  reason=f"shipment {e.shipment_id} was declared for {_site_name(work, declared)}; "
                  f"{e.quantity} unit(s) received at {_site_name(work, e.site_id)}")
    _check_receiver(work, e, batch, shipment)
    if shipment is not None:
        shipments.put({**shipment, "received": shipment["received"] + e.quantity})
    pending = work.cache("pending")
    transit = pending.get(TRANSIT, batch["batch_id"], e.shipment_id)
    if transit is not None and transit["finding_id"] is None:
        _flag_if_late(work, e, dict(transit))
        transit = pending.get(TRANSIT, batch["batch_id"], e.shipment_id)
    if transit is not None and transit["finding_id"] is None:
        pending.delete(TRANSIT, batch["batch_id"], e.shipment_id)  # a receipt answers the wait
    elif transit is not None:
        units = max(transit["units"] - e.quantity, 0)
        if units:
            pending.put({**transit, "units": units})
        else:
            pending.delete(TRANSIT, batch["batch_id"], e.shipment_id)
    _apply(work, e, skip_transit=True)
    if e.quantity:
        _pending_add(work, INSTALL, batch["batch_id"], e.shipment_id, e.occurred_at, e.quantity)


def _check_receiver(work: Work, e: Any, batch: Row, shipment: Row | None) -> None:
    """Units handed over at a receipt to a party the shipment was not for (not the purchaser,
    the cleared consignee or end user, nor an intermediate consignee of the shipment): the
    in-country handover the headquarters rule names (15 CFR 742.6(a)(6)(iii)(A)), so the receiver
    is held to it and to screening as an assignee or new owner is."""
    receiver = e.receiving_party_id
    expected = {batch["buyer_id"], batch.get("consignee_id"), batch.get("end_user_id")}
    if shipment is not None:
        expected |= {UUID(p) for p in shipment.get("intermediate_consignee_ids") or []}
    if receiver is not None and receiver not in expected:
        _check_recipient(work, e, batch, receiver, "receiving party", e.serials, e.quantity, end_user=False)


def _installed(work: Work, e: Any) -> None:
    batch = _batch(work, e.originator_id)
    if e.relocated_serials:
        _flag(work, e, "serial-at-two-sites", f"relocation:{batch['batch_id'].hex}:{e.site_id.hex}",
              severity="high", batch=batch, serials=e.relocated_serials, site_id=e.site_id,
              reason=f"{len(e.relocated_serials)} serial(s) already installed elsewhere reported installed "
              f"at {_site_name(work, e.site_id)}")
    _check_site(work, e, batch, e.site_id, "installed", e.serials, e.quantity)
    _apply(work, e)
    _check_power(work, e, e.site_id, batch, e.serials, e.quantity)


def _assigned(work: Work, e: Any) -> None:
    batch = _batch(work, e.originator_id)
    _check_recipient(work, e, batch, e.assignee_id, "assignee", e.serials, e.quantity, end_user=True)
    flag_recipient(work, e, batch, e.assignee_id, "assignee", e.serials, e.quantity)
    _apply(work, e)


def _transferred(work: Work, e: Any) -> None:
    batch = _batch(work, e.originator_id)
    _check_recipient(work, e, batch, e.to_owner_id, "new owner", e.serials, e.quantity, end_user=True)
    flag_recipient(work, e, batch, e.to_owner_id, "new owner", e.serials, e.quantity)
    if e.to_site_id is not None:
        _check_site(work, e, batch, e.to_site_id, "transferred", e.serials, e.quantity)
    _touch(batch, e.occurred_at)
    work.cache("batch").put(batch)
    _apply(work, e, receipt=receipt_key(e))
    if e.to_site_id is not None:
        _check_power(work, e, e.to_site_id, batch, e.serials, e.quantity)


def _reported_lost(work: Work, e: Any) -> None:
    batch = _batch(work, e.originator_id)
    _flag(work, e, "units-reported-lost", f"lost:{batch['batch_id'].hex}:{e.originator_version}",
          severity="high" if e.kind == "stolen" else "medium", batch=batch, serials=e.serials,
          quantity=e.quantity,
          reason=f"{e.quantity} unit(s) reported {e.kind}" + (f": {e.note}" if e.note else ""))
    _touch(batch, e.occurred_at)
    work.cache("batch").put(batch)
    _apply(work, e)


def _returned_for_rma(work: Work, e: Any) -> None:
    """Units sent back to the vendor for repair or replacement: a reexport of the item, from
    which its records are kept (15 CFR 762.6), like any later export."""
    batch = _batch(work, e.originator_id)
    _touch(batch, e.occurred_at)
    work.cache("batch").put(batch)
    _apply(work, e)


def _repaired(work: Work, e: Any) -> None:
    """Units repaired: back from an RMA, received at a site by their owner (live again: its
    holdings and the serials' positions; the site is checked as a receipt's is: a site in a country
    the batch was not cleared for, or its authorization does not cover, is location-not-authorized),
    or repaired in place (nothing moves)."""
    batch = _batch(work, e.originator_id)
    if e.kind == "from_rma" and e.site_id is not None:
        _check_site(work, e, batch, e.site_id, "received back from RMA", e.serials, e.quantity)
    _touch(batch, e.occurred_at)
    work.cache("batch").put(batch)
    _apply(work, e, receipt=receipt_key(e))


def _onward_movement(work: Work, e: Any) -> None:
    """A known reexport, transshipment or diversion of exported units: kept as the batch's record,
    it moves the record-retention basis (15 CFR 762.6); a diversion (the units went where the
    authorization did not allow) is a critical finding; a reexport to (or transshipment through)
    a country the destination rule (or, for a recorded recipient, the headquarters rule) in force
    then needs a license for, which the batch's authorization does not cover (a license or NAC
    notification listing the country, naming such a recipient, valid then), is one too
    (``reexport-not-authorized``, as an export there without it is ``export-without-clearance``)."""
    batch = _batch(work, e.originator_id)
    where = f"{e.place}, {e.country}" if e.place else e.country
    problem = _onward_movement_problem(work, batch, e.kind, e.country, utc(e.occurred_at),
                                       getattr(e, "recipient_id", None))
    if problem is not None:
        _flag(work, e, problem.rule, f"onward:{batch['batch_id'].hex}:{e.originator_version}",
              severity="critical", batch=batch, serials=e.serials, quantity=e.quantity,
              reason=f"{e.quantity} unit(s), {utc(e.occurred_at):%Y-%m-%d}, {where}: {problem.detail} "
              f"({problem.citation})")
    if e.kind == "diversion":
        _flag(work, e, "units-diverted", f"diversion:{batch['batch_id'].hex}:{e.originator_version}",
              severity="critical", batch=batch, serials=e.serials, quantity=e.quantity,
              reason=f"{e.quantity} unit(s) diverted to {where} on {utc(e.occurred_at):%Y-%m-%d}"
              + (f": {e.note}" if e.note else ""))
    _touch(batch, e.occurred_at)
    work.cache("batch").put(batch)
    work.append("onward_movement", {
        "batch_id": batch["batch_id"], "position": work.position, "kind": e.kind, "country": e.country,
        "place": e.place, "quantity": e.quantity, "serials": list(e.serials), "note": e.note,
        "occurred_at": utc(e.occurred_at), "recorded_by": e.actor,
        "recipient_id": getattr(e, "recipient_id", None),
    })


def _legal_hold_placed(work: Work, e: Any) -> None:
    work.cache("legal_hold").put({
        "hold_id": e.originator_id, "batch_id": e.batch_id, "position": work.position, "agency": e.agency,
        "reference": e.reference, "reason": e.reason, "placed_by": e.actor, "placed_at": utc(e.occurred_at),
        "released_by": "", "released_at": None, "release_reason": "",
    })


def _legal_hold_released(work: Work, e: Any) -> None:
    holds = work.cache("legal_hold")
    row = holds.get(e.originator_id)
    if row is None:
        raise LookupError(f"legal hold {e.originator_id} released but never placed")
    holds.put({**row, "released_by": e.actor, "released_at": utc(e.occurred_at), "release_reason": e.reason})


def _decommissioned(work: Work, e: Any) -> None:
    batch = _batch(work, e.originator_id)
    _touch(batch, e.occurred_at)
    work.cache("batch").put(batch)
    _apply(work, e)


def _split_off(work: Work, e: Any) -> None:
    """Units leave for the child batch; the child's SplitFrom (same atomic save) re-points the
    serial rows, so they are not touched here."""
    batch = _batch(work, e.originator_id)
    batch["quantity"] -= e.quantity
    batch["cleared"] -= e.cleared_quantity
    work.cache("batch").put(batch)
    for f, _t, n in moves_of(e):
        _hold(work, UUID(f.owner), e.originator_id, "owner", -n)
