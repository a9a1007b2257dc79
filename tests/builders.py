"""Test data builders: a small world of parties, a site, a GPU model and an authorization."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from registry.application import commands as c
from registry.application.results import CommandResult
from registry.application.service import Registry

ACTOR = "tester@ministry"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class World:
    registry: Registry
    nvidia: UUID
    samsung: UUID
    naver: UUID
    carrier: UUID
    site: UUID
    site2: UUID
    b200: UUID
    license: UUID

    def do(self, method: str, model: type[c.Command], **data: Any) -> CommandResult:
        """Parse a command like an interface would, then run it."""
        cmd = c.parse(model, data)
        return getattr(self.registry, method)(ACTOR, cmd)

    def order(self, quantity: int = 72, **extra: Any) -> UUID:
        data: dict[str, Any] = dict(
            po_number="PO-2026-0001",
            supplier_id=self.nvidia,
            buyer_id=self.samsung,
            model_id=self.b200,
            quantity=quantity,
            unit_price="38500.00",
            currency="USD",
            allocation_program="samsung-ai-factory",
            occurred_at=T0,
        )
        data.update(extra)
        return self.do("place_order", c.PlaceOrder, **data).aggregate_id

    def clear(self, batch: UUID, quantity: int = 72) -> CommandResult:
        self.do(
            "request_clearance",
            c.RequestClearance,
            batch_id=batch,
            eccn="3A090.a",
            destination_country="KR",
            consignee_id=self.samsung,
            end_user_id=self.samsung,
            quantity=quantity,
            end_use="AI factory for semiconductor design",
            authorization_id=self.license,
            occurred_at=T0 + timedelta(days=1),
        )
        return self.do(
            "grant_clearance",
            c.GrantClearance,
            batch_id=batch,
            authorization_id=self.license,
            occurred_at=T0 + timedelta(days=2),
        )

    def serials(self, batch: UUID, n: int = 72, prefix: str = "1652") -> list[str]:
        serials = [f"{prefix}{batch.hex[:6].upper()}{i:05d}" for i in range(n)]
        self.do(
            "register_serials",
            c.RegisterSerials,
            batch_id=batch,
            units=[{"serial": s, "gpu_uuid": f"GPU-{batch.hex[:8]}-{i:04d}"} for i, s in enumerate(serials)],
            occurred_at=T0 + timedelta(days=3),
        )
        return serials

    def ship(self, batch: UUID, shipment: str = "SHP-1", **extra: Any) -> CommandResult:
        data: dict[str, Any] = dict(
            batch_id=batch,
            shipment_id=shipment,
            carrier_id=self.carrier,
            origin="Santa Clara, US",
            destination_country="KR",
            destination_site_id=self.site,
            itn="X20260305123456",
            occurred_at=T0 + timedelta(days=4),
        )
        data.update(extra)
        return self.do("ship", c.Ship, **data)


def make_world(registry: Registry) -> World:
    def party(name: str, country: str, roles: list[str], hq: str | None = None) -> UUID:
        return registry.register_party(
            ACTOR,
            c.parse(
                c.RegisterParty,
                dict(
                    name=name,
                    country=country,
                    roles=roles,
                    headquarters_country=hq or country,
                    occurred_at=T0,
                ),
            ),
        ).aggregate_id

    nvidia = party("NVIDIA Corporation", "US", ["supplier", "exporter"])
    samsung = party("Samsung Electronics", "KR", ["purchaser", "consignee", "end_user", "operator"])
    naver = party("NAVER Cloud", "KR", ["purchaser", "consignee", "end_user", "operator"])
    carrier = party("Korean Air Cargo", "KR", ["carrier"])
    site = registry.register_site(
        ACTOR,
        c.parse(
            c.RegisterSite,
            dict(
                name="Samsung Pyeongtaek AI Factory",
                operator_id=samsung,
                country="KR",
                address="Pyeongtaek, Gyeonggi",
                power_capacity_kw="20000",
                occurred_at=T0,
            ),
        ),
    ).aggregate_id
    site2 = registry.register_site(
        ACTOR,
        c.parse(
            c.RegisterSite,
            dict(
                name="NAVER Gak Sejong",
                operator_id=naver,
                country="KR",
                address="Sejong",
                power_capacity_kw="40000",
                occurred_at=T0,
            ),
        ),
    ).aggregate_id
    b200 = registry.register_gpu_model(
        ACTOR,
        c.parse(
            c.RegisterGpuModel,
            dict(
                vendor="NVIDIA",
                name="B200",
                dense_tops={"fp8": "4500", "fp16": "2250"},
                bit_lengths={"fp8": 8, "fp16": 16},
                die_area_mm2="1600",
                datacenter_marketed=True,
                tdp_watts=1000,
                occurred_at=T0,
            ),
        ),
    ).aggregate_id
    lic = registry.register_authorization(
        ACTOR,
        c.parse(
            c.RegisterAuthorization,
            dict(
                auth_type="no_license_required",
                number="NLR-KR-3A090",
                eccns=["3A090"],
                destination_countries=["KR"],
                valid_from=T0 - timedelta(days=30),
                valid_to=T0 + timedelta(days=3650),
                occurred_at=T0,
            ),
        ),
    ).aggregate_id
    return World(registry, nvidia, samsung, naver, carrier, site, site2, b200, lic)
