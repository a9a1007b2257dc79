"""The compliance projection: findings over the recorded facts, per batch and per serial.

One concept: the compliance findings projection; its tables, handlers and the finding life cycle
share row caches within a chunk (the rules themselves are ``registry/domain/policy.py``).

The registry refuses what it decides and records what it is told (docs/compliance.md). This
projection reads the whole log, keeps its own copies of parties, sites, GPU models,
authorizations and screening hits (so at any position they agree with its other rows), and
raises a *finding* whenever the facts break a rule of :data:`registry.domain.compliance_rules.RULES`:

========================== ===================================================================
rule id                    raised when
========================== ===================================================================
export-without-clearance   a shipment while the batch's clearance was not granted, before it was
                           granted, or outside the authorization's validity (after valid_to)
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
units-reported-lost        units reported lost or stolen
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
transfer or other termination (loss, decommission), from which the retention-until date follows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    select,
)

from projections.common import SERIAL_POSITION, moves_of, plain, serial_moves
from projections.engine import Handler, Projection, Row, Work
from registry.domain.batch import GpuBatch
from registry.domain.classification import Classification, ModelSpec, Ruleset, classify
from registry.domain.compliance_rules import RULES
from registry.domain.errors import ComplianceRefusal
from registry.domain.findings import FindingReview, FindingStatus
from registry.domain.licensing import HeadquartersCheck, PartyFacts, chain_ids, headquarters_check
from registry.domain.policy import (
    AuthorizationTerms,
    end_user_problem,
    hit_blocks,
    intermediate_owner_problem,
    overdraw_problems,
    recipient_headquarters_problem,
    remaining,
    validity_problem,
)
from registry.domain.reference import ExportAuthorization, GpuModel, Party, Site
from registry.domain.rule_data import DEFAULT_RULE_DATA, ComplianceRuleData, RuleData
from registry.domain.screening import ScreeningCase

TRANSIT_DAYS = 30
INSTALL_DAYS = 60
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
LIVE_STAGES = frozenset({"pending", "in_transit", "received", "installed", "assigned"})
INSTALLED_STAGES = frozenset({"installed", "assigned"})
TRANSIT = "transit"
INSTALL = "install"
OVERDUE_RULE = {TRANSIT: "not-received-in-time", INSTALL: "not-installed-in-time"}

_FINDING_NS = uuid5(NAMESPACE_URL, "urn:gpureg:finding")
_HEX = String(32)


def finding_id_for(rule_id: str, subject: str, episode: int) -> UUID:
    """The id of a finding: the same rule, subject and episode always give the same id."""
    return uuid5(_FINDING_NS, f"{rule_id}|{subject}|{episode}")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def utc(value: datetime) -> datetime:
    """Aware UTC (SQLite hands back naive datetimes; they were stored as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _opt_utc(value: datetime | None) -> datetime | None:
    return utc(value) if value is not None else None


class ComplianceFindings(Projection):
    """Findings, per-batch and per-serial compliance, overdue items and export records."""

    name = "compliance"
    version = 2  # 2: party parents (immediate / ultimate), recorded rule data
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
        )
        serial = Table(
            name("serial"), metadata,
            Column("serial", String(64), primary_key=True),
            Column("batch_id", Uuid, nullable=False),
            Column("shipment_id", Text, nullable=False),
            Column("stage", String(16), nullable=False),
            Column("site", _HEX, nullable=False),
            Column("owner", _HEX, nullable=False),
            Column("assignee", _HEX, nullable=False),
        )
        Index(f"ix_{serial.name}_batch", serial.c.batch_id, serial.c.serial)
        t["serial"] = serial
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
        )
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
            b.ReturnedForRma: _moved,
            b.ReportedLost: _reported_lost,
            b.Decommissioned: _decommissioned,
            b.SplitOff: _split_off,
        }
        out: dict[type[Any], Handler] = {cls: self._timed(h) for cls, h in batch_handlers.items()}
        out.update({
            ComplianceRuleData.Configured: _rule_data_configured,
            Party.Registered: _party,
            Party.Amended: _party,
            Site.Registered: _site,
            Site.Amended: _site,
            GpuModel.Registered: _model,
            GpuModel.Amended: _model,
            ExportAuthorization.Registered: _authorization,
            ExportAuthorization.Amended: _authorization,
            ExportAuthorization.Drawn: _ledger(+1),
            ExportAuthorization.Returned: _ledger(-1),
            ScreeningCase.Opened: _case_opened,
            ScreeningCase.Screened: _screened,
            ScreeningCase.HitResolved: _hit_resolved,
            FindingReview.Acknowledged: _reviewed(FindingStatus.ACKNOWLEDGED),
            FindingReview.Resolved: _reviewed(FindingStatus.RESOLVED),
        })
        return out

    def _timed(self, handler: Callable[[Work, Any], None]) -> Handler:
        """Batch events move the log time; overdue items are flagged before the event applies."""

        def handle(work: Work, e: Any) -> None:
            work.scratch["projection"] = self
            _advance_clock(work, e, self)
            handler(work, e)

        return handle


