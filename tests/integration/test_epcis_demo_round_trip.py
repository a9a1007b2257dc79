"""The demo's batches exported batch by batch and captured into a fresh registry give the same
batches and the same compliance findings (a small-scale demo, SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from projections.compliance_queries import FindingFilter
from projections.db import open_engine
from projections.queries import ReadModels
from projections.runner import ProjectionRunner
from registry.application.service import Registry
from registry.bootstrap import build_registry
from registry.config import Settings
from registry.demo.load import load_in_process, run_step
from registry.demo.scenario import korea_deployment
from registry.demo.server_process import planned_settings
from registry.epcis.capture import Capture
from registry.epcis.export import document
from registry.epcis.sources import batch_events
from tests.epcis_support.gs1 import reference_event_ids, schema_errors
from tests.integration.test_epcis import batch_state

NOW = datetime(2027, 1, 1, tzinfo=UTC)


def _findings(settings: Settings, registry: Registry) -> list[tuple[Any, ...]]:
    engine = open_engine(settings)
    try:
        ProjectionRunner(registry, engine).catch_up()
        found, _ = ReadModels(engine, registry).list_findings(FindingFilter(), page_size=1000)
        return sorted(
            (f.rule_id, str(f.batch_id), f.severity, f.status, f.shipment_id, f.quantity, tuple(sorted(f.serials)),
             str(f.party_id), str(f.site_id), tuple(f.reasons))
            for f in found
        )
    finally:
        engine.dispose()


@pytest.fixture
def two_registries(tmp_path) -> Iterator[tuple[Settings, Registry, Settings, Registry]]:  # type: ignore[no-untyped-def]
    a = planned_settings(f"sqlite:///{tmp_path}/source.db")
    b = planned_settings(f"sqlite:///{tmp_path}/target.db")
    source, target = build_registry(a), build_registry(b)
    yield a, source, b, target
    source.close()
    target.close()


@pytest.mark.slow
def test_the_demos_batches_round_trip_through_epcis_with_the_same_state_and_findings(
    two_registries: tuple[Settings, Registry, Settings, Registry],
) -> None:
    source_settings, source, target_settings, target = two_registries
    scenario = korea_deployment(scale=0.01)
    load_in_process(source, scenario)
    batches = [UUID(str(st.payload["batch_id"])) for st in scenario.batches if st.method == "place_order"]
    events = [e for b in batches for e in batch_events(source, b)]
    whole = document(events, NOW)
    assert schema_errors(whole) == []
    assert [e["eventID"] for e in events] == reference_event_ids(whole)

    # The same reference data, at the same business times: the parties, sites, models and
    # authorizations first, and the one mid-history correction (a tenant's ultimate parent
    # revealed) between the events that happened before and after it.
    for step in scenario.reference:
        run_step(target, step)
    corrections = [st for st in scenario.batches if st.method not in _BATCH_METHODS]
    pending = sorted(events, key=lambda e: e["eventTime"])
    capture = Capture(target)
    for step in [*corrections, None]:
        cut = step.payload["occurred_at"] if step is not None else None
        now = [e for e in pending if cut is None or _utc(e["eventTime"]) < _utc(cut)]
        pending = [e for e in pending if e not in now]
        result = capture.capture("partner-systems", document(now, NOW))
        assert result.errors == [], result.errors[:3]
        if step is not None:
            run_step(target, step)

    for b in batches:
        assert batch_state(target.get_batch(b)) == batch_state(source.get_batch(b)), b
    source_findings = _findings(source_settings, source)
    assert source_findings  # the demo plants anomalies: the comparison is not vacuous
    assert _findings(target_settings, target) == source_findings


_BATCH_METHODS = frozenset({
    "place_order", "correct_order", "request_clearance", "grant_clearance", "deny_clearance", "revoke_clearance",
    "register_serials", "ship", "receive", "install", "assign", "transfer", "return_for_rma", "report_lost",
    "decommission", "split_batch",
})


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
