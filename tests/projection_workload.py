"""Random but valid command sequences against the real Registry, and read-model checks.

``Driver.step(kind, rng)`` turns a small integer and a random generator (what hypothesis
generates) into a command that the current state allows: a new order, a correction of reference
data, or one of the next steps a random batch allows (``GpuBatch.allowed_actions``), with
quantities, serials, shipments and sites picked from the aggregate's state. A command the domain
still refuses writes nothing and is counted as refused, so every sequence is a valid history.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from projections.batch_inventory import per_serial_rows
from projections.common import STAGES, Pos
from projections.db import ACTIVE, reading
from projections.engine import Projection, dump_generation, generations
from projections.serial_runs import RUN_TABLE, expand
from registry.application import commands as c
from registry.domain.batch import GpuBatch
from registry.domain.errors import DomainError
from tests.builders import ACTOR, T0, World

KINDS = 20  # step kinds: 0 = new order, 1 = amend reference data, others = a batch's next step
WEIGHTS = {  # favour the forward path so histories reach installation, assignment and beyond
    "grant_clearance": 6, "ship": 6, "receive": 6, "install": 8, "assign": 6, "request_clearance": 4,
    "register_serials": 3, "transfer": 2, "return_for_rma": 1.5, "decommission": 1.5, "split": 1.5,
    "deny_clearance": 0.4, "revoke_clearance": 0.3, "report_lost": 0.6, "record_onward_movement": 0.5,
    "repair": 0.8, "declare_error": 0.3,
}
STEPS = {
    "correct_order": "_correct", "request_clearance": "_request", "grant_clearance": "_grant",
    "deny_clearance": "_deny", "revoke_clearance": "_revoke", "register_serials": "_serials",
    "ship": "_ship", "split": "_split", "receive": "_receive", "install": "_install",
    "assign": "_assign", "transfer": "_transfer", "return_for_rma": "_rma",
    "decommission": "_decommission", "report_lost": "_lost", "record_onward_movement": "_onward",
    "repair": "_repair", "declare_error": "_declare",
}


@dataclass
class Driver:
    world: World
    batches: list[UUID] = field(default_factory=list)
    applied: int = 0
    refused: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    _n: int = 0

    def step(self, kind: int, rng: random.Random) -> None:
        self._n += 1
        try:
            if kind % KINDS == 0 or not self.batches:
                done = self._order(rng)
            elif kind % KINDS == 1:
                done = self._amend(rng)
            else:
                b = self.world.registry.get_batch(rng.choice(self.batches))
                allowed = [a for a in b.allowed_actions() if a in STEPS]
                if allowed == ["correct_order"] and rng.random() < 0.8:
                    done = self._order(rng)  # that batch is closed: start another
                elif allowed == ["correct_order"] or rng.random() < 0.05:
                    done = self._correct(b, rng)
                else:
                    options = [a for a in allowed if a != "correct_order"] + ["declare_error"]
                    step = rng.choices(options, [WEIGHTS[a] for a in options])[0]
                    done = getattr(self, STEPS[step])(b, rng)
        except DomainError as e:
            self.refused += 1
            self.refusals[type(e).__name__ + ": " + str(e)[:60]] += 1
            return
        if done is not False:
            self.applied += 1

    # ----------------------------------------------------------------------- helpers
    def _when(self) -> str:
        return (T0 + timedelta(hours=self._n)).isoformat()

    def _do(self, use_case: str, model: type[c.Command], /, **data: Any) -> Any:
        data.setdefault("occurred_at", self._when())
        return getattr(self.world.registry, use_case)(ACTOR, c.parse(model, data))

    def _units(self, b: GpuBatch, stages: set[str], rng: random.Random) -> dict[str, Any] | None:
        """Serials (serialized batch) or a quantity of units in one of ``stages``."""
        if b.units:
            candidates = sorted(s for s, u in b.units.items() if u.stage in stages)
            if not candidates:
                return None
            return {"serials": rng.sample(candidates, rng.randint(1, len(candidates)))}
        available = sum(n for k, n in b.buckets.items() if k.split("|")[0] in stages)
        if not available:
            return None
        assert available > 0, b.buckets
        return {"quantity": rng.randint(1, available)}

    # ----------------------------------------------------------------------- actions
    def _order(self, rng: random.Random) -> bool:
        w = self.world
        buyer = rng.choice([w.samsung, w.naver])
        batch = self._do(
            "place_order", c.PlaceOrder, po_number=f"PO-{rng.randint(1, 9999)}",
            supplier_id=w.nvidia, buyer_id=buyer, model_id=w.b200, quantity=rng.randint(1, 9),
            unit_price="38500.00", currency="USD", allocation_program="deal",
        ).aggregate_id
        self.batches.append(batch)
        return True

    def _correct(self, b: GpuBatch, rng: random.Random) -> bool:
        self._do("correct_order", c.CorrectOrder, batch_id=b.id, unit_price=str(rng.randint(1, 50000)),
                 reason="price corrected")
        return True

    def _request(self, b: GpuBatch, rng: random.Random) -> bool:
        w = self.world
        self._do(
            "request_clearance", c.RequestClearance, batch_id=b.id, eccn="3A090.a",
            destination_country="KR", consignee_id=b.buyer_id, end_user_id=b.buyer_id,
            quantity=b.quantity if rng.random() < 0.8 else rng.randint(1, b.quantity), end_use="AI",
            authorization_id=w.license,
        )
        return True

    def _grant(self, b: GpuBatch, rng: random.Random) -> bool:
        if b.clearance_status != "requested":
            self._request(b, rng)
            b = self.world.registry.get_batch(b.id)
        requested = int(b.clearance.get("requested_quantity", b.quantity))
        self._do("grant_clearance", c.GrantClearance, batch_id=b.id, authorization_id=self.world.license,
                 cleared_quantity=min(requested, b.quantity))
        return True

    def _deny(self, b: GpuBatch, rng: random.Random) -> bool:
        self._do("deny_clearance", c.DenyClearance, batch_id=b.id, reason="end use unclear")
        return True

    def _revoke(self, b: GpuBatch, rng: random.Random) -> bool:
        self._do("revoke_clearance", c.RevokeClearance, batch_id=b.id, reason="licence suspended")
        return True

    def _serials(self, b: GpuBatch, rng: random.Random) -> bool:
        # Only units still pending can get serials. (The domain checks the quantity, not the
        # stage: serials for units already lost by quantity drive a bucket negative on a split;
        # reported to the core owners.)
        pending_serials = sum(1 for u in b.units.values() if u.stage == "pending")
        room = min(b.quantity - len(b.units), b.units_by_stage()["pending"] - pending_serials)
        if room <= 0:
            return False
        n = rng.randint(1, room)
        units = [{"serial": f"SN{uuid4().hex[:12].upper()}", "gpu_uuid": f"GPU-{uuid4()}"} for _ in range(n)]
        self._do("register_serials", c.RegisterSerials, batch_id=b.id, units=units)
        return True

    def _ship(self, b: GpuBatch, rng: random.Random) -> bool:
        chosen = self._units(b, {"pending"}, rng)
        if chosen is None:
            return False
        room = b.cleared_quantity - b.totals.get("shipped", 0)
        if "quantity" in chosen:
            chosen["quantity"] = max(1, min(chosen["quantity"], room))
        elif room > 0:
            chosen["serials"] = chosen["serials"][:room]
        self._do(
            "ship", c.Ship, batch_id=b.id, shipment_id=f"SHP-{uuid4().hex[:8]}",
            carrier_id=self.world.carrier, destination_country="KR",
            destination_site_id=rng.choice([self.world.site, self.world.site2]), **chosen,
        )
        return True

    def _receive(self, b: GpuBatch, rng: random.Random) -> bool:
        open_shipments = [s for s in b.shipments.values() if s.received < s.quantity]
        if not open_shipments:
            return False
        shipment = rng.choice(sorted(open_shipments, key=lambda s: s.shipment_id))
        site = rng.choice([self.world.site, self.world.site2, None])
        data: dict[str, Any] = {}
        if shipment.serials:
            in_transit = [s for s in shipment.serials if b.units[s].stage == "in_transit"]
            if not in_transit:
                return False
            data["serials"] = rng.sample(in_transit, rng.randint(1, len(in_transit)))
        else:
            data["quantity"] = rng.randint(1, shipment.quantity - shipment.received)
        self._do("receive", c.Receive, batch_id=b.id, shipment_id=shipment.shipment_id,
                 receiving_party_id=b.buyer_id, site_id=site, **data)
        return True

    def _install(self, b: GpuBatch, rng: random.Random) -> bool:
        relocate = bool(b.units) and rng.random() < 0.2
        chosen = self._units(b, {"installed", "assigned"} if relocate else {"received"}, rng)
        if chosen is None:
            return False
        self._do("install", c.Install, batch_id=b.id, site_id=rng.choice([self.world.site, self.world.site2]),
                 rack=f"R{rng.randint(1, 40)}", host=f"h{rng.randint(1, 99)}", **chosen)
        return True

    def _assign(self, b: GpuBatch, rng: random.Random) -> bool:
        chosen = self._units(b, {"installed", "assigned"}, rng)
        if chosen is None:
            return False
        self._do("assign", c.Assign, batch_id=b.id, assignee_id=rng.choice([self.world.naver, self.world.samsung]),
                 purpose="LLM training", **chosen)
        return True

    def _transfer(self, b: GpuBatch, rng: random.Random) -> bool:
        chosen = self._units(b, {"received", "installed", "assigned"}, rng)
        if chosen is None:
            return False
        self._do("transfer", c.Transfer, batch_id=b.id, to_owner_id=rng.choice([self.world.naver, self.world.samsung]),
                 to_site_id=rng.choice([self.world.site2, None]), reason="resale", **chosen)
        return True

    def _rma(self, b: GpuBatch, rng: random.Random) -> bool:
        chosen = self._units(b, {"received", "installed", "assigned"}, rng)
        if chosen is None:
            return False
        self._do("return_for_rma", c.ReturnForRma, batch_id=b.id, rma_number=f"RMA-{rng.randint(1, 999)}", **chosen)
        return True

    def _repair(self, b: GpuBatch, rng: random.Random) -> bool:
        back = self._units(b, {"rma"}, rng)
        if back is not None and rng.random() < 0.7:
            self._do("repair", c.Repair, batch_id=b.id, kind="from_rma", rma_number="RMA-1",
                     site_id=rng.choice([self.world.site, self.world.site2]), **back)
            return True
        chosen = self._units(b, {"received", "installed", "assigned"}, rng)
        if chosen is None:
            return False
        self._do("repair", c.Repair, batch_id=b.id, kind="on_site", note="fan", **chosen)
        return True

    def _declare(self, b: GpuBatch, rng: random.Random) -> bool:
        self._do("declare_error", c.DeclareError, batch_id=b.id, event_id=f"urn:uuid:{UUID(int=rng.getrandbits(128))}",
                 reason=rng.choice(["did_not_occur", "incorrect_data", ""]))
        return True

    def _lost(self, b: GpuBatch, rng: random.Random) -> bool:
        chosen = self._units(b, {"pending", "in_transit", "received", "installed", "assigned", "rma"}, rng)
        if chosen is None:
            return False
        self._do("report_lost", c.ReportLost, batch_id=b.id, kind=rng.choice(["lost", "stolen"]), **chosen)
        return True

    def _onward(self, b: GpuBatch, rng: random.Random) -> bool:
        chosen = self._units(b, {"in_transit", "received", "installed", "assigned", "rma", "lost", "decommissioned"}, rng)
        if chosen is None:
            return False
        kind = rng.choice(["reexport", "transshipment", "diversion"])
        self._do("record_onward_movement", c.RecordOnwardMovement, batch_id=b.id, kind=kind,
                 country=rng.choice(["SG", "AE", "MY"]), place="port", **chosen)
        return True

    def _decommission(self, b: GpuBatch, rng: random.Random) -> bool:
        chosen = self._units(b, {"received", "installed", "assigned", "rma"}, rng)
        if chosen is None:
            return False
        self._do("decommission", c.Decommission, batch_id=b.id, method="shredded", **chosen)
        return True

    def _split(self, b: GpuBatch, rng: random.Random) -> bool:
        chosen = self._units(b, {"pending"}, rng)
        if chosen is None or b.quantity < 2:
            return False
        if "quantity" in chosen:
            chosen["quantity"] = min(chosen["quantity"], b.quantity - 1)
        else:
            chosen["serials"] = chosen["serials"][: b.quantity - 1]
        child = self._do("split_batch", c.SplitBatch, batch_id=b.id, **chosen).aggregate_id
        self.batches.append(child)
        return True

    def _amend(self, rng: random.Random) -> bool:
        w = self.world
        kind = rng.choice(["site", "gpu_model", "party"])
        if kind == "site":
            target, fields = rng.choice([w.site, w.site2]), {"power_capacity_kw": str(rng.randint(1, 90000))}
        elif kind == "gpu_model":
            target, fields = w.b200, {"dense_tops": {"fp8": str(rng.randint(1000, 9000)), "fp16": "2250"},
                                      "gpus_per_unit": rng.choice([1, 8])}
        else:
            target, fields = rng.choice([w.samsung, w.naver]), {"name": f"Partner {rng.randint(1, 99)}"}
        self._do("amend_reference", c.AmendReference, kind=kind, target_id=target, fields=fields,
                 reason="corrected")
        return True


# ------------------------------------------------------------------------------ checks
def active_generation_number(engine: Any, projection: Projection) -> int:
    with reading(engine) as conn:
        active = [g for g in generations(conn, projection.name) if g.status == ACTIVE]
    assert active, f"{projection.name} has no active generation"
    return active[0].generation


def dump_active(engine: Any, projection: Projection) -> dict[str, list[dict[str, Any]]]:
    return dump_generation(engine, projection, active_generation_number(engine, projection))


def per_serial_view(name: str, dump: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """A projection's dump with its serial runs expanded to the per-serial ``serial`` table it kept
    before the runs (issue #18): one row per serial with its state, sorted by serial."""
    if name == "batch_inventory":
        out = {k: v for k, v in dump.items() if k != RUN_TABLE}
        out["serial"] = per_serial_rows(dump)
        return out
    if name == "compliance":
        out = {k: v for k, v in dump.items() if k != RUN_TABLE}
        out["serial"] = expand(dump[RUN_TABLE])
        return out
    return dump


def expected_from_aggregates(world: World, batches: list[UUID]) -> dict[str, Any]:
    """What the read models must say, computed from the aggregates themselves."""
    registry = world.registry
    holdings: Counter[tuple[UUID, str]] = Counter()
    site_units: Counter[tuple[UUID, str]] = Counter()
    per_batch: dict[UUID, dict[str, Any]] = {}
    serials: dict[str, tuple[Any, ...]] = {}
    for batch_id in batches:
        b = registry.get_batch(batch_id)
        per_batch[batch_id] = {
            "stage": b.stage, "quantity": b.quantity, "version": b.version,
            **{f"units_{s}": n for s, n in b.units_by_stage().items()},
        }
        for key, n in b.buckets.items():
            p = Pos.parse(key)
            if p.stage not in STAGES or not n:
                continue
            holdings[(UUID(p.owner), p.stage)] += n
            if p.site:
                site_units[(UUID(p.site), p.stage)] += n
        for s, u in b.units.items():
            serials[s] = (batch_id, u.stage, u.site, u.owner, u.assignee, u.shipment_id, u.rack, u.host)
    return {"batches": per_batch, "holdings": +holdings, "site_units": +site_units, "serials": serials}


def actual_from_dumps(dumps: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    inventory = dumps["batch_inventory"]
    per_batch = {
        r["batch_id"]: {
            "stage": r["stage"], "quantity": r["quantity"], "version": r["version"],
            **{f"units_{s}": r[f"units_{s}"] for s in STAGES},
        }
        for r in inventory["batch"]
    }
    holdings: Counter[tuple[UUID, str]] = Counter()
    for r in dumps["ownership"]["holding"]:
        holdings[(r["partner_id"], r["stage"])] += r["units"]
    site_units: Counter[tuple[UUID, str]] = Counter()
    for r in dumps["site_inventory"]["site_units"]:
        site_units[(r["site_id"], r["stage"])] += r["units"]
    serials = {
        r["serial"]: (r["batch_id"], r["stage"], r["site"], r["owner"], r["assignee"], r["shipment_id"],
                      r["rack"], r["host"])
        for r in per_serial_rows(inventory)
    }
    return {"batches": per_batch, "holdings": +holdings, "site_units": +site_units, "serials": serials}