# ============================================================================ reference data
def _rule_data_configured(work: Work, e: Any) -> None:
    work.cache("rule_data").put({"key": "current", "data": e.data})
    work.scratch["rule_data"] = RuleData.from_data(e.data)


def _rules(work: Work) -> RuleData:
    """The rule data the registry decided by at this position (the latest recorded before it)."""
    known: RuleData | None = work.scratch.get("rule_data")
    if known is None:
        row = work.cache("rule_data").get("current")
        known = RuleData.from_data(row["data"]) if row is not None else DEFAULT_RULE_DATA
        work.scratch["rule_data"] = known
    return known


def _party(work: Work, e: Any) -> None:
    cache = work.cache("party")
    values = vars(e) if isinstance(e, Party.Registered) else e.fields
    row = cache.get(e.originator_id)
    new = dict(row) if row is not None else {
        "party_id": e.originator_id, "name": "", "country": "", "headquarters_country": "",
        "immediate_parent_id": None, "ultimate_parent_id": None,
    }
    for k in ("name", "country", "headquarters_country", "immediate_parent_id", "ultimate_parent_id"):
        if k in values:
            new[k] = values[k]
    cache.put(new)
    if isinstance(e, Party.Amended) and {
        "immediate_parent_id", "ultimate_parent_id", "headquarters_country"
    } & set(e.fields):
        _party_facts_changed(work, e, e.originator_id)


def _site(work: Work, e: Any) -> None:
    cache = work.cache("site")
    values = vars(e) if isinstance(e, Site.Registered) else e.fields
    row = cache.get(e.originator_id)
    new = dict(row) if row is not None else {
        "site_id": e.originator_id, "name": "", "country": "", "power_capacity_kw": "0",
    }
    for k in ("name", "country"):
        if k in values:
            new[k] = values[k]
    if "power_capacity_kw" in values:
        new["power_capacity_kw"] = str(values["power_capacity_kw"])
    cache.put(new)
    if isinstance(e, Site.Amended) and "power_capacity_kw" in e.fields:
        _check_power(work, e, e.originator_id, None, [], 0)


def _model(work: Work, e: Any) -> None:
    cache = work.cache("gpu_model")
    values = vars(e) if isinstance(e, GpuModel.Registered) else e.fields
    row = cache.get(e.originator_id)
    new = dict(row) if row is not None else {
        "model_id": e.originator_id, "name": "", "spec": {}, "tdp_watts": 0, "gpus_per_unit": 1,
    }
    spec = dict(new["spec"])
    for k in ("dense_tops", "bit_lengths", "die_area_mm2", "datacenter_marketed"):
        if k in values:
            spec[k] = plain(values[k])
    new["spec"] = spec
    for k in ("name", "tdp_watts", "gpus_per_unit"):
        if k in values:
            new[k] = values[k]
    cache.put(new)


def _authorization(work: Work, e: Any) -> None:
    cache = work.cache("authorization")
    values = vars(e) if isinstance(e, ExportAuthorization.Registered) else e.fields
    row = cache.get(e.originator_id)
    new = dict(row) if row is not None else {
        "authorization_id": e.originator_id, "number": "", "auth_type": "", "exception_code": "",
        "destination_countries": [], "end_user_ids": [], "valid_from": utc(e.occurred_at),
        "valid_to": None, "quantity_limit": None, "value_limit": None, "currency": "USD",
        "drawn_quantity": 0, "returned_quantity": 0, "drawn_value": "0", "returned_value": "0",
    }
    for k in ("number", "auth_type", "exception_code", "quantity_limit", "currency"):
        if k in values:
            new[k] = values[k]
    if "destination_countries" in values:
        new["destination_countries"] = list(values["destination_countries"])
    if "end_user_ids" in values:
        new["end_user_ids"] = [UUID(str(p)).hex for p in values["end_user_ids"]]
    for k in ("valid_from", "valid_to"):
        if k in values:
            new[k] = _opt_utc(_as_datetime(values[k]))
    if "value_limit" in values:
        new["value_limit"] = str(values["value_limit"]) if values["value_limit"] is not None else None
    cache.put(new)
    _check_drawdown(work, e, new)


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _ledger(sign: int) -> Handler:
    def handle(work: Work, e: Any) -> None:
        cache = work.cache("authorization")
        row = cache.get(e.originator_id)
        if row is None:
            return
        row = dict(row)
        kind = "drawn" if sign > 0 else "returned"
        row[f"{kind}_quantity"] += e.quantity
        if e.currency == row["currency"]:
            row[f"{kind}_value"] = str(Decimal(row[f"{kind}_value"]) + e.value)
        cache.put(row)
        _check_drawdown(work, e, row)

    return handle


def authorization_terms(auth: Row) -> AuthorizationTerms:
    """The policy's view of an authorization row."""
    return AuthorizationTerms(
        authorization_id=auth["authorization_id"],
        number=auth["number"],
        auth_type=auth["auth_type"],
        exception_code=auth["exception_code"],
        valid_from=utc(auth["valid_from"]),
        valid_to=_opt_utc(auth["valid_to"]),
        destination_countries=tuple(auth["destination_countries"]),
        end_user_ids=frozenset(UUID(h) for h in auth["end_user_ids"]),
        quantity_limit=auth["quantity_limit"],
        value_limit=Decimal(auth["value_limit"]) if auth["value_limit"] is not None else None,
        currency=auth["currency"],
    )


