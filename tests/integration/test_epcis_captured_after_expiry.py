"""A shipment dated after its authorization expired, sent as another system's EPCIS document: the
capture decides a shipment by the registry's own rules, so it is refused like ``Ship`` refuses it
(rule ``authorization-validity``, naming the license), and nothing of the document is written
(SQLite and PostgreSQL). A shipment of that kind already in the log (from before the refusal) is
still flagged: tests/integration/test_rule_text_authorization_in_force.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from registry.application import commands as c
from registry.application.service import Registry
from registry.domain.errors import ComplianceRefusal
from registry.epcis.capture import Capture
from tests.builders import World
from tests.integration.test_epcis_conformance import _shipment_document

EXPIRED = datetime(2026, 3, 8, tzinfo=UTC)  # after the grant (4 March), before the shipment (10 March)


def test_a_shipment_after_expiry_is_refused_by_ship_and_by_an_epcis_capture_alike(
    registry: Registry, world: World
) -> None:
    doc, serials = _shipment_document(world)
    batch = registry.batch_of_serial(serials[0])
    registry.amend_reference("officer", c.AmendReference(
        kind="authorization", target_id=world.license, fields={"valid_to": EXPIRED.isoformat()},
        reason="license amended"))
    ship: Any = c.parse(c.Ship, {"batch_id": batch, "shipment_id": "ASN-1", "destination_country": "KR",
                                 "destination_site_id": world.site, "serials": serials,
                                 "occurred_at": "2026-03-10T15:00:00Z"})
    with pytest.raises(ComplianceRefusal) as refused:
        registry.ship("dock", ship)
    assert refused.value.rule == "authorization-validity" and refused.value.facts["state"] == "expired"

    head = registry.head()
    result = Capture(registry).capture("wms@nvidia", doc)
    [error] = result.errors
    assert error.field == "ship" and "authorization-validity" in error.rule and "NLR-KR-3A090" in error.rule
    assert registry.head() == head and registry.get_batch(batch).shipments == {}
