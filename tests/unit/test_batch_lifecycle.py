"""The GpuBatch aggregate on its own: every transition and every refusal, no infrastructure."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from registry.domain.base import Context
from registry.domain.batch import GpuBatch, Stage
from registry.domain.errors import (
    ComplianceRefusal,
    IllegalTransition,
    InvalidField,
    InvariantViolation,
)

CTX = Context(actor="officer@ministry", request_id="", occurred_at=datetime(2026, 3, 2, tzinfo=UTC))
BUYER, SUPPLIER, MODEL, AUTH = uuid4(), uuid4(), uuid4(), uuid4()
SITE_A, SITE_B, TENANT, OTHER = uuid4(), uuid4(), uuid4(), uuid4()


def ordered(quantity: int = 10) -> GpuBatch:
    return GpuBatch.order(
        CTX, uuid4(), "PO-1", SUPPLIER, BUYER, MODEL, quantity, Decimal("38500.00"), "USD", "ai-factory"
    )


def cleared(quantity: int = 10, cleared_quantity: int | None = None) -> GpuBatch:
    b = ordered(quantity)
    b.request_clearance(CTX, AUTH, "3A090.a", "KR", BUYER, BUYER, quantity, "AI training")
    b.grant_clearance(CTX, AUTH, "NLR", "3A090.a", cleared_quantity or quantity)
    return b


def serialized(n: int = 4) -> tuple[GpuBatch, list[str]]:
    b = cleared(n)
    serials = [f"SN{i:04d}" for i in range(n)]
    b.register_serials(CTX, serials, [f"GPU-{i}" for i in range(n)])
    return b, serials


def at_site(n: int = 4) -> tuple[GpuBatch, list[str]]:
    b, serials = serialized(n)
    b.ship(CTX, "S1", None, "US", "KR", SITE_A, "ITN1", None, serials)
    b.receive(CTX, "S1", BUYER, SITE_A, None, serials)
    b.install(CTX, SITE_A, "R1", "H1", None, serials)
    return b, serials


def replayed(batch: GpuBatch) -> GpuBatch:
    """Rebuild from the batch's own events, the way the repository does."""
    events = batch.collect_events()
    rebuilt: Any = None
    for e in events:
        rebuilt = e.mutate(rebuilt)
    return rebuilt  # type: ignore[no-any-return]