def _check_drawdown(work: Work, e: Any, auth: Row) -> None:
    """An authorization drawn beyond a limit (say the limit was amended below what is drawn)."""
    terms = authorization_terms(auth)
    left_q = remaining(terms.quantity_limit, auth["drawn_quantity"], auth["returned_quantity"])
    left_v = remaining(terms.value_limit, Decimal(auth["drawn_value"]), Decimal(auth["returned_value"]))
    for problem in overdraw_problems(terms, left_q, left_v):
        kind = problem.facts["kind"]
        _flag(
            work, e, problem.rule, f"authorization:{auth['authorization_id'].hex}:{kind}",
            severity="high", authorization_id=auth["authorization_id"],
            quantity=-left_q if kind == "quantity" else 0, reason=problem.detail,
        )


# ============================================================================== screening
def _case_opened(work: Work, e: Any) -> None:
    work.cache("screening_case").put({"case_id": e.originator_id, "party_id": e.party_id})


def _case_party(work: Work, e: Any) -> UUID | None:
    row = work.cache("screening_case").get(e.originator_id)
    return row["party_id"] if row is not None else None


def _screened(work: Work, e: Any) -> None:
    party_id = _case_party(work, e)
    if party_id is None:
        return
    hits = work.cache("screening_hit", group="party_id")
    for hit in e.hits:
        prior = hits.get(party_id, hit["hit_id"])
        entry = hit.get("entry") or {}
        hits.put({
            "party_id": party_id, "hit_id": hit["hit_id"], "current": True,
            "resolution": prior["resolution"] if prior is not None else "open",
            "source_list": str(entry.get("source_list", e.source)),
        })
    for hit_id in e.lapsed_hit_ids:
        prior = hits.get(party_id, hit_id)
        if prior is not None:
            hits.put({**prior, "current": False})
    fresh = [
        h for h in e.new_hit_ids
        if (row := hits.get(party_id, h)) is not None and hit_blocks(True, row["resolution"])
    ]
    if fresh:
        _review_holdings(work, e, party_id)


def _hit_resolved(work: Work, e: Any) -> None:
    party_id = _case_party(work, e)
    if party_id is None:
        return
    hits = work.cache("screening_hit", group="party_id")
    prior = hits.get(party_id, e.hit_id)
    if prior is not None:
        hits.put({**prior, "resolution": e.resolution})


def _screening_reasons(work: Work, party_id: UUID) -> list[str]:
    name = _party_name(work, party_id)
    return [
        f"{name} has a {h['resolution']} restricted-party screening hit on {h['source_list']} (hit {h['hit_id']})"
        for h in sorted(work.cache("screening_hit", group="party_id").group_rows(party_id), key=lambda h: h["hit_id"])
        if hit_blocks(h["current"], h["resolution"])
    ]


# ========================================================================= findings (core)
def _flag(
    work: Work,
    e: Any,
    rule_id: str,
    subject: str,
    *,
    severity: str,
    reason: str,
    batch: Row | None = None,
    serials: Sequence[str] = (),
    quantity: int = 0,
    party_id: UUID | None = None,
    site_id: UUID | None = None,
    authorization_id: UUID | None = None,
    shipment_id: str = "",
    note: str = "",
) -> UUID:
    """Raise a finding, or add this evidence to the open one of the same rule and subject.

    ``reason`` is what is wrong (kept once in the finding's reasons); ``note`` is what this event
    showed (the trail entry; the reason when empty). A resolved finding is never reopened: new
    evidence about its subject opens the next episode. Returns the finding's id.
    """
    assert rule_id in RULES and RULES[rule_id].kind == "finding", rule_id
    position = work.position
    note = note or reason
    subjects = work.cache("subject")
    findings = work.cache("finding")
    known = subjects.get(rule_id, subject)
    episode = 1
    if known is not None:
        current = findings.get(known["finding_id"])
        if current is not None and current["status"] != FindingStatus.RESOLVED:
            _add_evidence(work, e, dict(current), severity, reason, note, serials, quantity, position)
            return UUID(str(current["finding_id"]))
        episode = known["episode"] + 1
    finding_id = finding_id_for(rule_id, subject, episode)
    new_serials = sorted(set(serials))
    findings.put({
        "finding_id": finding_id,
        "rule_id": rule_id,
        "subject": subject,
        "episode": episode,
        "severity": severity,
        "status": FindingStatus.OPEN.value,
        "batch_id": batch["batch_id"] if batch is not None else None,
        "partner_id": batch["buyer_id"] if batch is not None else None,
        "party_id": party_id,
        "site_id": site_id,
        "authorization_id": authorization_id or (batch["authorization_id"] if batch is not None else None),
        "shipment_id": shipment_id,
        "quantity": len(new_serials) if new_serials else quantity,
        "reasons": [reason],
        "revealed_position": position,
        "revealed_event_type": type(e).__name__,
        "revealed_aggregate_id": e.originator_id,
        "revealed_occurred_at": utc(e.occurred_at),
        "first_detected_at": utc(e.timestamp),
        "updated_position": position,
        "status_changed_at": None,
        "trail_count": 1,
    })
    subjects.put({"rule_id": rule_id, "subject": subject, "finding_id": finding_id, "episode": episode})
    links = work.cache("finding_serial", group="finding_id")
    for s in new_serials:
        links.put({"finding_id": finding_id, "serial": s})
    _trail(work, e, finding_id, 0, "raised", e.actor, note, position)
    return finding_id


