"""An authorization's drawdown ledger: draw, return, move, and the limits that refuse a draw."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from registry.domain.base import Context
from registry.domain.errors import ComplianceRefusal, InvalidField, InvariantViolation
from registry.domain.reference import ExportAuthorization

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
CTX = Context("officer", "", T0)


def _auth(
    quantity: int | None = 100, value: str | None = "2500000", currency: str = "USD"
) -> ExportAuthorization:
    return ExportAuthorization.register(
        CTX,
        uuid4(),
        "license",
        "L-1",
        ["3A090"],
        ["KR"],
        [],
        [],
        T0 - timedelta(days=1),
        T0 + timedelta(days=90),
        quantity,
        Decimal(value) if value is not None else None,
        currency,
    )


def test_drawing_to_exactly_zero_remaining_is_allowed_and_one_more_unit_is_refused() -> None:
    auth = _auth(quantity=100, value=None)
    first, second = uuid4(), uuid4()
    auth.draw(CTX, first, 60, Decimal(25000), "USD")
    auth.draw(CTX, second, 40, Decimal(25000), "USD")
    assert auth.remaining_quantity == 0
    with pytest.raises(ComplianceRefusal) as e:
        auth.draw(CTX, uuid4(), 1, Decimal(25000), "USD")
    assert e.value.rule == "authorization-quantity"
    assert "0 unit(s) left of 100" in e.value.detail


def test_the_value_limit_allows_exactly_its_amount_and_refuses_one_cent_more() -> None:
    auth = _auth(quantity=None, value="2500000")
    auth.draw(CTX, uuid4(), 100, Decimal(25000), "USD")
    assert auth.remaining_value == Decimal(0)
    with pytest.raises(ComplianceRefusal) as e:
        auth.draw(CTX, uuid4(), 1, Decimal("0.01"), "USD")
    assert e.value.rule == "authorization-value"


def test_a_batch_priced_in_another_currency_is_refused_against_a_value_limit() -> None:
    auth = _auth(value="2500000", currency="USD")
    with pytest.raises(ComplianceRefusal) as e:
        auth.draw(CTX, uuid4(), 1, Decimal(30000000), "KRW")
    assert e.value.rule == "authorization-currency"
    assert auth.ledger == []


def test_without_a_value_limit_another_currency_is_recorded_but_not_summed() -> None:
    auth = _auth(value=None, currency="USD")
    auth.draw(CTX, uuid4(), 2, Decimal(30000000), "KRW")
    view = auth.ledger_view()
    assert view.drawn_quantity == 2 and view.drawn_value == Decimal(0)
    assert view.entries[0]["currency"] == "KRW" and view.entries[0]["value"] == Decimal(60000000)


def test_a_draw_takes_at_least_one_unit() -> None:
    with pytest.raises(InvalidField):
        _auth().draw(CTX, uuid4(), 0, Decimal(1), "USD")


def test_returned_units_become_available_again() -> None:
    auth = _auth(quantity=100)
    batch = uuid4()
    auth.draw(CTX, batch, 100, Decimal(25000), "USD")
    auth.give_back(CTX, batch, 30, "clearance revoked")
    view = auth.ledger_view()
    assert (view.drawn_quantity, view.returned_quantity, view.remaining_quantity) == (100, 30, 30)
    assert (view.drawn_value, view.returned_value, view.remaining_value) == (
        Decimal(2500000),
        Decimal(750000),
        Decimal(750000),
    )
    assert view.held_by_batch == {batch: 70}
    assert [e["kind"] for e in view.entries] == ["drawn", "returned"]
    auth.draw(CTX, uuid4(), 30, Decimal(25000), "USD")
    assert auth.remaining_quantity == 0


def test_a_batch_cannot_return_more_than_it_drew() -> None:
    auth = _auth()
    batch = uuid4()
    auth.draw(CTX, batch, 10, Decimal(1), "USD")
    with pytest.raises(InvariantViolation) as e:
        auth.give_back(CTX, batch, 11, "too many")
    assert e.value.rule == "return-within-drawn"
    with pytest.raises(InvariantViolation):
        auth.give_back(CTX, uuid4(), 1, "never drew")


def test_moving_a_draw_to_a_split_child_changes_who_holds_it_not_what_remains() -> None:
    auth = _auth(quantity=100)
    parent, child = uuid4(), uuid4()
    auth.draw(CTX, parent, 100, Decimal(25000), "USD")
    auth.move_draw(CTX, parent, child, 40, "split")
    view = auth.ledger_view()
    assert view.remaining_quantity == 0
    assert view.held_by_batch == {parent: 60, child: 40}
    assert [(e["kind"], e["related_batch_id"]) for e in view.entries] == [
        ("drawn", None),
        ("returned", child),
        ("drawn", parent),
    ]
