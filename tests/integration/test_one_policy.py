"""One compliance policy: the command side and the compliance projection judge by the same rule
data. Configured rulesets and country groups are recorded in the log, so a configuration changes
what is refused and what is flagged together (on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from projections.compliance import ComplianceFindings
from projections.compliance_queries import FindingFilter
from projections.db import ACTIVE, create_readmodel_engine, ensure_bookkeeping
from projections.engine import apply_chunk, create_generation
from projections.queries import ReadModels
from registry.application import commands as c
from registry.bootstrap import build_registry
from registry.config import Settings
from registry.domain.classification import NOV_2023
from registry.domain.country_groups import D5, EAR_2025, CountryGroups
from registry.domain.errors import ComplianceRefusal
from registry.domain.rule_data import ComplianceRuleData
from tests.integration.compliance_world import World, make_world
from tests.integration.test_compliance_registry import _cleared_and_installed, _install


@pytest.fixture
def world(store_url: str, t0: datetime) -> Iterator[World]:
    w = make_world(store_url, t0)
    try:
        yield w
    finally:
        w.registry.close()


def _findings(world: World, tmp_path: Path) -> list[Any]:
    """Rebuild the compliance projection from the registry's whole log."""
    engine = create_readmodel_engine(f"sqlite:///{tmp_path}/readmodels.db")
    ensure_bookkeeping(engine)
    try:
        projection = ComplianceFindings()
        gen = create_generation(engine, projection, ACTIVE, "test")
        notes = world.registry.read_log(0, 100_000)
        apply_chunk(engine, projection, gen, notes, world.registry.decode, "test")
        found, _ = ReadModels(engine, projections=[projection]).list_findings(FindingFilter())
        return found
    finally:
        engine.dispose()


def _assign(world: World, party: str, at: datetime, quantity: int = 2) -> Any:
    return world.registry.assign("ops", c.parse(c.Assign, {
        "batch_id": world["po1"], "assignee_id": world[party], "purpose": "inference",
        "quantity": quantity, "occurred_at": at,
    }))


def _amend_hq(world: World, party: str, hq: str, at: datetime) -> None:
    world.registry.amend_reference("admin", c.parse(c.AmendReference, {
        "kind": "party", "target_id": world[party], "fields": {"headquarters_country": hq},
        "reason": "ownership review", "occurred_at": at,
    }))


def test_a_configured_country_group_version_changes_refusals_and_findings_together(
    world: World, t0: datetime, tmp_path: Path
) -> None:
    _cleared_and_installed(world)
    _install(world)
    world.party("gulf", "Gulf Compute", hq="AE", country="KR", roles=("end_user",))
    world.party("gulf2", "Gulf Compute Two", hq="AE", country="KR", roles=("end_user",))
    _assign(world, "gulf", t0)  # AE is in no D:5 version by default: allowed
    _amend_hq(world, "gulf", "AE", t0 + timedelta(minutes=1))
    assert [f for f in _findings(world, tmp_path / "a") if f.rule_id == "recipient-not-authorized"] == []

    # A correction: a country-group version that puts AE in D:5, in force from before t0.
    corrected = CountryGroups(
        version_id="test-ae-in-d5",
        effective_from=t0 - timedelta(days=1),
        source="test correction",
        members=MappingProxyType({**EAR_2025.members, D5: EAR_2025.members[D5] | {"AE"}}),
        treated_as=EAR_2025.treated_as,
    )
    world.registry.configure_compliance(
        country_groups=world.registry.country_groups.with_version(corrected), reason="AE moved to D:5 (test)"
    )
    # the command side refuses ...
    with pytest.raises(ComplianceRefusal) as refused:
        _assign(world, "gulf2", t0 + timedelta(minutes=2))
    assert refused.value.rule == "headquarters-rule"
    assert refused.value.citation == "15 CFR 742.6(a)(6)(iii)(A)"
    assert refused.value.facts["country_groups_version"] == "test-ae-in-d5"
    assert refused.value.facts["decided_by"] == "entity"
    assert refused.value.facts["deciding_headquarters_country"] == "AE"
    # ... and the projection, rebuilt from the log, flags the holding revealed after the change
    _amend_hq(world, "gulf", "AE", t0 + timedelta(minutes=3))
    flagged = [f for f in _findings(world, tmp_path / "b") if f.rule_id == "recipient-not-authorized"]
    assert [f.party_id for f in flagged] == [world["gulf"]]
    assert "AE" in flagged[0].reasons[0] and flagged[0].severity == "critical"