def _add_evidence(
    work: Work, e: Any, current: Row, severity: str, reason: str, note: str, serials: Sequence[str],
    quantity: int, position: int,
) -> None:
    finding_id = current["finding_id"]
    links = work.cache("finding_serial", group="finding_id")
    added = [s for s in sorted(set(serials)) if links.get(finding_id, s) is None]
    changed = bool(added) or reason not in current["reasons"]
    if severity_rank(severity) > severity_rank(current["severity"]):
        current["severity"] = severity
        changed = True
    if not changed:
        return
    for s in added:
        links.put({"finding_id": finding_id, "serial": s})
    if reason not in current["reasons"]:
        current["reasons"] = [*current["reasons"], reason]
    current["quantity"] += len(added) if serials else quantity
    current["updated_position"] = position
    seq = current["trail_count"]
    current["trail_count"] = seq + 1
    work.cache("finding").put(current)
    _trail(work, e, finding_id, seq, "evidence", e.actor, note, position)


def _trail(
    work: Work, e: Any, finding_id: UUID, seq: int, action: str, actor: str, note: str, position: int
) -> None:
    work.append("trail", {
        "finding_id": finding_id, "seq": seq, "action": action, "actor": actor, "note": note,
        "position": position, "event_type": type(e).__name__, "occurred_at": utc(e.occurred_at),
        "recorded_at": utc(e.timestamp),
    })


def _reviewed(status: FindingStatus) -> Handler:
    def handle(work: Work, e: Any) -> None:
        findings = work.cache("finding")
        row = findings.get(e.finding_id)
        if row is None or row["status"] == FindingStatus.RESOLVED:
            return
        row = dict(row)
        seq = row["trail_count"]
        row.update(
            status=status.value, status_changed_at=utc(e.occurred_at), updated_position=work.position,
            trail_count=seq + 1,
        )
        findings.put(row)
        _trail(work, e, e.finding_id, seq, status.value, e.actor, e.note, work.position)

    return handle


# ================================================================================ the clock
def _advance_clock(work: Work, e: Any, projection: ComplianceFindings) -> None:
    """Move the log time to this batch event's business time (it never goes back), and flag the
    outstanding items whose allowance has run out by then."""
    clock = work.cache("clock")
    row = clock.get(1)
    when = utc(e.occurred_at)
    if row is not None and row["as_of"] is not None and utc(row["as_of"]) >= when:
        return
    clock.put({"key": 1, "as_of": when, "position": work.position})
    next_due: datetime | None = work.scratch.get("next_due")
    if "next_due" in work.scratch and (next_due is None or next_due >= when):
        return
    earliest: datetime | None = None
    pending = work.cache("pending")
    for item in sorted(pending.all_rows(), key=lambda r: (r["kind"], str(r["batch_id"]), r["shipment_id"])):
        if item["finding_id"] is not None:
            continue
        due = utc(item["since"]) + projection.allowance(item["kind"])
        if when > due:
            _flag_overdue(work, e, dict(item), due)
        elif earliest is None or due < earliest:
            earliest = due
    work.scratch["next_due"] = earliest


def _flag_if_late(work: Work, e: Any, item: Row) -> bool:
    """The event ends an item's wait after its allowance ran out (judged by the item's own times,
    whatever the log time): flag it now. True when flagged."""
    projection: ComplianceFindings = work.scratch["projection"]
    due = utc(item["since"]) + projection.allowance(item["kind"])
    if utc(e.occurred_at) <= due:
        return False
    _flag_overdue(work, e, item, due)
    return True


def _note_due(work: Work, since: datetime, kind: str) -> None:
    if "next_due" not in work.scratch:
        return  # not computed yet in this chunk: the next clock move computes it from the table
    projection: ComplianceFindings = work.scratch["projection"]
    due = utc(since) + projection.allowance(kind)
    current: datetime | None = work.scratch["next_due"]
    if current is None or due < current:
        work.scratch["next_due"] = due


