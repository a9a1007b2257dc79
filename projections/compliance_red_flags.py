"""The compliance projection's BIS diversion red flags (guidance of 13 May 2025) beyond the site's
power (``site-power-insufficient``, in ``compliance_checks``):

* ``red-flag-first-time-large-buyer``: a purchaser's first order of at least the ruleset's
  ``red_flag_large_volume_gpus`` (units x GPUs per unit);
* ``red-flag-address``: a shipment of at least ``red_flag_commercial_quantity_gpus`` for a party
  (purchaser, consignee, end user, intermediate consignee) whose address is recorded as
  residential or vague;
* ``red-flag-online-presence``: a shipment for a party of the transaction (the same, and the
  forwarder) recorded as having little online presence;
* ``red-flag-unusual-forwarder``: a shipment through a forwarder recorded as unusual;
* the address and online-presence flags again when units are assigned or transferred in the
  country to such a party (``flag_recipient``).

The facts are the party's optional ``address_type``, ``online_presence`` and
``forwarder_standing``; a fact not recorded is unknown and raises nothing (the guidance flags what
the exporter found, not what it did not look at). Thresholds are rule data (the ruleset in force
at the event's business time), as the registry's decisions read them. A red flag is a finding to
review (medium severity), not a refusal: the guidance asks the exporter to resolve it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from projections.compliance_lookups import _party_name, _rules
from projections.engine import Row, Work
from projections.findings import _flag, utc
from registry.domain.classification import Ruleset
from registry.domain.errors import ComplianceRefusal
from registry.domain.policy import shipment_recipients

SEVERITY = "medium"
# how a reason names the role of a party of ``policy.shipment_recipients``
_ROLE_WORDS = {"purchaser": "purchaser", "consignee": "consignee", "end_user": "end user"}


def _ruleset(work: Work, e: Any) -> Ruleset | None:
    try:
        return _rules(work).rulesets.in_force(utc(e.occurred_at))
    except ComplianceRefusal:
        return None  # no rule data in force then


def _gpus(work: Work, model_id: UUID, units: int) -> int:
    model = work.cache("gpu_model").get(model_id)
    return units * int(model["gpus_per_unit"]) if model is not None else units


def flag_first_time_buyer(work: Work, e: Any) -> None:
    """On ``Ordered``: the buyer's first order is kept on its row (the row is written once, not
    on every order); a first one of a large volume is flagged."""
    parties = work.cache("party")
    party = parties.get(e.buyer_id)
    if party is None:
        return
    if party.get("first_order_batch_id") is not None:
        return
    parties.put({**party, "first_order_batch_id": e.originator_id})
    ruleset = _ruleset(work, e)
    if ruleset is None:
        return
    gpus = _gpus(work, e.model_id, e.quantity)
    if gpus < ruleset.red_flag_large_volume_gpus:
        return
    batch = work.cache("batch").get(e.originator_id)
    _flag(work, e, "red-flag-first-time-large-buyer", f"first-order:{e.buyer_id.hex}", severity=SEVERITY,
          batch=batch, quantity=e.quantity, party_id=e.buyer_id,
          reason=f"first order of purchaser {party['name']} is {gpus} GPU(s) on PO {e.po_number}, at or above "
          f"the large-volume threshold of {ruleset.red_flag_large_volume_gpus} ({ruleset.red_flag_citation})")


def flag_shipment_parties(work: Work, e: Any, batch: Row) -> None:
    """On ``Shipped``: the address, online-presence and forwarder red flags of its parties."""
    ruleset = _ruleset(work, e)
    if ruleset is None:
        return
    receivers = [(_ROLE_WORDS.get(role, "intermediate consignee"), pid) for role, pid in shipment_recipients(
        batch["buyer_id"], batch.get("consignee_id"), batch.get("end_user_id"), e.intermediate_consignee_ids)]
    common: dict[str, Any] = {"severity": SEVERITY, "batch": batch, "serials": e.serials,
                              "quantity": e.quantity, "shipment_id": e.shipment_id}
    gpus = _gpus(work, batch["model_id"], e.quantity)
    bid = batch["batch_id"].hex
    parties = work.cache("party")
    for role, pid in receivers:
        party = parties.get(pid)
        kind = str(party.get("address_type") or "") if party is not None else ""
        if kind in ("residential", "vague") and gpus >= ruleset.red_flag_commercial_quantity_gpus:
            _flag(work, e, "red-flag-address", f"address:{bid}:{pid.hex}", party_id=pid, **common,
                  reason=f"shipment {e.shipment_id} of {gpus} GPU(s) (commercial quantity: >= "
                  f"{ruleset.red_flag_commercial_quantity_gpus}) for {role} {_party_name(work, pid)}, whose "
                  f"address is recorded as {kind} ({ruleset.red_flag_citation})")
    forwarder: Sequence[tuple[str, UUID]] = [("forwarder", e.forwarder_id)] if e.forwarder_id is not None else []
    for role, pid in [*receivers, *forwarder]:
        party = parties.get(pid)
        if party is not None and party.get("online_presence") == "little":
            _flag(work, e, "red-flag-online-presence", f"online:{bid}:{pid.hex}", party_id=pid, **common,
                  reason=f"shipment {e.shipment_id} for {role} {_party_name(work, pid)}, recorded as having "
                  f"little online presence ({ruleset.red_flag_citation})")
    if e.forwarder_id is not None:
        party = parties.get(e.forwarder_id)
        if party is not None and party.get("forwarder_standing") == "unusual":
            _flag(work, e, "red-flag-unusual-forwarder", f"forwarder:{bid}:{e.forwarder_id.hex}",
                  party_id=e.forwarder_id, **common,
                  reason=f"shipment {e.shipment_id} through freight forwarder {_party_name(work, e.forwarder_id)}, "
                  f"recorded as unusual ({ruleset.red_flag_citation})")


def flag_recipient(work: Work, e: Any, batch: Row, party_id: UUID, role: str, serials: Sequence[str],
                   quantity: int) -> None:
    """On ``Assigned`` / ``Transferred``: units handed over in the country to a party whose address
    is recorded as residential or vague (a commercial quantity), or with little online presence,
    are held to the same red flags as a shipment for it (the same finding subjects)."""
    ruleset = _ruleset(work, e)
    party = work.cache("party").get(party_id)
    if ruleset is None or party is None:
        return
    bid = batch["batch_id"].hex
    common: dict[str, Any] = {"severity": SEVERITY, "batch": batch, "serials": serials, "quantity": quantity,
                              "party_id": party_id}
    gpus = _gpus(work, batch["model_id"], quantity)
    kind = str(party.get("address_type") or "")
    if kind in ("residential", "vague") and gpus >= ruleset.red_flag_commercial_quantity_gpus:
        _flag(work, e, "red-flag-address", f"address:{bid}:{party_id.hex}", **common,
              reason=f"{gpus} GPU(s) of PO {batch['po_number']} (commercial quantity: >= "
              f"{ruleset.red_flag_commercial_quantity_gpus}) handed to {role} {party['name']}, whose address is "
              f"recorded as {kind} ({ruleset.red_flag_citation})")
    if party.get("online_presence") == "little":
        _flag(work, e, "red-flag-online-presence", f"online:{bid}:{party_id.hex}", **common,
              reason=f"{quantity} unit(s) of PO {batch['po_number']} handed to {role} {party['name']}, recorded "
              f"as having little online presence ({ruleset.red_flag_citation})")


def flag_amended_party(work: Work, e: Any) -> None:
    """On ``Party.Amended`` recording a red-flag fact (an address now residential or vague, little
    online presence): the units the party owns or is assigned now are held to it, per batch, as a
    shipment for it would be (the same finding subjects, so nothing is raised twice)."""
    party = work.cache("party").get(e.originator_id)
    ruleset = _ruleset(work, e)
    if party is None or ruleset is None:
        return
    kind = str(party.get("address_type") or "")
    address = "address_type" in e.fields and kind in ("residential", "vague")
    online = "online_presence" in e.fields and party.get("online_presence") == "little"
    if not (address or online):
        return
    pid = e.originator_id
    held: dict[UUID, int] = {}
    for r in work.cache("holding", group="party_id").group_rows(pid):
        if r["units"] > 0:
            held[r["batch_id"]] = max(held.get(r["batch_id"], 0), int(r["units"]))
    for batch_id in sorted(held, key=str):
        batch = work.cache("batch").get(batch_id)
        if batch is None:
            continue
        units, bid = held[batch_id], batch_id.hex
        common: dict[str, Any] = {"severity": SEVERITY, "batch": batch, "quantity": units, "party_id": pid}
        gpus = _gpus(work, batch["model_id"], units)
        if address and gpus >= ruleset.red_flag_commercial_quantity_gpus:
            _flag(work, e, "red-flag-address", f"address:{bid}:{pid.hex}", **common,
                  reason=f"{party['name']} holds {gpus} GPU(s) of PO {batch['po_number']} (commercial quantity: "
                  f">= {ruleset.red_flag_commercial_quantity_gpus}) and its address is now recorded as {kind} "
                  f"({ruleset.red_flag_citation})")
        if online:
            _flag(work, e, "red-flag-online-presence", f"online:{bid}:{pid.hex}", **common,
                  reason=f"{party['name']} holds {units} unit(s) of PO {batch['po_number']} and is now recorded "
                  f"as having little online presence ({ruleset.red_flag_citation})")
