"""Issue 7: a small Korea deployment loaded through the gRPC API; the compliance read model finds
every planted anomaly exactly once, and nothing on the clean batches."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import pytest

from registry.api.v1 import compliance_pb2 as cp
from registry.api.v1 import queries_pb2 as q
from registry.demo.grpc_load import load_over_grpc
from registry.demo.scenario import Anomaly, korea_deployment
from registry.demo.server_process import PLANNED_TIMELINE_SECONDS
from tests.e2e.conftest import RunningServer

#: The rule each planted anomaly breaks (registry/domain/compliance_rules.py).
RULE_OF_ANOMALY = {
    "units_missing_in_transit": "units-missing-in-transit",
    "serial_received_never_shipped": "serial-not-shipped",
    "assigned_to_headquarters_rule_party": "recipient-not-authorized",
    "site_power_exceeded": "site-power-insufficient",
    "serial_installed_at_two_sites": "serial-at-two-sites",
    "transferred_to_unauthorized_party": "recipient-not-authorized",
    "shipped_to_uncovered_destination": "location-not-authorized",
    "shipped_not_received": "not-received-in-time",
    "units_reported_stolen": "units-reported-lost",
}


def _matches(anomaly: Anomaly, finding: cp.Finding) -> bool:
    return (
        finding.rule_id == RULE_OF_ANOMALY[anomaly.kind]
        and finding.batch_id == str(anomaly.batch_id)
        and set(anomaly.serials) <= set(finding.serials)
    )


@pytest.mark.slow
def test_every_planted_anomaly_of_a_small_demo_is_found_exactly_once(
    start_server: Callable[..., RunningServer], sqlite_url: str
) -> None:
    scenario = korea_deployment(scale=0.01)
    assert set(RULE_OF_ANOMALY) == {a.kind for a in scenario.anomalies}  # every kind is planted
    server = start_server(sqlite_url, max_occurred_ahead_seconds=PLANNED_TIMELINE_SECONDS)
    stats = asyncio.run(load_over_grpc(server.address, scenario, concurrency=8))
    api = server.stubs()

    findings: list[cp.Finding] = []
    token = ""
    while True:
        page = api.compliance.ListFindings(
            cp.ListFindingsRequest(min_position=stats.last_position, page_token=token, page_size=50), timeout=60)
        findings.extend(page.findings)
        token = page.next_page_token
        if not token:
            break

    matched: Counter[str] = Counter()
    for anomaly in scenario.anomalies:
        found = [f for f in findings if _matches(anomaly, f)]
        assert len(found) == 1, (anomaly, [(f.rule_id, f.batch_id, list(f.reasons)) for f in findings])
        matched[found[0].finding_id] += 1
        if anomaly.kind == "assigned_to_headquarters_rule_party":
            assert any("headquartered in CN" in r for r in found[0].reasons), found[0].reasons
            assert found[0].severity == cp.FINDING_SEVERITY_CRITICAL
    # ... each by its own finding, and no finding that no anomaly explains (clean batches included).
    assert all(n == 1 for n in matched.values())
    assert sorted(matched) == sorted(f.finding_id for f in findings)

    planted = {str(a.batch_id) for a in scenario.anomalies}
    batches = [str(st.payload["batch_id"]) for st in scenario.batches if st.method == "place_order"]
    clean = [b for b in batches if b not in planted]
    assert len(clean) >= 5  # the demo has clean batches too, and they raise nothing
    for batch in (clean[0], clean[-1], sorted(planted)[0]):
        compliance = api.compliance.GetBatchCompliance(
            cp.GetBatchComplianceRequest(batch_id=batch, min_position=stats.last_position), timeout=60)
        expected = cp.COMPLIANCE_STATUS_FINDINGS_OPEN if batch in planted else cp.COMPLIANCE_STATUS_COMPLIANT
        assert compliance.status == expected
        assert compliance.exports and all(e.retention_until.seconds > e.shipped_at.seconds for e in compliance.exports)

    # The demo records the partners' allocations as events; the ownership view shows them.
    owned = api.queries.GetOwnership(q.GetOwnershipRequest(min_position=stats.last_position), timeout=60)
    allocated = {o.partner_id: o.allocated_gpus for o in owned.partners if o.HasField("allocated_gpus")}
    expected_allocations = {
        str(st.payload["partner_id"]): st.payload["gpus"] for st in scenario.reference if st.method == "set_allocation"
    }
    assert len(expected_allocations) == 5 and allocated == expected_allocations
    assert all(o.allocation_used for o in owned.partners if o.partner_id in expected_allocations)