def _flag_overdue(work: Work, e: Any, item: Row, due: datetime) -> None:
    batch = work.cache("batch").get(item["batch_id"])
    kind = item["kind"]
    since = utc(item["since"])
    days = (utc(e.occurred_at) - since).days
    what = "shipped" if kind == TRANSIT else "received"
    missing = "no receipt recorded" if kind == TRANSIT else "not installed"
    reason = (
        f"shipment {item['shipment_id']} {what} on {since:%Y-%m-%d}: {missing} within "
        f"{(due - since).days} days (by {due:%Y-%m-%d})"
    )
    note = (
        f"{item['units']} unit(s) of shipment {item['shipment_id']} {what} on {since:%Y-%m-%d}: {missing} "
        f"by {due:%Y-%m-%d}; {type(e).__name__} at {utc(e.occurred_at):%Y-%m-%d}, {days} days after"
    )
    finding_id = _flag(
        work, e, OVERDUE_RULE[kind], f"shipment:{item['batch_id'].hex}:{item['shipment_id']}",
        severity="medium" if kind == TRANSIT else "low", reason=reason, note=note, batch=batch,
        serials=_serials_waiting(work, item["batch_id"], item["shipment_id"], kind), quantity=item["units"],
        shipment_id=item["shipment_id"],
    )
    work.cache("pending").put({**item, "finding_id": finding_id})


def _pending_add(work: Work, kind: str, batch_id: UUID, shipment_id: str, since: datetime, units: int) -> None:
    pending = work.cache("pending")
    row = pending.get(kind, batch_id, shipment_id)
    if row is None or row["finding_id"] is not None:
        row = {"kind": kind, "batch_id": batch_id, "shipment_id": shipment_id, "since": utc(since),
               "units": 0, "finding_id": None}
        _note_due(work, since, kind)
    pending.put({**row, "units": row["units"] + units})


def _pending_take(
    work: Work, e: Any, kind: str, batch_id: UUID, shipment_id: str | None, units: int
) -> None:
    """Units leave the stage an item waits on: from one shipment's item (serialized batches), or
    from the batch's items oldest first (quantity-only batches). Units that leave after their
    allowance ran out (a late receipt or installation) are flagged first."""
    pending = work.cache("pending")
    if shipment_id is not None:
        rows = [r for r in [pending.get(kind, batch_id, shipment_id)] if r is not None]
    else:
        rows = sorted(
            (r for r in pending.all_rows() if r["kind"] == kind and r["batch_id"] == batch_id),
            key=lambda r: (utc(r["since"]), r["shipment_id"]),
        )
    left = units
    for row in rows:
        if left <= 0:
            break
        current = row
        if row["finding_id"] is None and _flag_if_late(work, e, dict(row)):
            current = pending.get(kind, batch_id, row["shipment_id"]) or row
        take = min(left, current["units"])
        left -= take
        if take == current["units"]:
            pending.delete(kind, batch_id, current["shipment_id"])
        else:
            pending.put({**current, "units": current["units"] - take})


WAITING_STAGE = {TRANSIT: "in_transit", INSTALL: "received"}


def _serials_waiting(work: Work, batch_id: UUID, shipment_id: str, kind: str) -> list[str]:
    """The serials of a shipment still in the stage an overdue item waits on (the serial cache
    is flushed first, so the query sees this chunk's changes)."""
    if work.memory:
        stage = WAITING_STAGE[kind]
        return sorted(
            r["serial"] for r in work.cache("serial").indexed("batch_id", batch_id)
            if r["shipment_id"] == shipment_id and r["stage"] == stage
        )
    work.cache("serial").flush()
    s = work.tables["serial"]
    return sorted(work.conn.execute(
        select(s.c.serial).where(
            s.c.batch_id == batch_id, s.c.shipment_id == shipment_id, s.c.stage == WAITING_STAGE[kind]
        )
    ).scalars())


# ================================================================================= batches
def _batch(work: Work, batch_id: UUID) -> Row:
    found = work.cache("batch").get(batch_id)
    if found is None:
        raise LookupError(f"batch {batch_id} has events but no creation event")
    return dict(found)


def _new_batch(work: Work, e: Any) -> Row:
    return {
        "batch_id": e.originator_id, "created_position": work.position, "po_number": e.po_number,
        "buyer_id": e.buyer_id, "model_id": e.model_id, "quantity": e.quantity,
        "clearance_status": "none", "authorization_id": None, "destination_country": "",
        "cleared": 0, "granted_at": None, "shipped": 0, "last_transaction_at": None,
    }


def _ordered(work: Work, e: Any) -> None:
    work.cache("batch").put(_new_batch(work, e))
    _hold(work, e.buyer_id, e.originator_id, "owner", e.quantity)


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
    )
    work.cache("batch").put(row)
    _hold(work, e.buyer_id, e.originator_id, "owner", e.quantity)
    serials = work.cache("serial")
    serials.prefetch(e.serials)
    serials.put_many(_fresh_serials(e.serials, e.originator_id, e.buyer_id.hex))


def _order_corrected(work: Work, e: Any) -> None:
    if "po_number" in e.fields:
        row = _batch(work, e.originator_id)
        row["po_number"] = e.fields["po_number"]
        work.cache("batch").put(row)


def _clearance_requested(work: Work, e: Any) -> None:
    row = _batch(work, e.originator_id)
    row.update(clearance_status="requested", destination_country=e.destination_country, cleared=0)
    work.cache("batch").put(row)


