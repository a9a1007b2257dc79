"""Reference aggregates the batch lifecycle needs: parties, sites, GPU models, authorizations.

They hold data, not workflow. A correction is an ``Amended`` event, never an edit. Richer
export-control rules (classification, screening) build on this data elsewhere; the one piece of
workflow here is an authorization's drawdown ledger (``Drawn`` / ``Returned``), which must live on
the authorization so that two clearances drawing on it at once cannot both take the last units
(its state and arithmetic: ``registry/domain/authorization_ledger.py``; the code lists: party
roles, authorization types, country codes: ``registry/domain/reference_codes.py``).

One concept: the four reference aggregates and their events; they stay in this one module because
an event's stored topic is its class's module and name (``registry.domain.reference:Party.Registered``),
which the log, the projections' handlers and the topic filters match, so moving a class would
orphan its stored events.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from registry.domain.authorization_ledger import AuthorizationLedger, DrawdownLedger
from registry.domain.base import Amendable, Context, RegistryAggregate
from registry.domain.errors import InvalidField
from registry.domain.reference_codes import (
    AddressType,
    AuthorizationType,
    ForwarderStanding,
    OnlinePresence,
    PartyRole,
    country_code,
    needs_number,
    optional_code,
)


class Party(Amendable):
    """A company or agency: supplier, purchaser, consignee, end user, carrier, operator.

    Ownership, for the headquarters rule (15 CFR 742.6(a)(6)(iii)): ``headquarters_country`` is
    where THIS party is headquartered; ``immediate_parent_id`` names its direct owner;
    ``ultimate_parent_id`` names its ultimate parent when known (else the top of the chain of
    immediate parents is taken as the ultimate parent). The rule looks at the party's own
    headquarters and its ultimate parent's; owners in between are shown for review.

    Diversion red-flag facts (BIS guidance of 13 May 2025), each optional ("" = not known, which
    raises no flag): ``address_type`` (commercial, residential, vague), ``online_presence``
    (established, little) and, for a freight forwarder, ``forwarder_standing`` (usual, unusual).
    The compliance projection raises a red-flag finding from them (docs/compliance.md).

    Event evolution: version 1 of ``Registered`` and ``Amended`` had only ``ultimate_parent_id``,
    which the registry followed link by link as the direct owner; the upcasters move it to
    ``immediate_parent_id``, so a stored chain is walked as before. Version 3 of ``Registered``
    added the red-flag facts; a stored version 2 loads with them unknown ("").
    """

    AMENDABLE = frozenset(
        {"name", "country", "roles", "immediate_parent_id", "ultimate_parent_id", "headquarters_country", "address",
         "address_type", "online_presence", "forwarder_standing"}
    )

    class Registered(RegistryAggregate.Created):
        class_version = 3
        name: str
        country: str
        roles: list[str]
        headquarters_country: str
        immediate_parent_id: UUID | None
        ultimate_parent_id: UUID | None
        address: str
        address_type: str
        online_presence: str
        forwarder_standing: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["immediate_parent_id"] = state.get("ultimate_parent_id")
            state["ultimate_parent_id"] = None

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["address_type"] = ""
            state["online_presence"] = ""
            state["forwarder_standing"] = ""

        def apply(self, aggregate: Any) -> None:
            aggregate.name = self.name
            aggregate.country = self.country
            aggregate.roles = list(self.roles)
            aggregate.headquarters_country = self.headquarters_country
            aggregate.immediate_parent_id = self.immediate_parent_id
            aggregate.ultimate_parent_id = self.ultimate_parent_id
            aggregate.address = self.address
            aggregate.address_type = self.address_type
            aggregate.online_presence = self.online_presence
            aggregate.forwarder_standing = self.forwarder_standing

    class Amended(Amendable.Amended):
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            fields = dict(state["fields"])
            if "ultimate_parent_id" in fields:
                fields["immediate_parent_id"] = fields.pop("ultimate_parent_id")
            state["fields"] = fields

    if TYPE_CHECKING:
        name: str
        country: str
        roles: list[str]
        headquarters_country: str
        immediate_parent_id: UUID | None
        ultimate_parent_id: UUID | None
        address: str
        address_type: str
        online_presence: str
        forwarder_standing: str

    @classmethod
    def register(
        cls,
        ctx: Context,
        party_id: UUID,
        name: str,
        country: str,
        roles: list[str],
        headquarters_country: str,
        ultimate_parent_id: UUID | None = None,
        address: str = "",
        immediate_parent_id: UUID | None = None,
        address_type: str = "",
        online_presence: str = "",
        forwarder_standing: str = "",
    ) -> Party:
        if not name.strip():
            raise InvalidField.one("name", "must not be empty")
        bad = [r for r in roles if r not in PartyRole.__members__.values()]
        if bad or not roles:
            raise InvalidField.one(
                "roles", f"at least one of {[r.value for r in PartyRole]}; unknown: {bad}"
            )
        if ultimate_parent_id == party_id:
            ultimate_parent_id = None  # a party that is its own ultimate parent
        if immediate_parent_id == party_id:
            raise InvalidField.one("immediate_parent_id", "a party cannot be its own parent")
        return cls._create(
            cls.Registered,
            id=party_id,
            name=name.strip(),
            country=country_code("country", country),
            roles=sorted(set(roles)),
            headquarters_country=country_code("headquarters_country", headquarters_country),
            immediate_parent_id=immediate_parent_id,
            ultimate_parent_id=ultimate_parent_id,
            address=address,
            address_type=optional_code("address_type", address_type, AddressType),
            online_presence=optional_code("online_presence", online_presence, OnlinePresence),
            forwarder_standing=optional_code("forwarder_standing", forwarder_standing, ForwarderStanding),
            **ctx.event_kwargs(),
        )


class Site(Amendable):
    """A data center: its operator, country, address and power capacity in kW."""

    AMENDABLE = frozenset({"name", "operator_id", "country", "address", "power_capacity_kw"})

    class Registered(RegistryAggregate.Created):
        name: str
        operator_id: UUID
        country: str
        address: str
        power_capacity_kw: Decimal

        def apply(self, aggregate: Any) -> None:
            aggregate.name = self.name
            aggregate.operator_id = self.operator_id
            aggregate.country = self.country
            aggregate.address = self.address
            aggregate.power_capacity_kw = self.power_capacity_kw

    if TYPE_CHECKING:
        name: str
        operator_id: UUID
        country: str
        address: str
        power_capacity_kw: Decimal

    @classmethod
    def register(
        cls,
        ctx: Context,
        site_id: UUID,
        name: str,
        operator_id: UUID,
        country: str,
        address: str,
        power_capacity_kw: Decimal,
    ) -> Site:
        if not name.strip():
            raise InvalidField.one("name", "must not be empty")
        if power_capacity_kw < 0:
            raise InvalidField.one("power_capacity_kw", "must be >= 0")
        return cls._create(
            cls.Registered,
            id=site_id,
            name=name.strip(),
            operator_id=operator_id,
            country=country_code("country", country),
            address=address,
            power_capacity_kw=power_capacity_kw,
            **ctx.event_kwargs(),
        )


class GpuModel(Amendable):
    """A GPU (or a system containing GPUs) as declared by its vendor.

    ``dense_tops`` maps a precision name (``fp8``, ``fp16``, ``int8``, ``tf32``, ``fp32``, ``fp64``)
    to dense (non-sparse) tera-operations per second; ``bit_lengths`` gives each precision's bit
    length. Classification (TPP, performance density) is computed from these, not stored here.
    ``gpus_per_unit`` is 1 for a chip, 8 for an HGX server, 72 for an NVL72 rack.
    """

    AMENDABLE = frozenset(
        {
            "name",
            "dense_tops",
            "bit_lengths",
            "die_area_mm2",
            "datacenter_marketed",
            "tdp_watts",
            "gpus_per_unit",
            "part_number",
        }
    )

    class Registered(RegistryAggregate.Created):
        vendor: str
        name: str
        part_number: str
        dense_tops: dict[str, Decimal]
        bit_lengths: dict[str, int]
        die_area_mm2: Decimal
        datacenter_marketed: bool
        tdp_watts: int
        gpus_per_unit: int

        def apply(self, aggregate: Any) -> None:
            aggregate.vendor = self.vendor
            aggregate.name = self.name
            aggregate.part_number = self.part_number
            aggregate.dense_tops = dict(self.dense_tops)
            aggregate.bit_lengths = dict(self.bit_lengths)
            aggregate.die_area_mm2 = self.die_area_mm2
            aggregate.datacenter_marketed = self.datacenter_marketed
            aggregate.tdp_watts = self.tdp_watts
            aggregate.gpus_per_unit = self.gpus_per_unit

    if TYPE_CHECKING:
        vendor: str
        name: str
        part_number: str
        dense_tops: dict[str, Decimal]
        bit_lengths: dict[str, int]
        die_area_mm2: Decimal
        datacenter_marketed: bool
        tdp_watts: int
        gpus_per_unit: int

    @classmethod
    def register(
        cls,
        ctx: Context,
        model_id: UUID,
        vendor: str,
        name: str,
        dense_tops: dict[str, Decimal],
        bit_lengths: dict[str, int],
        die_area_mm2: Decimal,
        datacenter_marketed: bool,
        tdp_watts: int,
        gpus_per_unit: int = 1,
        part_number: str = "",
    ) -> GpuModel:
        violations: list[tuple[str, str]] = []
        if not vendor.strip():
            violations.append(("vendor", "must not be empty"))
        if not name.strip():
            violations.append(("name", "must not be empty"))
        for precision, tops in dense_tops.items():
            if tops < 0:
                violations.append((f"dense_tops.{precision}", "must be >= 0"))
            if precision not in bit_lengths:
                violations.append((f"bit_lengths.{precision}", "each precision needs a bit length"))
        for precision, bits in bit_lengths.items():
            if bits <= 0:
                violations.append((f"bit_lengths.{precision}", "must be > 0"))
        if die_area_mm2 < 0:
            violations.append(("die_area_mm2", "must be >= 0"))
        if tdp_watts < 0:
            violations.append(("tdp_watts", "must be >= 0"))
        if gpus_per_unit < 1:
            violations.append(("gpus_per_unit", "must be >= 1"))
        if violations:
            raise InvalidField(violations)
        return cls._create(
            cls.Registered,
            id=model_id,
            vendor=vendor.strip(),
            name=name.strip(),
            part_number=part_number,
            dense_tops=dict(dense_tops),
            bit_lengths=dict(bit_lengths),
            die_area_mm2=die_area_mm2,
            datacenter_marketed=datacenter_marketed,
            tdp_watts=tdp_watts,
            gpus_per_unit=gpus_per_unit,
            **ctx.event_kwargs(),
        )


class ExportAuthorization(DrawdownLedger, Amendable):
    """A license, a license exception (NAC, ACA, ...) or a no-license-required determination.

    Quantity and value limits are ``None`` when unlimited (typical for NLR).
    """

    AMENDABLE = frozenset(
        {
            "eccns",
            "destination_countries",
            "consignee_ids",
            "intermediate_consignee_ids",
            "end_user_ids",
            "quantity_limit",
            "value_limit",
            "valid_from",
            "valid_to",
        }
    )

    class Registered(RegistryAggregate.Created):
        """Version 2 added ``intermediate_consignee_ids`` (the intermediate consignees a license
        names apart from its ultimate consignees); a stored version 1 loads with none."""

        class_version = 2
        auth_type: str
        number: str
        exception_code: str
        eccns: list[str]
        destination_countries: list[str]
        consignee_ids: list[UUID]
        intermediate_consignee_ids: list[UUID]
        end_user_ids: list[UUID]
        quantity_limit: int | None
        value_limit: Decimal | None
        currency: str
        valid_from: datetime
        valid_to: datetime | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["intermediate_consignee_ids"] = []

        def apply(self, aggregate: Any) -> None:
            aggregate.auth_type = self.auth_type
            aggregate.number = self.number
            aggregate.exception_code = self.exception_code
            aggregate.eccns = list(self.eccns)
            aggregate.destination_countries = list(self.destination_countries)
            aggregate.consignee_ids = list(self.consignee_ids)
            aggregate.intermediate_consignee_ids = list(self.intermediate_consignee_ids)
            aggregate.end_user_ids = list(self.end_user_ids)
            aggregate.quantity_limit = self.quantity_limit
            aggregate.value_limit = self.value_limit
            aggregate.currency = self.currency
            aggregate.valid_from = self.valid_from
            aggregate.valid_to = self.valid_to
            aggregate._init_ledger()

    class Drawn(RegistryAggregate.Event):
        """Units (and their value) taken from the authorization for a batch's clearance.

        ``moved_from`` names the batch the draw came from when a split moved it to a child batch.
        """

        batch_id: UUID
        quantity: int
        value: Decimal
        currency: str
        reason: str
        moved_from: UUID | None

        def apply(self, aggregate: Any) -> None:
            aggregate._post(self, +1, self.moved_from)

    class Returned(RegistryAggregate.Event):
        """Units given back: the clearance was revoked, or a split moved them to a child batch
        (``moved_to``)."""

        batch_id: UUID
        quantity: int
        value: Decimal
        currency: str
        reason: str
        moved_to: UUID | None

        def apply(self, aggregate: Any) -> None:
            aggregate._post(self, -1, self.moved_to)

    if TYPE_CHECKING:
        auth_type: str
        number: str
        exception_code: str
        eccns: list[str]
        destination_countries: list[str]
        consignee_ids: list[UUID]
        intermediate_consignee_ids: list[UUID]
        end_user_ids: list[UUID]
        quantity_limit: int | None
        value_limit: Decimal | None
        currency: str
        valid_from: datetime
        valid_to: datetime | None

    @classmethod
    def register(
        cls,
        ctx: Context,
        authorization_id: UUID,
        auth_type: str,
        number: str,
        eccns: list[str],
        destination_countries: list[str],
        consignee_ids: list[UUID],
        end_user_ids: list[UUID],
        valid_from: datetime,
        valid_to: datetime | None = None,
        quantity_limit: int | None = None,
        value_limit: Decimal | None = None,
        currency: str = "USD",
        exception_code: str = "",
        intermediate_consignee_ids: list[UUID] | None = None,
    ) -> ExportAuthorization:
        """``consignee_ids`` are the ultimate consignees the authorization names,
        ``intermediate_consignee_ids`` the intermediate consignees (a license names them apart)."""
        violations: list[tuple[str, str]] = []
        intermediates = list(intermediate_consignee_ids or ())
        for i, p in enumerate(intermediates):
            if p in intermediates[:i]:
                violations.append((f"intermediate_consignee_ids[{i}]", "names a party already named"))
        if auth_type not in AuthorizationType.__members__.values():
            violations.append(("auth_type", f"one of {[t.value for t in AuthorizationType]}"))
        if auth_type == AuthorizationType.LICENSE_EXCEPTION and not exception_code:
            violations.append(("exception_code", "a license exception names its code, e.g. NAC"))
        if needs_number(auth_type, exception_code) and not number.strip():
            violations.append(("number", "licenses and notified license exceptions (NAC) carry a number"))
        if not destination_countries:
            violations.append(("destination_countries", "at least one country"))
        for i, c in enumerate(destination_countries):
            try:
                country_code(f"destination_countries[{i}]", c)
            except InvalidField as e:
                violations.extend(e.violations)
        if quantity_limit is not None and quantity_limit < 0:
            violations.append(("quantity_limit", "must be >= 0"))
        if value_limit is not None and value_limit < 0:
            violations.append(("value_limit", "must be >= 0"))
        if valid_to is not None and valid_to <= valid_from:
            violations.append(("valid_to", "must be after valid_from"))
        if violations:
            raise InvalidField(violations)
        return cls._create(
            cls.Registered,
            id=authorization_id,
            auth_type=auth_type,
            number=number.strip(),
            exception_code=exception_code,
            eccns=list(eccns),
            destination_countries=list(destination_countries),
            consignee_ids=list(consignee_ids),
            intermediate_consignee_ids=intermediates,
            end_user_ids=list(end_user_ids),
            quantity_limit=quantity_limit,
            value_limit=value_limit,
            currency=currency,
            valid_from=valid_from,
            valid_to=valid_to,
            **ctx.event_kwargs(),
        )

    def is_valid_at(self, when: datetime) -> bool:
        return self.valid_from <= when and (self.valid_to is None or when < self.valid_to)

    def draw(
        self,
        ctx: Context,
        batch_id: UUID,
        quantity: int,
        unit_price: Decimal,
        currency: str,
        reason: str = "clearance granted",
    ) -> None:
        """Take ``quantity`` units worth ``quantity x unit_price`` for a batch, or refuse.

        Refusals name the rule: ``authorization-currency`` (a value-limited authorization and a
        batch priced in another currency), ``authorization-quantity``, ``authorization-value``.
        Drawing to exactly zero remaining is allowed.
        """
        if quantity <= 0:
            raise InvalidField.one("quantity", "a draw takes at least one unit")
        from registry.domain.policy import AuthorizationTerms, draw_problems, refuse_first

        value = quantity * unit_price
        refuse_first(draw_problems(
            AuthorizationTerms.of(self), self.remaining_quantity, self.remaining_value, quantity, unit_price, currency
        ))
        self.trigger_event(
            self.Drawn, batch_id=batch_id, quantity=quantity, value=value, currency=currency,
            reason=reason, moved_from=None, **ctx.event_kwargs(),
        )

    def give_back(self, ctx: Context, batch_id: UUID, quantity: int, reason: str) -> None:
        """Return units a batch drew and will not use (its clearance was revoked)."""
        value, currency = self._share_of(batch_id, quantity)
        self.trigger_event(
            self.Returned, batch_id=batch_id, quantity=quantity, value=value, currency=currency,
            reason=reason, moved_to=None, **ctx.event_kwargs(),
        )

    def move_draw(self, ctx: Context, from_batch: UUID, to_batch: UUID, quantity: int, reason: str) -> None:
        """A split moved cleared units to a child batch: return them from the parent and draw them
        for the child (net zero, so no limit is checked again)."""
        value, currency = self._share_of(from_batch, quantity)
        self.trigger_event(
            self.Returned, batch_id=from_batch, quantity=quantity, value=value, currency=currency,
            reason=reason, moved_to=to_batch, **ctx.event_kwargs(),
        )
        self.trigger_event(
            self.Drawn, batch_id=to_batch, quantity=quantity, value=value, currency=currency,
            reason=reason, moved_from=from_batch, **ctx.event_kwargs(),
        )

    def ledger_view(self) -> AuthorizationLedger:
        return AuthorizationLedger(
            authorization_id=self.id,
            number=self.number,
            auth_type=self.auth_type,
            exception_code=self.exception_code,
            currency=self.currency,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            quantity_limit=self.quantity_limit,
            value_limit=self.value_limit,
            drawn_quantity=self.drawn_quantity,
            returned_quantity=self.returned_quantity,
            remaining_quantity=self.remaining_quantity,
            drawn_value=self.drawn_value,
            returned_value=self.returned_value,
            remaining_value=self.remaining_value,
            held_by_batch={UUID(k): int(v["quantity"]) for k, v in sorted(self.outstanding.items())},
            entries=[dict(e) for e in self.ledger],
        )
