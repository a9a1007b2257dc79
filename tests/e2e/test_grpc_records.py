"""Records and documents over the wire (15 CFR 762.6 and 758.6), on a real server with bearer
credentials, on SQLite and PostgreSQL: the compliance officer places and releases an agency's legal
hold, a known transshipment and a diversion are recorded, and GetBatchCompliance shows the holds,
the held export records (no destruction date while held), the moved retention dates, the
Destination Control Statement with the ECCN and the diversion's critical finding. Another
partner learns nothing of it: not the hold, not the diversion, not through its subscription."""

from __future__ import annotations

import uuid
from datetime import UTC, timedelta

import grpc

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import compliance_pb2 as cp
from registry.api.v1 import events_pb2 as ev
from registry.domain.compliance_rules import DESTINATION_CONTROL_STATEMENT
from tests.e2e.test_grpc_errors import field_violations, refused
from tests.e2e.test_partner_isolation import T0, TIMEOUT, ts, world  # noqa: F401  (the fixture)

AGENCY = "BIS Office of Export Enforcement"
REFERENCE = "OEE-2027-0042"


def _hold(api, md, batch: str, agency: str = AGENCY) -> cp.PlaceLegalHoldResponse:  # type: ignore[no-untyped-def]
    return api.compliance.PlaceLegalHold(cp.PlaceLegalHoldRequest(
        request_id=str(uuid.uuid4()), batch_id=batch, agency=agency, reference=REFERENCE,
        reason="administrative subpoena for the export records", occurred_at=ts(T0 + timedelta(days=200)),
    ), metadata=md, timeout=TIMEOUT)


def _onward(api, md, batch: str, kind: int, days: int, serials: list[str], country: str = "AE",  # type: ignore[no-untyped-def]
            place: str = "Jebel Ali free zone"):
    return api.commands.RecordOnwardMovement(c.RecordOnwardMovementRequest(
        request_id=str(uuid.uuid4()), batch_id=batch, kind=kind, country=country, place=place,
        note="found by a post-shipment check", serials=serials, occurred_at=ts(T0 + timedelta(days=days)),
    ), metadata=md, timeout=TIMEOUT)