def _clearance_granted(work: Work, e: Any) -> None:
    row = _batch(work, e.originator_id)
    row.update(
        clearance_status="granted", authorization_id=e.authorization_id,
        destination_country=e.destination_country, cleared=e.cleared_quantity,
        granted_at=utc(e.occurred_at),
    )
    work.cache("batch").put(row)


def _clearance_ended(status: str) -> Callable[[Work, Any], None]:
    def handle(work: Work, e: Any) -> None:
        row = _batch(work, e.originator_id)
        row["clearance_status"] = status
        if status == "denied":
            row["cleared"] = 0
        work.cache("batch").put(row)

    return handle


def _fresh_serials(serials: Sequence[str], batch_id: UUID, owner: str) -> list[Row]:
    return [
        {"serial": serial, "batch_id": batch_id, "shipment_id": "", "stage": "pending",
         "site": "", "owner": owner, "assignee": ""}
        for serial in serials
    ]


def _serials_registered(work: Work, e: Any) -> None:
    row = _batch(work, e.originator_id)
    serials = work.cache("serial")
    serials.prefetch(e.serials)
    serials.put_many(_fresh_serials(e.serials, e.originator_id, row["buyer_id"].hex))


def _touch(row: Row, when: datetime) -> None:
    """The batch's latest export, transfer or other termination (record retention)."""
    when = utc(when)
    if row["last_transaction_at"] is None or utc(row["last_transaction_at"]) < when:
        row["last_transaction_at"] = when


# ------------------------------------------------------------------------------ movements
def _hold(work: Work, party: UUID, batch_id: UUID, role: str, n: int) -> None:
    if n:
        work.cache("holding", group="party_id").add((party, batch_id, role), "units", n)


def _apply(work: Work, e: Any, skip_transit: bool = False, changes: Mapping[str, Any] | None = None) -> None:
    """The event's moves: holdings, site loads, serial positions (and ``changes`` to the serials'
    rows), and the pending items."""
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
    serials: list[str] = list(getattr(e, "serials", []))
    if not serials:
        for f, t, n in moves_of(e):
            if f.stage == "in_transit" and t.stage != "in_transit" and not skip_transit:
                _pending_take(work, e, TRANSIT, batch_id, None, n)
            if f.stage == "received" and t.stage != "received":
                _pending_take(work, e, INSTALL, batch_id, None, n)
        return
    to_by_from = serial_moves(e, changes or {})
    cache = work.cache("serial")
    leaving: dict[tuple[str, str], int] = {}
    for (*position, shipment_id), n in cache.tally(serials, (*SERIAL_POSITION, "shipment_id")).items():
        to = to_by_from.get(tuple(position))
        if to is None:
            continue
        if position[0] == "in_transit" and to["stage"] != "in_transit" and not skip_transit:
            leaving[(TRANSIT, shipment_id)] = leaving.get((TRANSIT, shipment_id), 0) + n
        if position[0] == "received" and to["stage"] != "received":
            leaving[(INSTALL, shipment_id)] = leaving.get((INSTALL, shipment_id), 0) + n
    # Items first (a late one is flagged with the serials still waiting), then the serials move.
    for (kind, shipment_id), n in sorted(leaving.items()):
        _pending_take(work, e, kind, batch_id, shipment_id, n)
    cache.move(serials, SERIAL_POSITION, to_by_from)


def _moved(work: Work, e: Any) -> None:
    _apply(work, e)


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
    })
    _apply(work, e, changes={"shipment_id": e.shipment_id})
    _pending_add(work, TRANSIT, batch["batch_id"], e.shipment_id, when, e.quantity)


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
    _apply(work, e)


def _transferred(work: Work, e: Any) -> None:
    batch = _batch(work, e.originator_id)
    _check_recipient(work, e, batch, e.to_owner_id, "new owner", e.serials, e.quantity, end_user=True)
    if e.to_site_id is not None:
        _check_site(work, e, batch, e.to_site_id, "transferred", e.serials, e.quantity)
    _touch(batch, e.occurred_at)
    work.cache("batch").put(batch)
    _apply(work, e)
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


# ================================================================================== checks
def _authorization_of(work: Work, batch: Row) -> Row | None:
    if batch["authorization_id"] is None:
        return None
    return work.cache("authorization").get(batch["authorization_id"])


def _auth_label(auth: Row) -> str:
    return str(auth["number"] or auth["exception_code"] or auth["authorization_id"])


def _party_name(work: Work, party_id: UUID) -> str:
    row = work.cache("party").get(party_id)
    return str(row["name"]) if row is not None else str(party_id)


def _site_name(work: Work, site_id: UUID) -> str:
    row = work.cache("site").get(site_id)
    return str(row["name"]) if row is not None else str(site_id)


def _country_problems(batch: Row, auth: Row | None, country: str, where: str) -> list[str]:
    out: list[str] = []
    if batch["destination_country"] and country != batch["destination_country"]:
        out.append(f"{where} in {country}, not the cleared destination {batch['destination_country']}")
    elif auth is not None and country not in auth["destination_countries"]:
        out.append(f"{where} in {country}, which authorization {_auth_label(auth)} does not cover "
                   f"({', '.join(auth['destination_countries'])})")
    return out


