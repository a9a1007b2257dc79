"""A small registry world for compliance scenarios: parties, a site, a GPU model, a license."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from projections.compliance import ComplianceFindings
from projections.db import ACTIVE, create_readmodel_engine, ensure_bookkeeping
from projections.engine import apply_chunk, create_generation
from projections.queries import ReadModels
from registry.application import commands as c
from registry.application import compliance_commands as cc
from registry.application.service import Registry
from registry.bootstrap import build_registry
from registry.config import Settings

CSL_HEADER = (
    "_id,source,entity_number,type,programs,name,title,addresses,federal_register_notice,start_date,"
    "end_date,standard_order,license_requirement,license_policy,call_sign,vessel_type,gross_tonnage,"
    "gross_registered_tonnage,vessel_flag,vessel_owner,remarks,source_list_url,alt_names,citizenships,"
    "dates_of_birth,nationalities,places_of_birth,source_information_url,ids"
)
ENTITY_LIST = "Entity List (EL) - Bureau of Industry and Security"


def csl(*entries: tuple[str, str]) -> bytes:
    """A CSL-layout CSV with (entry id, name) rows on the Entity List."""
    rows = [CSL_HEADER]
    for entry_id, name in entries:
        cells = [""] * 29
        cells[0], cells[1], cells[5] = entry_id, ENTITY_LIST, name
        rows.append(",".join(cells))
    return ("\n".join(rows) + "\n").encode()


@dataclass
class World:
    registry: Registry
    t0: datetime
    ids: dict[str, UUID] = field(default_factory=dict)

    def __getitem__(self, name: str) -> UUID:
        return self.ids[name]

    def party(
        self,
        key: str,
        name: str,
        hq: str = "KR",
        parent: str | None = None,
        country: str = "KR",
        roles: tuple[str, ...] = ("purchaser", "consignee", "end_user"),
        immediate: str | None = None,
    ) -> UUID:
        cmd = c.parse(
            c.RegisterParty,
            {
                "name": name,
                "country": country,
                "roles": list(roles),
                "headquarters_country": hq,
                "ultimate_parent_id": self.ids[parent] if parent else None,
                "immediate_parent_id": self.ids[immediate] if immediate else None,
            },
        )
        self.ids[key] = self.registry.register_party("admin", cmd).aggregate_id
        return self.ids[key]

    def model(self, key: str, fp8_tops: str, die_area: str, datacenter: bool = True, gpus: int = 1) -> UUID:
        cmd = c.parse(
            c.RegisterGpuModel,
            {
                "vendor": "NVIDIA",
                "name": key,
                "dense_tops": {"fp8": fp8_tops},
                "bit_lengths": {"fp8": 8},
                "die_area_mm2": die_area,
                "datacenter_marketed": datacenter,
                "tdp_watts": 700,
                "gpus_per_unit": gpus,
            },
        )
        self.ids[key] = self.registry.register_gpu_model("admin", cmd).aggregate_id
        return self.ids[key]

    def authorization(
        self,
        key: str,
        *,
        auth_type: str = "license",
        number: str = "KR-2026-001",
        quantity: int | None = 100,
        value: str | None = None,
        currency: str = "USD",
        days: int = 365,
        start_days_ago: int = 30,
        end_users: tuple[str, ...] = (),
        countries: tuple[str, ...] = ("KR",),
        exception_code: str = "",
        consignees: tuple[str, ...] = (),
        intermediate_consignees: tuple[str, ...] = (),
    ) -> UUID:
        cmd = c.parse(
            c.RegisterAuthorization,
            {
                "auth_type": auth_type,
                "number": number,
                "exception_code": exception_code,
                "eccns": ["3A090", "4A090"],
                "destination_countries": list(countries),
                "end_user_ids": [self.ids[e] for e in end_users],
                "consignee_ids": [self.ids[p] for p in consignees],
                "intermediate_consignee_ids": [self.ids[p] for p in intermediate_consignees],
                "quantity_limit": quantity,
                "value_limit": value,
                "currency": currency,
                "valid_from": self.t0 - timedelta(days=start_days_ago),
                "valid_to": self.t0 - timedelta(days=start_days_ago) + timedelta(days=days),
            },
        )
        self.ids[key] = self.registry.register_authorization("admin", cmd).aggregate_id
        return self.ids[key]

    def order(
        self,
        key: str,
        quantity: int,
        *,
        model: str = "h100",
        buyer: str = "samsung",
        unit_price: str = "25000",
        currency: str = "USD",
    ) -> UUID:
        cmd = c.parse(
            c.PlaceOrder,
            {
                "po_number": key,
                "supplier_id": self.ids["nvidia"],
                "buyer_id": self.ids[buyer],
                "model_id": self.ids[model],
                "quantity": quantity,
                "unit_price": unit_price,
                "currency": currency,
            },
        )
        self.ids[key] = self.registry.place_order("admin", cmd).aggregate_id
        return self.ids[key]

    def request(
        self,
        batch: str,
        auth: str,
        *,
        eccn: str = "3A090.a",
        consignee: str = "samsung",
        end_user: str = "samsung",
        country: str = "KR",
        quantity: int | None = None,
    ) -> None:
        b = self.registry.get_batch(self.ids[batch])
        self.registry.request_clearance(
            "admin",
            c.parse(
                c.RequestClearance,
                {
                    "batch_id": b.id,
                    "authorization_id": self.ids[auth],
                    "eccn": eccn,
                    "destination_country": country,
                    "consignee_id": self.ids[consignee],
                    "end_user_id": self.ids[end_user],
                    "quantity": quantity or b.quantity,
                },
            ),
        )

    def grant(self, batch: str, auth: str, **extra: Any) -> Any:
        return self.registry.grant_clearance(
            "officer",
            c.parse(
                c.GrantClearance,
                {
                    "batch_id": self.ids[batch],
                    "authorization_id": self.ids[auth],
                    **extra,
                },
            ),
        )

    def import_list(self, *entries: tuple[str, str], source: str = "US CSL", **extra: Any) -> UUID:
        result = self.registry.import_screening_list(
            "officer", cc.ImportScreeningList(source=source, content=csl(*entries), **extra)
        )
        return result.aggregate_id

    def resolve(
        self, party: str, resolution: str, note: str = "checked the address and owners", actor: str = "carol"
    ) -> None:
        case = self.registry.screening_case(self.ids[party])
        assert case is not None
        for hit in case.blocking_hits():
            self.registry.resolve_screening_hit(
                actor,
                cc.ResolveScreeningHit(
                    party_id=self.ids[party], hit_id=hit["hit_id"], resolution=resolution, note=note
                ),
            )  # type: ignore[arg-type]


# The registry's clock stands still at t0 while the stories' facts happen over the years after it.
STORY_YEARS_AHEAD = {"max_occurred_ahead_seconds": 10 * 366 * 24 * 3600}


def make_world(url: str, t0: datetime) -> World:
    registry = build_registry(Settings(database_url=url, **STORY_YEARS_AHEAD), clock=lambda: t0)
    w = World(registry, t0)
    w.party("nvidia", "NVIDIA Corporation", hq="US", country="US", roles=("supplier", "exporter"))
    w.party("samsung", "Samsung Electronics Co., Ltd.")
    w.model("h100", "1979", "814")  # TPP 15832, PD 19.4: 3A090.a
    return w


def rebuilt_read_models(world: World, tmp_path: Path, name: str = "rm") -> ReadModels:
    """The compliance read model rebuilt from the registry's whole log, in a SQLite file of its own
    under ``tmp_path`` (``name`` tells two of them in one test apart)."""
    engine = create_readmodel_engine(f"sqlite:///{tmp_path}/{name}.db")
    ensure_bookkeeping(engine)
    projection = ComplianceFindings()
    gen = create_generation(engine, projection, ACTIVE, "test")
    apply_chunk(engine, projection, gen, world.registry.read_log(0, 100_000), world.registry.decode, "test")
    return ReadModels(engine, projections=[projection])
