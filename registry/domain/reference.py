"""Reference aggregates the batch lifecycle needs: parties, sites, GPU models, authorizations.

They hold data, not workflow. A correction is an ``Amended`` event, never an edit. Richer
export-control rules (classification, drawdown, screening) build on this data elsewhere.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from registry.domain.base import Amendable, Context, RegistryAggregate
from registry.domain.errors import InvalidField


class PartyRole(StrEnum):
    SUPPLIER = "supplier"
    PURCHASER = "purchaser"
    CONSIGNEE = "consignee"
    END_USER = "end_user"
    CARRIER = "carrier"
    OPERATOR = "operator"
    EXPORTER = "exporter"
    FORWARDER = "forwarder"


class AuthorizationType(StrEnum):
    LICENSE = "license"
    LICENSE_EXCEPTION = "license_exception"
    NO_LICENSE_REQUIRED = "no_license_required"


def _country(field: str, code: str) -> str:
    if len(code) != 2 or not code.isalpha() or not code.isupper():
        raise InvalidField.one(field, "must be an ISO 3166-1 alpha-2 code in upper case, like KR")
    return code


class Party(Amendable):
    """A company or agency: supplier, purchaser, consignee, end user, carrier, operator.

    ``ultimate_parent_id`` and ``headquarters_country`` feed the headquarters rule: a party
    whose ultimate parent is headquartered in a D:5 country or Macau needs a license anywhere.
    """

    AMENDABLE = frozenset(
        {"name", "country", "roles", "ultimate_parent_id", "headquarters_country", "address"}
    )

    class Registered(RegistryAggregate.Created):
        name: str
        country: str
        roles: list[str]
        headquarters_country: str
        ultimate_parent_id: UUID | None
        address: str

        def apply(self, aggregate: Any) -> None:
            aggregate.name = self.name
            aggregate.country = self.country
            aggregate.roles = list(self.roles)
            aggregate.headquarters_country = self.headquarters_country
            aggregate.ultimate_parent_id = self.ultimate_parent_id
            aggregate.address = self.address

    if TYPE_CHECKING:
        name: str
        country: str
        roles: list[str]
        headquarters_country: str
        ultimate_parent_id: UUID | None
        address: str

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
        return cls._create(
            cls.Registered,
            id=party_id,
            name=name.strip(),
            country=_country("country", country),
            roles=sorted(set(roles)),
            headquarters_country=_country("headquarters_country", headquarters_country),
            ultimate_parent_id=ultimate_parent_id,
            address=address,
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
            country=_country("country", country),
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


class ExportAuthorization(Amendable):
    """A license, a license exception (NAC, ACA, ...) or a no-license-required determination.

    Quantity and value limits are ``None`` when unlimited (typical for NLR).
    """

    AMENDABLE = frozenset(
        {
            "eccns",
            "destination_countries",
            "consignee_ids",
            "end_user_ids",
            "quantity_limit",
            "value_limit",
            "valid_from",
            "valid_to",
        }
    )

    class Registered(RegistryAggregate.Created):
        auth_type: str
        number: str
        exception_code: str
        eccns: list[str]
        destination_countries: list[str]
        consignee_ids: list[UUID]
        end_user_ids: list[UUID]
        quantity_limit: int | None
        value_limit: Decimal | None
        currency: str
        valid_from: datetime
        valid_to: datetime | None

        def apply(self, aggregate: Any) -> None:
            aggregate.auth_type = self.auth_type
            aggregate.number = self.number
            aggregate.exception_code = self.exception_code
            aggregate.eccns = list(self.eccns)
            aggregate.destination_countries = list(self.destination_countries)
            aggregate.consignee_ids = list(self.consignee_ids)
            aggregate.end_user_ids = list(self.end_user_ids)
            aggregate.quantity_limit = self.quantity_limit
            aggregate.value_limit = self.value_limit
            aggregate.currency = self.currency
            aggregate.valid_from = self.valid_from
            aggregate.valid_to = self.valid_to

    if TYPE_CHECKING:
        auth_type: str
        number: str
        exception_code: str
        eccns: list[str]
        destination_countries: list[str]
        consignee_ids: list[UUID]
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
    ) -> ExportAuthorization:
        violations: list[tuple[str, str]] = []
        if auth_type not in AuthorizationType.__members__.values():
            violations.append(("auth_type", f"one of {[t.value for t in AuthorizationType]}"))
        if auth_type == AuthorizationType.LICENSE_EXCEPTION and not exception_code:
            violations.append(("exception_code", "a license exception names its code, e.g. NAC"))
        if auth_type != AuthorizationType.NO_LICENSE_REQUIRED and not number.strip():
            violations.append(("number", "licenses and notified exceptions carry a number"))
        if not destination_countries:
            violations.append(("destination_countries", "at least one country"))
        for i, c in enumerate(destination_countries):
            try:
                _country(f"destination_countries[{i}]", c)
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