def test_an_order_starts_with_all_units_pending_and_no_clearance() -> None:
    b = ordered(72)
    assert b.stage == "ordered"
    assert b.units_by_stage()[Stage.PENDING] == 72
    assert b.unit_price == Decimal("38500.00")
    assert b.version == 1


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("quantity", {"quantity": 0}),
        ("unit_price", {"unit_price": Decimal("-1")}),
        ("currency", {"currency": "usd"}),
        ("po_number", {"po_number": " "}),
    ],
)
def test_an_order_with_a_bad_field_is_refused_naming_the_field(field: str, kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = dict(po_number="PO", quantity=1, unit_price=Decimal(1), currency="USD")
    args.update(kwargs)
    with pytest.raises(InvalidField) as e:
        GpuBatch.order(
            CTX,
            uuid4(),
            args["po_number"],
            SUPPLIER,
            BUYER,
            MODEL,
            args["quantity"],
            args["unit_price"],
            args["currency"],
            "p",
        )
    assert e.value.violations[0][0] == field


def test_clearance_goes_requested_then_granted() -> None:
    b = ordered()
    b.request_clearance(CTX, AUTH, "3A090.a", "KR", BUYER, BUYER, 10, "AI")
    assert b.stage == "clearance_requested"
    b.grant_clearance(CTX, AUTH, "NLR", "3A090.a", 8)
    assert b.stage == "cleared"
    assert b.cleared_quantity == 8
    assert b.destination_country == "KR"


def test_granting_without_a_request_is_an_illegal_transition_naming_state_and_next_steps() -> None:
    b = ordered()
    with pytest.raises(IllegalTransition) as e:
        b.grant_clearance(CTX, AUTH, "NLR", "3A090.a", 10)
    message = str(e.value)
    assert "ordered" in message and "request_clearance" in message
    assert "request_clearance" in e.value.allowed


def test_requesting_clearance_twice_is_refused() -> None:
    b = ordered()
    b.request_clearance(CTX, AUTH, "3A090.a", "KR", BUYER, BUYER, 10, "AI")
    with pytest.raises(IllegalTransition):
        b.request_clearance(CTX, AUTH, "3A090.a", "KR", BUYER, BUYER, 10, "AI")


@pytest.mark.parametrize("outcome", ["denied", "revoked", "none", "requested"])
def test_shipping_without_a_granted_clearance_is_refused_with_the_state(outcome: str) -> None:
    b = ordered()
    if outcome != "none":
        b.request_clearance(CTX, AUTH, "3A090.a", "KR", BUYER, BUYER, 10, "AI")
    if outcome == "denied":
        b.deny_clearance(CTX, "entity-list", "consignee is listed")
    if outcome == "revoked":
        b.grant_clearance(CTX, AUTH, "NLR", "3A090.a", 10)
        b.revoke_clearance(CTX, "license suspended")
    with pytest.raises(IllegalTransition) as e:
        b.ship(CTX, "S1", None, "US", "KR", None, "", 5, [])
    assert f"clearance {outcome}" in str(e.value)
    assert "ship" not in e.value.allowed


def test_a_denied_clearance_can_be_requested_again() -> None:
    b = ordered()
    b.request_clearance(CTX, AUTH, "3A090.a", "KR", BUYER, BUYER, 10, "AI")
    b.deny_clearance(CTX, "officer", "missing end-use statement")
    assert "request_clearance" in b.allowed_actions()
    b.request_clearance(CTX, AUTH, "3A090.a", "KR", BUYER, BUYER, 10, "AI")
    assert b.clearance_status == "requested"


def test_denying_and_revoking_need_a_reason() -> None:
    b = ordered()
    b.request_clearance(CTX, AUTH, "3A090.a", "KR", BUYER, BUYER, 10, "AI")
    with pytest.raises(InvalidField):
        b.deny_clearance(CTX, "officer", " ")
    b.grant_clearance(CTX, AUTH, "NLR", "3A090.a", 10)
    with pytest.raises(InvalidField):
        b.revoke_clearance(CTX, "")


def test_partial_shipments_are_allowed_up_to_the_cleared_quantity() -> None:
    b = cleared(10, cleared_quantity=7)
    b.ship(CTX, "S1", None, "US", "KR", None, "ITN1", 4, [])
    b.ship(CTX, "S2", None, "US", "KR", None, "ITN2", 3, [])
    assert b.units_by_stage()[Stage.IN_TRANSIT] == 7
    with pytest.raises(InvariantViolation) as e:
        b.ship(CTX, "S3", None, "US", "KR", None, "ITN3", 1, [])
    assert e.value.rule == "ship-within-clearance"


def test_a_shipment_id_is_used_once_per_batch() -> None:
    b = cleared()
    b.ship(CTX, "S1", None, "US", "KR", None, "", 1, [])
    with pytest.raises(InvariantViolation):
        b.ship(CTX, "S1", None, "US", "KR", None, "", 1, [])


def test_received_can_never_exceed_shipped_on_a_shipment() -> None:
    b = cleared()
    b.ship(CTX, "S1", None, "US", "KR", None, "", 5, [])
    b.receive(CTX, "S1", BUYER, SITE_A, 3, [])
    with pytest.raises(InvariantViolation):
        b.receive(CTX, "S1", BUYER, SITE_A, 3, [])
    assert b.units_by_stage()[Stage.RECEIVED] == 3
    assert b.units_by_stage()[Stage.IN_TRANSIT] == 2


def test_receiving_an_unknown_shipment_is_refused() -> None:
    b = cleared()
    with pytest.raises(IllegalTransition):
        b.receive(CTX, "nope", BUYER, SITE_A, 1, [])


def test_a_receipt_records_missing_and_unexpected_serials_as_facts() -> None:
    b, serials = serialized(4)
    b.ship(CTX, "S1", None, "US", "KR", SITE_A, "", None, serials[:3])
    b.receive(CTX, "S1", BUYER, SITE_A, None, [serials[0], serials[1], "NEVER-SHIPPED"])
    event = b.pending_events[-1]
    assert isinstance(event, GpuBatch.Received)
    assert list(event.missing_serials) == [serials[2]]
    assert list(event.unexpected_serials) == ["NEVER-SHIPPED"]
    assert b.units[serials[0]].stage == Stage.RECEIVED
    assert b.units[serials[2]].stage == Stage.IN_TRANSIT


def test_installed_can_never_exceed_received() -> None:
    b = cleared()
    b.ship(CTX, "S1", None, "US", "KR", None, "", 5, [])
    b.receive(CTX, "S1", BUYER, SITE_A, 2, [])
    with pytest.raises(InvariantViolation):
        b.install(CTX, SITE_A, "R1", "H1", 3, [])
    b.install(CTX, SITE_A, "R1", "H1", 2, [])
    assert b.units_by_stage()[Stage.INSTALLED] == 2


def test_installing_a_serial_that_was_never_received_is_refused() -> None:
    b, serials = serialized(2)
    b.ship(CTX, "S1", None, "US", "KR", SITE_A, "", None, serials)
    with pytest.raises(IllegalTransition):
        b.install(CTX, SITE_A, "R1", "H1", None, [serials[0]])


def test_a_serial_reported_installed_at_a_second_site_is_recorded_as_relocated() -> None:
    b, serials = at_site(2)
    b.install(CTX, SITE_B, "R9", "H9", None, [serials[0]])
    event = b.pending_events[-1]
    assert isinstance(event, GpuBatch.Installed)
    assert list(event.relocated_serials) == [serials[0]]
    assert b.units[serials[0]].site == SITE_B.hex
    assert b.units[serials[0]].rack == "R9"
    assert b.units_by_stage()[Stage.INSTALLED] == 2


def test_assigned_can_never_exceed_installed_and_reassignment_moves_assignees() -> None:
    b, serials = at_site(3)
    with pytest.raises(InvalidField):
        b.assign(CTX, TENANT, "LLM training", 5, [])  # serialized batches name serials
    b.assign(CTX, TENANT, "LLM training", None, serials[:2])
    assert b.units_by_stage()[Stage.ASSIGNED] == 2
    b.assign(CTX, OTHER, "inference", None, [serials[0]])
    assert b.units[serials[0]].assignee == OTHER.hex
    assert b.units_by_stage()[Stage.ASSIGNED] == 2


def test_quantity_assignment_beyond_installed_is_refused() -> None:
    b = cleared()
    b.ship(CTX, "S1", None, "US", "KR", None, "", 4, [])
    b.receive(CTX, "S1", BUYER, SITE_A, 4, [])
    b.install(CTX, SITE_A, "", "", 2, [])
    with pytest.raises(InvariantViolation):
        b.assign(CTX, TENANT, "training", 3, [])


def test_assignment_needs_a_purpose() -> None:
    b, serials = at_site(1)
    with pytest.raises(InvalidField) as e:
        b.assign(CTX, TENANT, " ", None, serials)
    assert e.value.violations[0][0] == "purpose"


def test_an_in_country_transfer_changes_owner_and_unassigns() -> None:
    b, serials = at_site(2)
    b.assign(CTX, TENANT, "training", None, serials)
    b.transfer(CTX, OTHER, None, None, "sold to partner", None, [serials[0]])  # in place: still installed
    unit = b.units[serials[0]]
    assert (unit.owner, unit.site, unit.stage, unit.assignee) == (OTHER.hex, SITE_A.hex, Stage.INSTALLED, "")
    assert unit.rack != ""


def test_units_transferred_to_another_site_are_received_there_out_of_their_rack() -> None:
    b, serials = at_site(2)
    b.assign(CTX, TENANT, "training", None, serials)
    b.transfer(CTX, OTHER, SITE_B, "KR", "sold to partner", None, [serials[0]])
    unit = b.units[serials[0]]
    assert (unit.owner, unit.site, unit.stage, unit.assignee) == (OTHER.hex, SITE_B.hex, Stage.RECEIVED, "")
    assert (unit.rack, unit.host) == ("", "")
    assert b.units[serials[1]].stage == Stage.ASSIGNED


def test_a_transfer_to_a_site_in_another_country_is_refused() -> None:
    b, serials = at_site(1)
    with pytest.raises(ComplianceRefusal) as e:
        b.transfer(CTX, OTHER, SITE_B, "SG", "move", None, serials)
    assert e.value.rule == "in-country-transfer"


def test_rma_loss_and_decommission_take_units_out_of_service() -> None:
    b, serials = at_site(4)
    b.return_for_rma(CTX, "RMA-1", "ECC errors", None, [serials[0]])
    b.report_lost(CTX, "stolen", "missing from cage", None, [serials[1]])
    b.decommission(CTX, "shredded", None, [serials[2], serials[0]])
    by_stage = b.units_by_stage()
    assert by_stage[Stage.DECOMMISSIONED] == 2
    assert by_stage[Stage.LOST] == 1
    assert by_stage[Stage.INSTALLED] == 1
    with pytest.raises(IllegalTransition):
        b.decommission(CTX, "again", None, [serials[1]])  # a lost unit cannot be decommissioned


def test_losing_a_unit_in_transit_is_recorded() -> None:
    b = cleared()
    b.ship(CTX, "S1", None, "US", "KR", None, "", 3, [])
    b.report_lost(CTX, "lost", "container overboard", 1, [])
    assert b.units_by_stage()[Stage.LOST] == 1
    assert b.units_by_stage()[Stage.IN_TRANSIT] == 2


def test_rma_needs_an_rma_number_and_lost_needs_a_known_kind() -> None:
    b, serials = at_site(1)
    with pytest.raises(InvalidField):
        b.return_for_rma(CTX, "", "bad", None, serials)
    with pytest.raises(InvalidField):
        b.report_lost(CTX, "misplaced", "", None, serials)


def test_serials_are_registered_once_within_the_quantity_and_before_shipping() -> None:
    b = cleared(3)
    with pytest.raises(InvalidField):
        b.register_serials(CTX, ["A", "A"], ["1", "2"])
    with pytest.raises(InvalidField):
        b.register_serials(CTX, ["A"], [])
    with pytest.raises(InvariantViolation):
        b.register_serials(CTX, ["A", "B", "C", "D"], ["1", "2", "3", "4"])
    b.register_serials(CTX, ["A", "B"], ["1", "2"])
    with pytest.raises(InvariantViolation):
        b.register_serials(CTX, ["B"], ["2"])
    b.ship(CTX, "S1", None, "US", "KR", None, "", None, ["A"])
    with pytest.raises(IllegalTransition):
        b.register_serials(CTX, ["C"], ["3"])


def test_a_serialized_batch_moves_only_named_serials_in_the_right_stage() -> None:
    b, serials = serialized(2)
    with pytest.raises(InvariantViolation):
        b.ship(CTX, "S1", None, "US", "KR", None, "", None, ["NOT-MINE"])
    with pytest.raises(InvalidField):
        b.ship(CTX, "S1", None, "US", "KR", None, "", None, [serials[0], serials[0]])
    with pytest.raises(InvalidField):
        b.ship(CTX, "S1", None, "US", "KR", None, "", 2, [serials[0]])


def test_a_split_moves_pending_units_and_their_share_of_clearance_to_a_child() -> None:
    b, serials = serialized(4)
    child_id = uuid4()
    child = b.split(CTX, child_id, None, serials[2:])
    assert child.parent_id == b.id
    assert child.quantity == 2 and b.quantity == 2
    assert sorted(child.units) == serials[2:]
    assert child.cleared_quantity == 2 and b.cleared_quantity == 2
    assert child.units_by_stage()[Stage.PENDING] == 2
    assert b.units_by_stage()[Stage.PENDING] == 2
    assert b.children == [child_id]
    child.ship(CTX, "C1", None, "US", "KR", None, "", None, serials[2:])


def test_a_split_must_leave_units_in_the_parent() -> None:
    b = cleared(4)
    with pytest.raises(InvariantViolation):
        b.split(CTX, uuid4(), 4, [])


def test_an_order_correction_is_a_new_event_not_an_edit() -> None:
    b = ordered()
    b.correct_order(CTX, {"unit_price": Decimal("37000.00")}, "negotiated discount")
    assert b.unit_price == Decimal("37000.00")
    assert isinstance(b.pending_events[-1], GpuBatch.OrderCorrected)
    assert b.pending_events[0].unit_price == Decimal("38500.00")  # type: ignore[attr-defined]
    with pytest.raises(InvalidField):
        b.correct_order(CTX, {"quantity": 1}, "nope")


def test_every_event_carries_actor_request_and_business_time() -> None:
    b, _ = at_site(1)
    for e in b.pending_events:
        assert e.actor == CTX.actor  # type: ignore[attr-defined]
        assert e.occurred_at == CTX.occurred_at  # type: ignore[attr-defined]
        assert e.timestamp.tzinfo is not None


def test_replaying_the_events_gives_the_same_state() -> None:
    b, serials = at_site(4)
    b.assign(CTX, TENANT, "training", None, serials[:2])
    b.report_lost(CTX, "lost", "", None, [serials[3]])
    state = dict(vars(b))
    rebuilt = replayed(b)
    state.pop("_pending_events")
    rebuilt_state = dict(vars(rebuilt))
    rebuilt_state.pop("_pending_events")
    assert rebuilt_state == state


def test_the_ordered_event_upcasts_from_version_1() -> None:
    state: dict[str, Any] = {"po_number": "PO"}
    GpuBatch.Ordered.upcast_v1_v2(state)
    assert state["allocation_program"] == "unspecified"
    assert GpuBatch.Ordered.class_version == 2


def test_uuid_ids_are_preserved() -> None:
    b = ordered()
    assert isinstance(b.id, UUID)
    assert b.buyer_id == BUYER


def test_serials_attach_only_to_pending_units() -> None:
    b = ordered(3)
    b.request_clearance(CTX, AUTH, "3A090.a", "KR", BUYER, BUYER, 3, "AI")
    b.report_lost(CTX, "lost", "pallet gone before shipping", 2, [])
    with pytest.raises(InvariantViolation) as e:
        b.register_serials(CTX, ["A", "B"], ["1", "2"])
    assert e.value.rule == "serials-within-quantity"
    b.register_serials(CTX, ["A"], ["1"])
    assert b.units_by_stage()[Stage.PENDING] == 1


def test_a_copied_batch_is_independent_of_the_original() -> None:
    import copy

    b, serials = at_site(2)
    twin = copy.deepcopy(b)
    twin.assign(CTX, TENANT, "training", None, [serials[0]])
    assert b.units[serials[0]].stage == Stage.INSTALLED
    assert twin.units[serials[0]].stage == Stage.ASSIGNED
    assert b.buckets != twin.buckets and b.version + 1 == twin.version


def test_a_command_fingerprint_ignores_the_order_of_map_keys() -> None:
    from registry.application import commands as c

    base = dict(vendor="NVIDIA", name="B200", die_area_mm2="1600", datacenter_marketed=True, tdp_watts=1000)
    one = c.parse(c.RegisterGpuModel, {**base, "dense_tops": {"fp8": "4500", "fp16": "2250"},
                                       "bit_lengths": {"fp8": 8, "fp16": 16}})
    two = c.parse(c.RegisterGpuModel, {**base, "dense_tops": {"fp16": "2250", "fp8": "4500"},
                                       "bit_lengths": {"fp16": 16, "fp8": 8}})
    assert one.fingerprint_payload() == two.fingerprint_payload()


def test_a_moved_unit_is_the_unit_its_constructor_would_build_and_knows_its_position_key() -> None:
    import copy
    import pickle
    from dataclasses import asdict, replace

    from registry.domain.batch import Unit

    b, serials = at_site(3)
    b.assign(CTX, TENANT, "training", None, serials[:1])
    moved = b.units[serials[0]]
    built = Unit(**asdict(moved))

    assert moved == built and hash(moved) == hash(built) and repr(moved) == repr(built)
    assert moved.key == built.key == moved.position.key
    assert moved.stage == "assigned" and moved.rack == "R1" and moved.shipment_id == "S1"
    assert replace(moved, stage="installed").key == replace(moved, stage="installed").position.key
    assert pickle.loads(pickle.dumps(moved)) == moved and copy.deepcopy(moved).key == moved.key


def test_a_registered_unit_is_the_pending_unit_its_constructor_would_build() -> None:
    from registry.domain.batch import Unit

    b, serials = serialized(2)
    unit = b.units[serials[1]]
    built = Unit(serials[1], "GPU-1", Stage.PENDING, owner=BUYER.hex)

    assert unit == built and repr(unit) == repr(built) and vars(unit) == vars(built)
    assert unit.key == built.key == built.position.key


def test_a_blank_serial_in_a_registration_is_refused_naming_its_place_and_nothing_is_recorded() -> None:
    b = cleared(4)
    with pytest.raises(InvalidField) as info:
        b.register_serials(CTX, ["SN1", "SN2", "  ", ""], ["G1", "G2", "G3", "G4"])

    assert info.value.violations == [("serials[2]", "must not be empty")]
    assert not b.units and b.version == 3  # ordered, clearance requested and granted: nothing more