def test_a_configured_ruleset_changes_refusals_and_findings_together(
    world: World, t0: datetime, tmp_path: Path, store_url: str
) -> None:
    _cleared_and_installed(world)
    _install(world)
    world.party("mainland", "Mainland Holdings", hq="CN", country="CN")
    world.party("pangyo", "Pangyo Compute", hq="KR", parent="mainland", roles=("end_user",))
    with pytest.raises(ComplianceRefusal) as refused:
        _assign(world, "pangyo", t0)
    assert refused.value.rule == "headquarters-rule"
    # A ruleset from t0 + 1 day under which the H100 is not controlled (thresholds out of reach).
    relaxed = replace(NOV_2023, ruleset_id="test-relaxed", effective_from=t0 + timedelta(days=1),
                      tpp_a=Decimal(10**9), tpp_a2=Decimal(10**9), tpp_b1_low=Decimal(10**9),
                      tpp_b1_high=Decimal(10**9), tpp_b2=Decimal(10**9))
    world.registry.configure_compliance(rulesets=world.registry.rulesets.with_ruleset(relaxed), reason="test")
    _assign(world, "pangyo", t0 + timedelta(days=2))  # not controlled then: allowed
    with pytest.raises(ComplianceRefusal):
        _assign(world, "pangyo", t0 + timedelta(hours=1))  # the 2023 rule is still in force at t0 + 1h
    _amend_hq(world, "pangyo", "KR", t0 + timedelta(days=2, hours=1))
    assert [f for f in _findings(world, tmp_path) if f.party_id == world["pangyo"]] == []
    # the configuration is an event in the log (who, when, why) ...
    configured = [e for e in map(world.registry.decode, world.registry.read_log(0, 100_000))
                  if isinstance(e, ComplianceRuleData.Configured)]
    assert [(e.actor, e.reason) for e in configured] == [("system:configuration", "test")]
    # ... and a registry started on this log decides by it
    again = build_registry(Settings(database_url=store_url), clock=lambda: t0)
    try:
        assert again.rulesets.get("test-relaxed") == relaxed
    finally:
        again.close()


def _store_v1(world: World, event_state: dict[str, Any], topic: str, originator: UUID, version: int) -> None:
    """Write an event of the old shape (no class_version: version 1) straight into the store."""
    state = {k: v for k, v in event_state.items() if k != "class_version"}
    state["originator_id"] = originator
    state["originator_version"] = version
    world.registry.recorder.insert_events([StoredEvent(
        originator_id=originator, originator_version=version, topic=topic,
        state=world.registry.mapper.transcoder.encode(state),
    )])


def test_stored_parties_of_the_old_shape_are_upcast_and_their_chain_is_walked_as_before(world: World) -> None:
    """Version 1 had only ``ultimate_parent_id``, followed link by link: it becomes the immediate
    parent, and the top of the chain is the ultimate parent."""
    registry = world.registry
    top = world.party("top", "Mainland Holdings", hq="CN", country="CN")
    template = registry.mapper.transcoder.decode(registry.recorder.select_events(top)[0].state)
    topic = registry.recorder.select_events(top)[0].topic
    mid, sub = uuid4(), uuid4()
    old = {k: v for k, v in template.items() if k not in ("immediate_parent_id",)}
    _store_v1(world, {**old, "name": "Seoul Holdco", "headquarters_country": "KR", "ultimate_parent_id": top},
              topic, mid, 1)
    _store_v1(world, {**old, "name": "Pangyo Compute", "headquarters_country": "KR", "ultimate_parent_id": None},
              topic, sub, 1)
    # an old amendment naming the "ultimate parent" (followed as the direct owner)
    _store_v1(world, {"fields": {"ultimate_parent_id": mid}, "reason": "disclosure", "actor": "admin",
                      "request_id": "", "occurred_at": world.t0, "timestamp": template["timestamp"]},
              topic.replace("Party.Registered", "Party.Amended"), sub, 2)
    party = registry.get("party", sub)
    assert (party.immediate_parent_id, party.ultimate_parent_id) == (mid, None)
    check = registry.headquarters_check(sub, world.t0)
    assert [link.relation for link in check.links] == ["entity", "intermediate owner", "ultimate parent"]
    assert check.applies and check.decided_by == "ultimate parent"
    assert check.ultimate_parent is not None and check.ultimate_parent.party_id == top


def test_quantity_and_validity_refusals_carry_the_rule_its_citation_and_the_deciding_facts(world: World) -> None:
    world.authorization("lic", quantity=5)
    world.order("po1", 10)
    world.request("po1", "lic")
    with pytest.raises(ComplianceRefusal) as short:
        world.grant("po1", "lic")
    assert (short.value.rule, short.value.citation) == ("authorization-quantity", "terms of the license (drawdown)")
    assert (short.value.facts["remaining_quantity"], short.value.facts["quantity"]) == ("5", "10")
    assert short.value.facts["authorization_id"] == str(world["lic"])

    world.authorization("old", number="KR-OLD", days=10, start_days_ago=30)
    world.order("po2", 1)
    world.request("po2", "old")
    with pytest.raises(ComplianceRefusal) as expired:
        world.grant("po2", "old")
    assert (expired.value.rule, expired.value.citation) == ("authorization-validity", "15 CFR 750.7 (license validity)")
    assert expired.value.facts["state"] == "expired" and expired.value.facts["at"] == world.t0.isoformat()
