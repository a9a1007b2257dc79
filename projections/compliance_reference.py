"""The compliance projection's handlers of reference data: rule data, parties, sites, GPU models,
authorizations and their drawdown ledger.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from projections.common import plain
from projections.compliance_checks import _check_power, _party_facts_changed, _rules_at
from projections.compliance_lookups import _as_datetime, authorization_terms
from projections.compliance_red_flags import flag_amended_party
from projections.engine import Handler, Row, Work
from projections.findings import _flag, _opt_utc, utc
from registry.domain.errors import ComplianceRefusal
from registry.domain.licensing import require_matching_eccn
from registry.domain.policy import overdraw_problems, remaining
from registry.domain.reference import ExportAuthorization, GpuModel, Party, Site
from registry.domain.rule_data import RuleData


# ============================================================================ reference data
def _rule_data_configured(work: Work, e: Any) -> None:
    work.cache("rule_data").put({"key": "current", "data": e.data})
    work.scratch["rule_data"] = RuleData.from_data(e.data)


def _party(work: Work, e: Any) -> None:
    cache = work.cache("party")
    values = vars(e) if isinstance(e, Party.Registered) else e.fields
    row = cache.get(e.originator_id)
    new = dict(row) if row is not None else {
        "party_id": e.originator_id, "name": "", "country": "", "headquarters_country": "",
        "immediate_parent_id": None, "ultimate_parent_id": None,
        "address_type": "", "online_presence": "", "forwarder_standing": "", "first_order_batch_id": None,
    }
    for k in ("name", "country", "headquarters_country", "immediate_parent_id", "ultimate_parent_id",
              "address_type", "online_presence", "forwarder_standing"):
        if k in values:
            new[k] = values[k]
    cache.put(new)
    if isinstance(e, Party.Amended) and {"address_type", "online_presence"} & set(e.fields):
        flag_amended_party(work, e)
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


def _model_amended(work: Work, e: Any) -> None:
    """A corrected model (``GpuModel.Amended``: an estimated figure corrected, say) is classified
    again, under the ruleset in force at the correction: a batch of it already exported under
    another ECCN left with a wrong Destination Control Statement and EEI (15 CFR 758.6), which is
    flagged ``exported-under-another-eccn`` (the batch's next shipment is refused as
    ``classification-mismatch``). By the same test as the grant (``require_matching_eccn``)."""
    _model(work, e)
    when = utc(e.occurred_at)
    for batch in sorted(work.cache("batch").all_rows(), key=lambda r: str(r["batch_id"])):
        if batch["model_id"] != e.originator_id or not batch["shipped"] or not batch.get("eccn"):
            continue
        found = _rules_at(work, batch, when)
        if found is None:
            continue
        try:
            require_matching_eccn(found[0], str(batch["eccn"]))
        except ComplianceRefusal as problem:
            _flag(work, e, "exported-under-another-eccn", f"eccn:{batch['batch_id'].hex}", severity="high",
                  batch=dict(batch), quantity=int(batch["shipped"]),
                  reason=f"{batch['shipped']} unit(s) of PO {batch['po_number']} were exported under ECCN "
                  f"{batch['eccn']}; corrected, the model classifies otherwise: {problem.detail}")


def _authorization(work: Work, e: Any) -> None:
    cache = work.cache("authorization")
    values = vars(e) if isinstance(e, ExportAuthorization.Registered) else e.fields
    row = cache.get(e.originator_id)
    new = dict(row) if row is not None else {
        "authorization_id": e.originator_id, "number": "", "auth_type": "", "exception_code": "",
        "destination_countries": [], "end_user_ids": [], "consignee_ids": [],
        "intermediate_consignee_ids": [], "valid_from": utc(e.occurred_at),
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
    for k in ("consignee_ids", "intermediate_consignee_ids"):
        if k in values:
            new[k] = [UUID(str(p)).hex for p in values[k]]
    for k in ("valid_from", "valid_to"):
        if k in values:
            new[k] = _opt_utc(_as_datetime(values[k]))
    if "value_limit" in values:
        new["value_limit"] = str(values["value_limit"]) if values["value_limit"] is not None else None
    cache.put(new)
    _check_drawdown(work, e, new)


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