def _location_problems(
    work: Work, batch: Row, auth: Row | None, country: str, site_id: UUID | None
) -> list[str]:
    found = _country_problems(batch, auth, country, "destination")
    if site_id is not None:
        site = work.cache("site").get(site_id)
        if site is not None and site["country"] != country:
            found += _country_problems(batch, auth, site["country"], f"destination site {site['name']}")
    return found


def _check_site(work: Work, e: Any, batch: Row, site_id: UUID, verb: str, serials: Sequence[str],
                quantity: int) -> None:
    site = work.cache("site").get(site_id)
    if site is None:
        return
    for p in _country_problems(batch, _authorization_of(work, batch), site["country"], f"site {site['name']}"):
        _flag(work, e, "location-not-authorized", f"site:{batch['batch_id'].hex}:{site_id.hex}",
              severity="high", batch=batch, serials=serials, quantity=quantity, site_id=site_id,
              reason=f"units {verb} at {p}")


def _check_power(work: Work, e: Any, site_id: UUID, batch: Row | None, serials: Sequence[str],
                 quantity: int) -> None:
    """BIS red flag: a site that cannot power what is installed there. ``batch`` is the batch
    whose units just arrived (None: the site's capacity changed, every batch there is named)."""
    site = work.cache("site").get(site_id)
    if site is None:
        return
    capacity = Decimal(site["power_capacity_kw"])
    loads = [r for r in work.cache("site_load", group="site_id").group_rows(site_id) if r["units"] > 0]
    batches = work.cache("batch")
    models = work.cache("gpu_model")
    total = Decimal(0)
    for load in loads:
        b = batches.get(load["batch_id"])
        model = models.get(b["model_id"]) if b is not None else None
        if model is not None:
            total += Decimal(load["units"] * model["gpus_per_unit"] * model["tdp_watts"]) / 1000
    if total <= capacity:
        return
    reason = f"{site['name']} lacks the power capacity for the GPUs installed there ({capacity} kW)"
    note = f"{site['name']}: {total} kW of GPU TDP installed against a power capacity of {capacity} kW"
    if batch is not None:
        _flag(work, e, "site-power-insufficient", f"power:{site_id.hex}:{batch['batch_id'].hex}",
              severity="medium", batch=batch, serials=serials, quantity=quantity, site_id=site_id,
              reason=reason, note=note)
        return
    for load in sorted(loads, key=lambda r: str(r["batch_id"])):
        target = batches.get(load["batch_id"])
        if target is not None:
            _flag(work, e, "site-power-insufficient", f"power:{site_id.hex}:{load['batch_id'].hex}",
                  severity="medium", batch=dict(target), quantity=load["units"], site_id=site_id,
                  reason=reason, note=note)


def _facts_lookup(work: Work) -> Callable[[UUID], PartyFacts | None]:
    parties = work.cache("party")

    def lookup(party_id: UUID) -> PartyFacts | None:
        row = parties.get(party_id)
        if row is None:
            return None
        return PartyFacts(row["party_id"], row["name"], row["country"], row["headquarters_country"],
                          row["immediate_parent_id"], row["ultimate_parent_id"])

    return lookup


def _headquarters_review(
    work: Work, batch: Row, party_id: UUID, role: str, at: datetime
) -> tuple[str | None, str | None]:
    """The headquarters rule on this party's holding, by the shared policy with the rule data the
    registry decided by: (why the holding is unauthorized, or None; why its ownership needs
    review (an intermediate owner in D:5 or Macau), or None)."""
    model = work.cache("gpu_model").get(batch["model_id"])
    if model is None:
        return None, None
    rules = _rules(work)
    try:
        ruleset = rules.rulesets.in_force(at)
        groups = rules.country_groups.in_force(at)
    except ComplianceRefusal:
        return None, None  # no rule data in force then: nothing to hold the facts against
    classification = _classification(work, model, ruleset)
    if not classification.controlled:
        return None, None
    check: HeadquartersCheck = headquarters_check(party_id, _facts_lookup(work), groups)
    auth = _authorization_of(work, batch)
    problem = recipient_headquarters_problem(
        classification, check, role, authorization_terms(auth) if auth is not None else None, ruleset
    )
    review = intermediate_owner_problem(check, role)
    return (problem.detail if problem is not None else None), (review.detail if review is not None else None)


def _classification(work: Work, model: Row, ruleset: Ruleset) -> Classification:
    known: dict[tuple[Any, ...], Classification] = work.scratch.setdefault("classification", {})
    key = (model["model_id"], ruleset, repr(model["spec"]), model["gpus_per_unit"])
    if key not in known:
        known[key] = classify(model_spec(model), ruleset)
    return known[key]


def model_spec(model: Row) -> ModelSpec:
    """A GPU model row of this projection as the classification's input."""
    spec = model["spec"]
    return ModelSpec(
        name=model["name"],
        dense_tops={k: Decimal(str(v)) for k, v in dict(spec.get("dense_tops", {})).items()},
        bit_lengths={k: int(v) for k, v in dict(spec.get("bit_lengths", {})).items()},
        die_area_mm2=Decimal(str(spec.get("die_area_mm2", "0"))),
        datacenter_marketed=bool(spec.get("datacenter_marketed", True)),
        gpus_per_unit=int(model["gpus_per_unit"]),
    )