def test_a_hold_a_diversion_and_the_dcs_show_in_batch_compliance_and_nowhere_for_another_partner(
    world,  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    server, d, creds = world
    api = server.stubs()
    officer = creds.md("compliance_officer", subject="officer-kim")
    logistics = creds.md("logistics", subject="ops")
    sk_batch, samsung_batch = d.ids["b1"], d.ids["a1"]

    hold = _hold(api, officer, sk_batch).aggregate_id
    _onward(api, officer, sk_batch, c.ONWARD_MOVEMENT_KIND_DIVERSION, 90, ["SNb13"])
    moved = _onward(api, logistics, samsung_batch, c.ONWARD_MOVEMENT_KIND_TRANSSHIPMENT, 6, ["SNa10"], "SG", "Port of Singapore")
    at = moved.position

    admin = creds.md("admin")
    sk = api.compliance.GetBatchCompliance(cp.GetBatchComplianceRequest(batch_id=sk_batch, min_position=at),
                                           metadata=admin, timeout=TIMEOUT)
    [h] = sk.legal_holds
    assert (h.hold_id, h.agency, h.reference, h.placed_by, h.active) == (hold, AGENCY, REFERENCE, "officer-kim", True)
    assert h.placed_at.ToDatetime(tzinfo=UTC) == T0 + timedelta(days=200)
    [export] = sk.exports
    assert export.held and not export.HasField("destruction_allowed_from")
    diverted_at = T0 + timedelta(days=90)
    assert export.retention_basis_at.ToDatetime(tzinfo=UTC) == diverted_at
    assert export.retention_until.ToDatetime(tzinfo=UTC) == diverted_at.replace(year=diverted_at.year + 5)
    assert export.eccn == "3A090.a"
    assert export.destination_control_statement == (
        f"ECCN 3A090.a. {DESTINATION_CONTROL_STATEMENT} Country of ultimate destination: KR.")
    [movement] = sk.onward_movements
    assert (movement.kind, movement.country, list(movement.serials)) == ("diversion", "AE", ["SNB13"])
    [diverted] = [f for f in sk.findings if f.rule_id == "units-diverted"]
    assert (diverted.severity, list(diverted.serials)) == (cp.FINDING_SEVERITY_CRITICAL, ["SNB13"])

    # the partner sees its own batch's records, and nothing of the other partner's hold or diversion
    samsung = creds.md("partner", d.ids["samsung"])
    own = api.compliance.GetBatchCompliance(cp.GetBatchComplianceRequest(batch_id=samsung_batch, min_position=at),
                                            metadata=samsung, timeout=TIMEOUT)
    assert list(own.legal_holds) == [] and not own.exports[0].held
    # nor whether its own batch is held: no destruction date is shown to a partner, held or not
    # (it is unset while a hold is in place, so showing it otherwise would tell; docs/security.md)
    assert not own.exports[0].HasField("destruction_allowed_from") and own.exports[0].HasField("retention_until")
    assert [m.kind for m in own.onward_movements] == ["transshipment"]
    listed = api.compliance.ListFindings(cp.ListFindingsRequest(min_position=at), metadata=samsung, timeout=TIMEOUT)
    assert "units-diverted" not in {f.rule_id for f in listed.findings}
    head = server.head()
    stream = api.events.SubscribeEvents(ev.SubscribeEventsRequest(after_position=0), metadata=samsung,
                                        timeout=TIMEOUT)
    raw = b""
    for message in stream:
        raw += message.SerializeToString()
        if message.WhichOneof("content") == "checkpoint" and message.checkpoint.position >= head:
            break
    stream.cancel()
    assert b"Port of Singapore" in raw  # its own transshipment
    assert hold.encode() not in raw and AGENCY.encode() not in raw and b"Jebel Ali" not in raw
    assert sk_batch.encode() not in raw

    # a partner may neither place nor release a hold, not even on its own batch; nothing is written
    denied = refused(lambda: _hold(api, samsung, samsung_batch))
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    assert server.head() == head

    # released: the records follow their retention date again; released once
    api.compliance.ReleaseLegalHold(cp.ReleaseLegalHoldRequest(
        request_id=str(uuid.uuid4()), hold_id=hold, reason="OEE closed the case"), metadata=officer, timeout=TIMEOUT)
    after = api.compliance.GetBatchCompliance(cp.GetBatchComplianceRequest(
        batch_id=sk_batch, min_position=server.head()), metadata=admin, timeout=TIMEOUT)
    [h] = after.legal_holds
    assert (h.active, h.released_by, h.release_reason) == (False, "officer-kim", "OEE closed the case")
    assert not after.exports[0].held
    assert after.exports[0].destruction_allowed_from == after.exports[0].retention_until
    again = refused(lambda: api.compliance.ReleaseLegalHold(cp.ReleaseLegalHoldRequest(
        request_id=str(uuid.uuid4()), hold_id=hold, reason="again"), metadata=officer, timeout=TIMEOUT))
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_bad_hold_and_onward_movement_requests_name_the_field_and_write_nothing(
    world,  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    server, d, creds = world
    api = server.stubs()
    officer = creds.md("compliance_officer")
    head = server.head()
    blank = refused(lambda: _hold(api, officer, d.ids["b1"], agency=""))
    assert blank.code() == grpc.StatusCode.INVALID_ARGUMENT and "agency" in field_violations(blank)
    unknown = refused(lambda: _hold(api, officer, str(uuid.uuid4())))
    assert unknown.code() == grpc.StatusCode.NOT_FOUND and "batch_id" in (unknown.details() or "")
    no_kind = refused(lambda: _onward(api, officer, d.ids["b1"], c.ONWARD_MOVEMENT_KIND_UNSPECIFIED, 90, ["SNb13"]))
    assert no_kind.code() == grpc.StatusCode.INVALID_ARGUMENT and "kind" in field_violations(no_kind)
    country = refused(lambda: _onward(api, officer, d.ids["b1"], c.ONWARD_MOVEMENT_KIND_REEXPORT, 90, ["SNb13"],
                                      country="UAE"))
    assert country.code() == grpc.StatusCode.INVALID_ARGUMENT and "country" in field_violations(country)
    assert server.head() == head


def test_a_reexport_to_china_under_a_license_for_korea_is_recorded_and_flagged_by_742_6_a_6_iii(
    world,  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    """Recording a known reexport is never refused: the fact is written, and the compliance read
    model flags it (reexport-not-authorized, critical) when the destination rule needs a license
    the batch's license (D1234567, for KR) does not give; a transshipment through Singapore (A:6)
    raises nothing."""
    server, d, creds = world
    api = server.stubs()
    logistics = creds.md("logistics", subject="ops")
    _onward(api, logistics, d.ids["a1"], c.ONWARD_MOVEMENT_KIND_TRANSSHIPMENT, 6, ["SNa10"], "SG", "Port of Singapore")
    moved = _onward(api, logistics, d.ids["b1"], c.ONWARD_MOVEMENT_KIND_REEXPORT, 90, ["SNb13"], "CN", "Shenzhen")
    admin = creds.md("admin")
    flagged = api.compliance.ListFindings(cp.ListFindingsRequest(
        min_position=moved.position, rule_ids=["reexport-not-authorized"]), metadata=admin, timeout=TIMEOUT)
    [finding] = flagged.findings
    assert (finding.batch_id, finding.severity, list(finding.serials)) == (
        d.ids["b1"], cp.FINDING_SEVERITY_CRITICAL, ["SNB13"])
    assert "742.6(a)(6)(iii)" in finding.citation
    assert "reexport to CN" in finding.reasons[0] and "license D1234567 does not list CN" in finding.reasons[0]
