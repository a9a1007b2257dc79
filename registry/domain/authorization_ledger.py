"""An export authorization's drawdown ledger: what was drawn and returned per batch, what remains.

:class:`DrawdownLedger` is the ledger's state and arithmetic, mixed into
:class:`registry.domain.reference.ExportAuthorization` (whose ``Drawn`` and ``Returned`` events
``apply`` it, and whose ``draw`` / ``give_back`` / ``move_draw`` decide them);
:class:`AuthorizationLedger` is the ledger as a query shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from registry.domain.errors import InvariantViolation


class LedgerEvent(Protocol):
    """What a ledger entry reads from a ``Drawn`` or ``Returned`` event."""

    @property
    def batch_id(self) -> UUID: ...
    @property
    def quantity(self) -> int: ...
    @property
    def value(self) -> Decimal: ...
    @property
    def currency(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def originator_version(self) -> int: ...


class DrawdownLedger:
    """The ledger's state on an authorization: every entry, what each batch still holds, the
    drawn and returned sums and what remains of the limits."""

    if TYPE_CHECKING:
        ledger: list[dict[str, Any]]
        outstanding: dict[str, dict[str, Any]]
        drawn_quantity: int
        returned_quantity: int
        drawn_value: Decimal
        returned_value: Decimal
        quantity_limit: int | None
        value_limit: Decimal | None
        currency: str

    def _init_ledger(self) -> None:
        self.ledger = []
        self.outstanding = {}
        self.drawn_quantity = 0
        self.returned_quantity = 0
        self.drawn_value = Decimal(0)
        self.returned_value = Decimal(0)

    def _post(self, event: LedgerEvent, sign: int, related_batch_id: UUID | None) -> None:
        """Assign a ledger event's effect (called by ``apply``; the numbers are on the event;
        ``related_batch_id`` is a draw's ``moved_from`` or a return's ``moved_to``)."""
        drawn = sign > 0
        key = event.batch_id.hex
        out = self.outstanding.get(key, {"quantity": 0, "value": Decimal(0), "currency": event.currency})
        left = {
            "quantity": out["quantity"] + sign * event.quantity,
            "value": out["value"] + sign * event.value,
            "currency": event.currency,
        }
        if left["quantity"]:
            self.outstanding[key] = left
        else:
            self.outstanding.pop(key, None)
        if drawn:
            self.drawn_quantity += event.quantity
        else:
            self.returned_quantity += event.quantity
        if event.currency == self.currency:
            if drawn:
                self.drawn_value += event.value
            else:
                self.returned_value += event.value
        self.ledger.append(
            {
                "kind": "drawn" if drawn else "returned",
                "batch_id": event.batch_id,
                "quantity": event.quantity,
                "value": event.value,
                "currency": event.currency,
                "reason": event.reason,
                "related_batch_id": related_batch_id,
                "actor": event.actor,
                "occurred_at": event.occurred_at,
                "version": event.originator_version,
            }
        )

    @property
    def remaining_quantity(self) -> int | None:
        """Units still available; None when the authorization has no quantity limit."""
        if self.quantity_limit is None:
            return None
        return self.quantity_limit - self.drawn_quantity + self.returned_quantity

    @property
    def remaining_value(self) -> Decimal | None:
        """Value still available in the authorization's currency; None when unlimited."""
        if self.value_limit is None:
            return None
        return self.value_limit - self.drawn_value + self.returned_value

    def _share_of(self, batch_id: UUID, quantity: int) -> tuple[Decimal, str]:
        out = self.outstanding.get(batch_id.hex)
        held = out["quantity"] if out else 0
        if quantity <= 0 or quantity > held:
            raise InvariantViolation(
                "return-within-drawn",
                f"batch {batch_id} holds {held} unit(s) of this authorization; cannot return {quantity}",
            )
        assert out is not None
        if quantity == held:
            return out["value"], out["currency"]
        value = (out["value"] * quantity / held).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
        return value, out["currency"]

    def held_by(self, batch_id: UUID) -> int:
        out = self.outstanding.get(batch_id.hex)
        return int(out["quantity"]) if out else 0


@dataclass(frozen=True)
class AuthorizationLedger:
    """An authorization's drawdown: granted (limits), drawn, returned, remaining, and each entry.

    Values are in the authorization's currency; a draw priced in another currency (allowed only
    when there is no value limit) is listed in ``entries`` but not summed.
    """

    authorization_id: UUID
    number: str
    auth_type: str
    exception_code: str
    currency: str
    valid_from: datetime
    valid_to: datetime | None
    quantity_limit: int | None
    value_limit: Decimal | None
    drawn_quantity: int
    returned_quantity: int
    remaining_quantity: int | None
    drawn_value: Decimal
    returned_value: Decimal
    remaining_value: Decimal | None
    held_by_batch: dict[UUID, int]
    entries: list[dict[str, Any]]