def _flag_review(work: Work, e: Any, batch: Row, party_id: UUID, review: str | None,
                 serials: Sequence[str], quantity: int) -> None:
    if review is None:
        return
    _flag(work, e, "headquarters-intermediate-owner", f"ownership:{batch['batch_id'].hex}:{party_id.hex}",
          severity="medium", batch=batch, serials=serials, quantity=quantity, party_id=party_id,
          reason=review)


def _check_recipient(work: Work, e: Any, batch: Row, party_id: UUID, role: str,
                     serials: Sequence[str], quantity: int, end_user: bool) -> None:
    reasons: list[str] = []
    critical = False
    auth = _authorization_of(work, batch)
    name = _party_name(work, party_id)
    if end_user and auth is not None and end_user_problem(authorization_terms(auth), party_id, role) is not None:
        reasons.append(f"{role} {name} is not an end user named on authorization {_auth_label(auth)}")
    hq, review = _headquarters_review(work, batch, party_id, role, utc(e.occurred_at))
    if hq is not None:
        reasons.append(hq)
        critical = True
    screened = _screening_reasons(work, party_id)
    if screened:
        reasons += screened
        critical = True
    for reason in reasons:
        _flag(work, e, "recipient-not-authorized", f"recipient:{batch['batch_id'].hex}:{party_id.hex}",
              severity="critical" if critical else "high", batch=batch, serials=serials,
              quantity=quantity, party_id=party_id, reason=reason,
              note=f"{reason} ({e.quantity} unit(s) {_verb(e)})")
    _flag_review(work, e, batch, party_id, review, serials, quantity)


def _verb(e: Any) -> str:
    return "assigned" if isinstance(e, GpuBatch.Assigned) else "transferred"


def _party_facts_changed(work: Work, e: Any, party_id: UUID) -> None:
    """A party's headquarters or ultimate parent changed: every party whose chain of parents
    passes through it is checked again, on the units it owns or is assigned now."""
    parties = work.cache("party").all_rows()
    lookup = _facts_lookup(work)
    affected = [
        row["party_id"] for row in sorted(parties, key=lambda r: str(r["party_id"]))
        if party_id in chain_ids(row["party_id"], lookup)
    ]
    for p in affected:
        _review_holdings(work, e, p)


def _review_holdings(work: Work, e: Any, party_id: UUID) -> None:
    """Check a party's current holdings against the headquarters rule and screening."""
    holdings = [
        r for r in work.cache("holding", group="party_id").group_rows(party_id) if r["units"] > 0
    ]
    by_batch: dict[UUID, dict[str, int]] = {}
    for r in holdings:
        by_batch.setdefault(r["batch_id"], {})[r["role"]] = r["units"]
    screened = _screening_reasons(work, party_id)
    at = utc(e.occurred_at)
    for batch_id in sorted(by_batch, key=str):
        batch = work.cache("batch").get(batch_id)
        if batch is None:
            continue
        roles = by_batch[batch_id]
        role = "assignee" if "assignee" in roles else "owner"
        reasons = list(screened)
        hq, review = _headquarters_review(work, batch, party_id, role, at)
        if hq is not None:
            reasons.insert(0, hq)
        if not reasons and review is None:
            continue
        serials = _serials_held(work, batch_id, party_id)
        units = max(roles.values())
        _flag_review(work, e, dict(batch), party_id, review, serials, units)
        for reason in reasons:
            _flag(work, e, "recipient-not-authorized", f"recipient:{batch_id.hex}:{party_id.hex}",
                  severity="critical", batch=dict(batch), serials=serials, quantity=units,
                  party_id=party_id, reason=reason,
                  note=f"{reason} (revealed by {type(e).__name__} while it holds {units} unit(s) as "
                  f"{' and '.join(sorted(roles))})")


def _serials_held(work: Work, batch_id: UUID, party_id: UUID) -> list[str]:
    """Serials of a batch a party owns or is assigned, in live stages (the serial cache is
    flushed first, so the query sees this chunk's changes)."""
    hex_id = party_id.hex
    if work.memory:
        return sorted(
            r["serial"] for r in work.cache("serial").indexed("batch_id", batch_id)
            if r["stage"] in LIVE_STAGES and hex_id in (r["owner"], r["assignee"])
        )
    work.cache("serial").flush()
    s = work.tables["serial"]
    rows = work.conn.execute(
        select(s.c.serial).where(
            s.c.batch_id == batch_id, s.c.stage.in_(sorted(LIVE_STAGES)),
            (s.c.owner == hex_id) | (s.c.assignee == hex_id),
        )
    ).scalars()
    return sorted(rows)


def retention_basis(shipped_at: datetime, last_transaction_at: datetime | None) -> datetime:
    """The latest of the export and any later transfer or termination of the batch's units."""
    shipped_at = utc(shipped_at)
    if last_transaction_at is None:
        return shipped_at
    return max(shipped_at, utc(last_transaction_at))

