"""The compliance projection: findings over the recorded facts, per batch and per serial.

This module holds the projection itself (its tables and which handler applies which event); the
handlers live in modules named for what they handle, all sharing the chunk's row caches (the rules
themselves are ``registry/domain/policy.py``):

* ``projections/findings.py``: the vocabulary and life cycle of a finding (ids, severities, raising
  one, evidence, trail, an officer's review);
* ``projections/compliance_reference.py`` and ``compliance_screening.py``: the projection's copies
  of reference data, the authorization ledger and screening cases;
* ``projections/compliance_batches.py``: orders, splits, clearances and movements of batches;
* ``projections/compliance_clock.py``: the log clock and the overdue receipts and installations;
* ``projections/compliance_checks.py`` (over ``compliance_lookups.py``): the checks against the rules;
* ``projections/compliance_declarations.py``: events declared in error.

One concept: the compliance read model's tables and which handler applies which event.

The registry refuses what it decides and records what it is told (docs/compliance.md). This
projection reads the whole log, keeps its own copies of parties, sites, GPU models,
authorizations and screening hits (so at any position they agree with its other rows), and
raises a *finding* whenever the facts break a rule of :data:`registry.domain.compliance_rules.RULES`:

========================== ===================================================================
rule id                    raised when
========================== ===================================================================
export-without-clearance   a shipment while the batch's clearance was not granted, before it was
                           granted, or outside the authorization's validity (after valid_to); a
                           shipment the destination or headquarters rule in force when it left
                           says needs a license the authorization is not (nor an allowed exception)
                           or through an intermediate consignee a license naming its consignees
                           does not name
location-not-authorized    a shipment to a country other than the cleared destination or one the
                           authorization does not cover; a receipt, installation or transfer at
                           a site in such a country
recipient-not-authorized   units assigned or transferred to a party the authorization does not
                           name as end user, with an open or confirmed screening hit, or under the
                           headquarters rule; also when such a fact arrives later (a Party.Amended
                           revealing a D:5/Macau ultimate parent, a new screening hit) for a party
                           that already owns or is assigned units
quantity-over-clearance    shipped above the cleared quantity; an authorization drawn beyond its
                           quantity or value limit (remaining < 0, e.g. after an amendment)
units-missing-in-transit   a receipt with missing serials, or a quantity receipt short of the shipment
serial-not-shipped         a receipt naming serials the shipment did not carry
serial-at-two-sites        a serial reported installed at a second site
not-received-in-time       no receipt for a shipment ``transit_days`` after it shipped
not-installed-in-time      received units not installed ``install_days`` after the receipt
site-power-insufficient    an installation after which the site's summed TDP exceeds its capacity
red-flag-first-time-large- a purchaser's first order of at least the ruleset's large volume (GPUs)
buyer
red-flag-address           a commercial quantity shipped for a party with a residential or vague
                           address
red-flag-online-presence   a shipment for a party recorded with little online presence
red-flag-unusual-forwarder a shipment through a forwarder recorded as unusual
units-reported-lost        units reported lost or stolen
units-diverted             a recorded diversion of exported units (critical)
reexport-not-authorized    a recorded reexport to (or transshipment through) a country the
                           destination rule in force then needs a license for, which the batch's
                           authorization does not cover (critical)
unit-outside-licensed-     a host agent's signed check-in puts units in a country other than the
location                   cleared destination or one the authorization covers (critical)
unit-location-mismatch     a signed check-in in the licensed country puts units at a site other
                           than the one the registry has them installed at
event-declared-in-error    a recorded event of the batch declared in error (EPCIS errorDeclaration)
========================== ===================================================================

Identity and determinism. A finding's id derives from its rule, its subject (say the batch and
shipment) and an episode number, so a rebuild gives the same ids. Its first-detected time is the
*recorded* time of the event that revealed it. The time-based rules are evaluated against the log
time: the latest business time (``occurred_at``) of any batch event processed so far, never the
wall clock; :meth:`ComplianceQueries.overdue` evaluates the outstanding items at a caller's time.

Findings disappear only by resolution. A finding stays open (or acknowledged) until an officer
resolves it (``FindingReview`` events); later evidence about the same subject is added to it, and
after a resolution it opens a new episode with a new id. Nothing that happens later removes one.

Record retention (15 CFR 762.6): per shipment its export time, and per batch the latest export,
reexport (an RMA return to the vendor, or a recorded one), transshipment, diversion, transfer or
other termination (loss, decommission), from which the retention-until date follows; a legal hold
(``LegalHold`` events) keeps the batch's records whatever that date says. Per shipment the ECCN
it was cleared under, from which the Destination Control Statement follows (15 CFR 758.6).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Column, DateTime, Index, Integer, MetaData, String, Table, Text, Uuid

from projections.compliance_batches import (
    _assigned,
    _clearance_ended,
    _clearance_granted,
    _clearance_requested,
    _decommissioned,
    _installed,
    _legal_hold_placed,
    _legal_hold_released,
    _onward_movement,
    _order_corrected,
    _ordered,
    _received,
    _repaired,
    _reported_lost,
    _returned_for_rma,
    _serials_registered,
    _shipped,
    _split_from,
    _split_off,
    _transferred,
)
from projections.compliance_clock import _advance_clock
from projections.compliance_declarations import define_declarable, error_declared, remembering
from projections.compliance_locations import _attested, define_locations
from projections.compliance_reference import (
    _authorization,
    _ledger,
    _model,
    _model_amended,
    _party,
    _rule_data_configured,
    _site,
)
from projections.compliance_screening import _case_opened, _hit_resolved, _screened
from projections.engine import Handler, Projection, Work
from projections.findings import _HEX, INSTALL_DAYS, TRANSIT, TRANSIT_DAYS, _reviewed, finding_id_for
from projections.serial_runs import RUN_TABLE, define_runs
from registry.domain.batch import GpuBatch
from registry.domain.findings import FindingReview, FindingStatus
from registry.domain.host_agent import HostAgent
from registry.domain.legal_hold import LegalHold
from registry.domain.reference import ExportAuthorization, GpuModel, Party, Site
from registry.domain.rule_data import ComplianceRuleData
from registry.domain.screening import ScreeningCase

__all__ = ["ComplianceFindings", "finding_id_for"]  # finding_id_for: where callers have found it


class ComplianceFindings(Projection):
    """Findings, per-batch and per-serial compliance, overdue items and export records."""

    name = "compliance"
    # 2: party parents (immediate / ultimate), recorded rule data; 3: serials as runs;
    # 4: an RMA return (a reexport) moves the batch's record-retention basis; a shipment is held
    # against the destination and headquarters rules in force when it left; 5: a shipment's
    # carrier, intermediate consignees and forwarder, and the BIS diversion red flags;
    # 6: legal holds, recorded reexports / transshipments / diversions (units-diverted), the
    # clearance's ECCN per batch and shipment (the Destination Control Statement);
    # 7: a known reexport or transshipment held to the destination rule
    # (reexport-not-authorized); the authorization rows gain consignee_ids, and a shipment's
    # intermediate consignee not named on a license naming its consignees is export-without-clearance;
    # 8: license exceptions held to their own scope (740.8: NAC not for a D:1/D:4-only destination),
    # the authorization rows gain intermediate_consignee_ids, and a shipment's intermediate
    # consignee must be one a license naming any consignee names as intermediate consignee; the
    # shipment rows gain exporter_id (the exporter of record), the ITN, end-use statement, value and
    # the authorization with its running drawdown at the export; the batch rows gain end_use,
    # unit_price and currency
    # 9: signed location attestations of host agents (docs/locations.md): serial_location (each
    # serial's last check-in), unit-outside-licensed-location and unit-location-mismatch
    # 10: a receipt by a party the shipment was not for is held to the headquarters rule and
    # screening (recipient-not-authorized), as an assignment or transfer is
    # 11: a recorded reexport or transshipment under a license exception (NAC) must be to a
    # country its notification lists, under an authorization valid then, and a recorded
    # recipient under the headquarters rule must be named on it (reexport-not-authorized); an
    # assignment, transfer or receipt by a party under the headquarters rule needs the
    # authorization naming it valid at that time (recipient-not-authorized)
    # 12: the batch rows gain parent_batch_id (a legal hold on a batch holds the export records of
    # the batches split from it); a shipment to a site without the power for what it carries is
    # site-power-insufficient when it ships; a receipt at another site than the shipment was
    # declared for is received-at-other-site; an assignment or transfer of a commercial quantity
    # to a party at a residential or vague address (or with little online presence) is a red flag;
    # a corrected model reclassified under another ECCN flags its exported batches
    # 13: the batch's and each shipment's classification summary carries the AES/EEI license code
    # of the authorization (C30, C33, a license exception's from its ruleset); the onward movement
    # rows gain recipient_id (the party the units went to, when recorded); an event declared in error
    # (ErrorDeclared) raises event-declared-in-error (captured events remembered in declarable); a
    # repair receiving units back from an RMA at a site is checked as a receipt there
    # (location-not-authorized)
    # 14: units received at a site by an in-country transfer to another site or back from an RMA
    # repair wait for their installation from that event (not-installed-in-time): pending items
    # keyed "(transfer vN)" / "(repair vN)", the waiting serials' runs naming that key as shipment
    version = 14
    derived_scratch = frozenset({"rule_data"})  # _rules() reads it back from the rule_data row

    def __init__(self, transit_days: int = TRANSIT_DAYS, install_days: int = INSTALL_DAYS) -> None:
        super().__init__()
        if transit_days < 1 or install_days < 1:
            raise ValueError("transit_days and install_days must be >= 1")
        self.transit_days = transit_days
        self.install_days = install_days

    def allowance(self, kind: str) -> timedelta:
        return timedelta(days=self.transit_days if kind == TRANSIT else self.install_days)

    # ------------------------------------------------------------------------ tables
    def define(self, metadata: MetaData, name: Callable[[str], str]) -> dict[str, Table]:
        t: dict[str, Table] = {}
        t["party"] = Table(
            name("party"), metadata,
            Column("party_id", Uuid, primary_key=True),
            Column("name", Text, nullable=False),
            Column("country", String(2), nullable=False),
            Column("headquarters_country", String(2), nullable=False),
            Column("immediate_parent_id", Uuid, nullable=True),
            Column("ultimate_parent_id", Uuid, nullable=True),
            # v5: the diversion red-flag facts ("" unknown) and the batch of its first order as
            # purchaser (written once: a later order does not touch the row)
            Column("address_type", String(16), nullable=False, default=""),
            Column("online_presence", String(16), nullable=False, default=""),
            Column("forwarder_standing", String(16), nullable=False, default=""),
            Column("first_order_batch_id", Uuid, nullable=True),
        )
        # The configured rule data (ComplianceRuleData.Configured), one row; none: the defaults.
        t["rule_data"] = Table(
            name("rule_data"), metadata,
            Column("key", String(16), primary_key=True),
            Column("data", JSON, nullable=False),
        )
        t["site"] = Table(
            name("site"), metadata,
            Column("site_id", Uuid, primary_key=True),
            Column("name", Text, nullable=False),
            Column("country", String(2), nullable=False),
            Column("power_capacity_kw", String(64), nullable=False),
        )
        t["gpu_model"] = Table(
            name("gpu_model"), metadata,
            Column("model_id", Uuid, primary_key=True),
            Column("name", Text, nullable=False),
            Column("spec", JSON, nullable=False),
            Column("tdp_watts", BigInteger, nullable=False),
            Column("gpus_per_unit", Integer, nullable=False),
        )
        t["authorization"] = Table(
            name("authorization"), metadata,
            Column("authorization_id", Uuid, primary_key=True),
            Column("number", Text, nullable=False),
            Column("auth_type", String(32), nullable=False),
            Column("exception_code", Text, nullable=False),
            Column("destination_countries", JSON, nullable=False),
            Column("end_user_ids", JSON, nullable=False),  # hex ids
            # v7: the consignees a license names (hex ids), for its intermediate consignees
            Column("consignee_ids", JSON, nullable=False),
            # v8: the intermediate consignees a license names apart (hex ids)
            Column("intermediate_consignee_ids", JSON, nullable=False, default=list),
            Column("valid_from", DateTime(timezone=True), nullable=False),
            Column("valid_to", DateTime(timezone=True), nullable=True),
            Column("quantity_limit", BigInteger, nullable=True),
            Column("value_limit", String(64), nullable=True),
            Column("currency", String(3), nullable=False),
            Column("drawn_quantity", BigInteger, nullable=False),
            Column("returned_quantity", BigInteger, nullable=False),
            Column("drawn_value", String(64), nullable=False),
            Column("returned_value", String(64), nullable=False),
        )
        t["screening_case"] = Table(
            name("screening_case"), metadata,
            Column("case_id", Uuid, primary_key=True),
            Column("party_id", Uuid, nullable=False),
        )
        t["screening_hit"] = Table(
            name("screening_hit"), metadata,
            Column("party_id", Uuid, primary_key=True),
            Column("hit_id", String(64), primary_key=True),
            Column("current", Boolean, nullable=False),
            Column("resolution", String(32), nullable=False),
            Column("source_list", Text, nullable=False),
        )
        t["batch"] = Table(
            name("batch"), metadata,
            Column("batch_id", Uuid, primary_key=True),
            Column("created_position", BigInteger, nullable=False),
            Column("po_number", Text, nullable=False),
            Column("buyer_id", Uuid, nullable=False),
            Column("model_id", Uuid, nullable=False),
            Column("quantity", BigInteger, nullable=False),
            Column("clearance_status", String(16), nullable=False),
            Column("authorization_id", Uuid, nullable=True),
            Column("destination_country", String(2), nullable=False),
            Column("cleared", BigInteger, nullable=False),
            Column("granted_at", DateTime(timezone=True), nullable=True),
            Column("shipped", BigInteger, nullable=False),
            Column("last_transaction_at", DateTime(timezone=True), nullable=True),
            Column("consignee_id", Uuid, nullable=True),
            Column("end_user_id", Uuid, nullable=True),
            Column("eccn", String(32), nullable=False),
            # v8: the clearance request's end-use statement, the order's unit price and currency
            Column("end_use", Text, nullable=False, default=""),
            Column("unit_price", String(64), nullable=True),
            Column("currency", String(3), nullable=False, default=""),
            # v8: the classification evidence of the grant (TPP, PD, datacenter marketing, ruleset)
            Column("classification", JSON, nullable=True),
            # v11: the batch a split took it from (its legal holds reach this batch's records too)
            Column("parent_batch_id", Uuid, nullable=True),
        )
        t[RUN_TABLE] = define_runs(metadata, name(RUN_TABLE), Column("batch_id", Uuid), [
            Column("shipment_id", Text, nullable=False),
            Column("stage", String(16), nullable=False),
            Column("site", _HEX, nullable=False),
            Column("owner", _HEX, nullable=False),
            Column("assignee", _HEX, nullable=False),
        ])
        t["shipment"] = Table(
            name("shipment"), metadata,
            Column("batch_id", Uuid, primary_key=True),
            Column("shipment_id", Text, primary_key=True),
            Column("position", BigInteger, nullable=False),
            Column("shipped_at", DateTime(timezone=True), nullable=False),
            Column("quantity", BigInteger, nullable=False),
            Column("received", BigInteger, nullable=False),
            Column("destination_country", String(2), nullable=False),
            Column("destination_site_id", Uuid, nullable=True),
            # v5: the shipment's parties beyond the clearance's (hex ids, in order; none: [])
            Column("carrier_id", Uuid, nullable=True),
            Column("intermediate_consignee_ids", JSON, nullable=False, default=list),
            Column("forwarder_id", Uuid, nullable=True),
            Column("eccn", String(32), nullable=False),  # the clearance's ECCN when it shipped
            # v8: the exporter of record named on the shipment (null: recorded before Shipped v5)
            Column("exporter_id", Uuid, nullable=True),
            # v8, the auditor's record of the export: the AES/EEI ITN, the end-use statement, the
            # value (units x the order's unit price), and the authorization it left under with its
            # running drawdown then (net units drawn, what remained of its limits)
            Column("itn", Text, nullable=False, default=""),
            Column("end_use", Text, nullable=False, default=""),
            Column("value", String(64), nullable=True),
            Column("currency", String(3), nullable=False, default=""),
            Column("authorization_id", Uuid, nullable=True),
            Column("authorization_number", Text, nullable=False, default=""),
            Column("authorization_type", String(32), nullable=False, default=""),
            Column("exception_code", Text, nullable=False, default=""),
            Column("authorization_valid_to", DateTime(timezone=True), nullable=True),
            Column("authorization_drawn_quantity", BigInteger, nullable=True),
            Column("authorization_remaining_quantity", BigInteger, nullable=True),
            Column("authorization_remaining_value", String(64), nullable=True),
            Column("classification", JSON, nullable=True),  # the clearance's classification evidence
        )
        # Legal holds on a batch's export records (15 CFR 762.6): in place while released_at is null.
        legal_hold = Table(
            name("legal_hold"), metadata,
            Column("hold_id", Uuid, primary_key=True),
            Column("batch_id", Uuid, nullable=False),
            Column("position", BigInteger, nullable=False),
            Column("agency", Text, nullable=False),
            Column("reference", Text, nullable=False),
            Column("reason", Text, nullable=False),
            Column("placed_by", Text, nullable=False),
            Column("placed_at", DateTime(timezone=True), nullable=False),
            Column("released_by", Text, nullable=False),
            Column("released_at", DateTime(timezone=True), nullable=True),
            Column("release_reason", Text, nullable=False),
        )
        Index(f"ix_{legal_hold.name}_batch", legal_hold.c.batch_id)
        t["legal_hold"] = legal_hold
        t["serial_location"] = define_locations(metadata, name)
        # Known reexports, transshipments and diversions of a batch's exported units (append-only).
        t["onward_movement"] = Table(
            name("onward_movement"), metadata,
            Column("batch_id", Uuid, primary_key=True),
            Column("position", BigInteger, primary_key=True, autoincrement=False),
            Column("kind", String(16), nullable=False),
            Column("country", String(2), nullable=False),
            Column("place", Text, nullable=False),
            Column("quantity", BigInteger, nullable=False),
            Column("serials", JSON, nullable=False),
            Column("note", Text, nullable=False),
            Column("occurred_at", DateTime(timezone=True), nullable=False),
            Column("recorded_by", Text, nullable=False),
            Column("recipient_id", Uuid, nullable=True),  # v13: the party the units went to, when recorded
        )
        t["declarable"] = define_declarable(metadata, name)
        t["holding"] = Table(
            name("holding"), metadata,
            Column("party_id", Uuid, primary_key=True),
            Column("batch_id", Uuid, primary_key=True),
            Column("role", String(16), primary_key=True),
            Column("units", BigInteger, nullable=False),
        )
        t["site_load"] = Table(
            name("site_load"), metadata,
            Column("site_id", Uuid, primary_key=True),
            Column("batch_id", Uuid, primary_key=True),
            Column("units", BigInteger, nullable=False),
        )
        # Outstanding shipments (transit) and received units not yet installed (install), per
        # shipment; ``finding_id`` is set once the item was flagged as overdue.
        t["pending"] = Table(
            name("pending"), metadata,
            Column("kind", String(16), primary_key=True),
            Column("batch_id", Uuid, primary_key=True),
            Column("shipment_id", Text, primary_key=True),
            Column("since", DateTime(timezone=True), nullable=False),
            Column("units", BigInteger, nullable=False),
            Column("finding_id", Uuid, nullable=True),
        )
        t["clock"] = Table(
            name("clock"), metadata,
            Column("key", Integer, primary_key=True, autoincrement=False),
            Column("as_of", DateTime(timezone=True), nullable=True),
            Column("position", BigInteger, nullable=False),
        )
        t["subject"] = Table(
            name("subject"), metadata,
            Column("rule_id", String(64), primary_key=True),
            Column("subject", Text, primary_key=True),
            Column("finding_id", Uuid, nullable=False),
            Column("episode", Integer, nullable=False),
        )
        finding = Table(
            name("finding"), metadata,
            Column("finding_id", Uuid, primary_key=True),
            Column("rule_id", String(64), nullable=False),
            Column("subject", Text, nullable=False),
            Column("episode", Integer, nullable=False),
            Column("severity", String(16), nullable=False),
            Column("status", String(16), nullable=False),
            Column("batch_id", Uuid, nullable=True),
            Column("partner_id", Uuid, nullable=True),
            Column("party_id", Uuid, nullable=True),
            Column("site_id", Uuid, nullable=True),
            Column("authorization_id", Uuid, nullable=True),
            Column("shipment_id", Text, nullable=False),
            Column("quantity", BigInteger, nullable=False),
            Column("reasons", JSON, nullable=False),
            Column("revealed_position", BigInteger, nullable=False),
            Column("revealed_event_type", String(64), nullable=False),
            Column("revealed_aggregate_id", Uuid, nullable=False),
            Column("revealed_occurred_at", DateTime(timezone=True), nullable=False),
            Column("first_detected_at", DateTime(timezone=True), nullable=False),
            Column("updated_position", BigInteger, nullable=False),
            Column("status_changed_at", DateTime(timezone=True), nullable=True),
            Column("trail_count", Integer, nullable=False),
        )
        Index(f"ix_{finding.name}_revealed", finding.c.revealed_position, finding.c.finding_id)
        Index(f"ix_{finding.name}_batch", finding.c.batch_id)
        Index(f"ix_{finding.name}_partner", finding.c.partner_id)
        Index(f"ix_{finding.name}_party", finding.c.party_id)
        t["finding"] = finding
        finding_serial = Table(
            name("finding_serial"), metadata,
            Column("finding_id", Uuid, primary_key=True),
            Column("serial", String(64), primary_key=True),
        )
        Index(f"ix_{finding_serial.name}_serial", finding_serial.c.serial)
        t["finding_serial"] = finding_serial
        t["trail"] = Table(
            name("trail"), metadata,
            Column("finding_id", Uuid, primary_key=True),
            Column("seq", Integer, primary_key=True, autoincrement=False),
            Column("action", String(16), nullable=False),
            Column("actor", Text, nullable=False),
            Column("note", Text, nullable=False),
            Column("position", BigInteger, nullable=False),
            Column("event_type", String(64), nullable=False),
            Column("occurred_at", DateTime(timezone=True), nullable=False),
            Column("recorded_at", DateTime(timezone=True), nullable=False),
        )
        return t

    def handlers(self) -> Mapping[type[Any], Handler]:
        b = GpuBatch
        batch_handlers: dict[type[Any], Callable[[Work, Any], None]] = {
            b.Ordered: _ordered,
            b.SplitFrom: _split_from,
            b.OrderCorrected: _order_corrected,
            b.ClearanceRequested: _clearance_requested,
            b.ClearanceGranted: _clearance_granted,
            b.ClearanceDenied: _clearance_ended("denied"),
            b.ClearanceRevoked: _clearance_ended("revoked"),
            b.SerialsRegistered: _serials_registered,
            b.Shipped: _shipped,
            b.Received: _received,
            b.Installed: _installed,
            b.Assigned: _assigned,
            b.Transferred: _transferred,
            b.ReturnedForRma: _returned_for_rma,
            b.Repaired: _repaired,
            b.ReportedLost: _reported_lost,
            b.Decommissioned: _decommissioned,
            b.OnwardMovementRecorded: _onward_movement,
            b.SplitOff: _split_off,
            b.ErrorDeclared: error_declared,
        }
        out: dict[type[Any], Handler] = {cls: self._timed(h) for cls, h in remembering(batch_handlers).items()}
        out.update({
            ComplianceRuleData.Configured: _rule_data_configured,
            Party.Registered: _party,
            Party.Amended: _party,
            Site.Registered: _site,
            Site.Amended: _site,
            GpuModel.Registered: _model,
            GpuModel.Amended: _model_amended,
            ExportAuthorization.Registered: _authorization,
            ExportAuthorization.Amended: _authorization,
            ExportAuthorization.Drawn: _ledger(+1),
            ExportAuthorization.Returned: _ledger(-1),
            ScreeningCase.Opened: _case_opened,
            ScreeningCase.Screened: _screened,
            ScreeningCase.HitResolved: _hit_resolved,
            FindingReview.Acknowledged: _reviewed(FindingStatus.ACKNOWLEDGED),
            FindingReview.Resolved: _reviewed(FindingStatus.RESOLVED),
            LegalHold.Placed: _legal_hold_placed,
            LegalHold.Released: _legal_hold_released,
            HostAgent.Attested: _attested,
        })
        return out

    def _timed(self, handler: Callable[[Work, Any], None]) -> Handler:
        """Batch events move the log time; overdue items are flagged before the event applies."""

        def handle(work: Work, e: Any) -> None:
            work.scratch["projection"] = self
            _advance_clock(work, e, self)
            handler(work, e)

        return handle
