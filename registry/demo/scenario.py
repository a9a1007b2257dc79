"""The Korea deployment as a plan of commands.

The plan is data: a list of :class:`Step` (use case name, payload, business time), produced from a
seed, so the same seed and scale always give the same registry. Loaders send it through the gRPC
API (as a partner's system would) or straight into the application (tests).

Figures are public, approximate, and data a user can correct (see
shared/reference/export-controls.md): allocations from press coverage of 31 Oct 2025; throughput
per GPU from datasheets (dense FP8; est. where marked there).

Delivery shapes follow how GPUs really arrive: GB200 in NVL72 racks of 72, B200 / H200 / RTX PRO
6000 in 8-GPU servers. A batch is one purchase-order line of a few racks or a few dozen servers.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

DEMO_ACTOR = "demo-loader"
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
END = datetime(2030, 12, 15, 9, 0, tzinfo=UTC)


def demo_id(seed: int, name: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"urn:gpureg:demo:{seed}:{name}")


@dataclass(frozen=True)
class Step:
    """One command of the plan: the use case (Registry method name), its payload, and a label."""

    method: str
    payload: dict[str, Any]
    label: str = ""
    group: str = ""  # steps of one group run in order (one batch's life); groups may interleave


@dataclass(frozen=True)
class Anomaly:
    """A planted problem the compliance projection must find exactly once."""

    kind: str
    batch_id: UUID
    detail: str
    serials: tuple[str, ...] = ()


@dataclass
class Scenario:
    seed: int
    scale: float
    reference: list[Step] = field(default_factory=list)
    batches: list[Step] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    allocations: dict[str, int] = field(default_factory=dict)
    gpu_count: int = 0
    serial_count: int = 0

    def steps(self) -> Iterator[Step]:
        yield from self.reference
        yield from self.batches

    @property
    def batch_count(self) -> int:
        return sum(1 for st in self.batches if st.method == "place_order")

    def __len__(self) -> int:
        return len(self.reference) + len(self.batches)


# ------------------------------------------------------------------------------ reference data
PARTIES: list[dict[str, Any]] = [
    # key, name, country, roles, HQ country, ultimate parent key
    {"key": "nvidia", "name": "NVIDIA Corporation", "country": "US", "roles": ["supplier", "exporter"], "hq": "US"},
    {"key": "msit", "name": "Ministry of Science and ICT", "country": "KR", "roles": ["purchaser"], "hq": "KR"},
    {"key": "naicc", "name": "National AI Computing Center", "country": "KR",
     "roles": ["purchaser", "consignee", "end_user", "operator"], "hq": "KR", "parent": "msit"},
    {"key": "samsung", "name": "Samsung Electronics Co., Ltd.", "country": "KR",
     "roles": ["purchaser", "consignee", "end_user", "operator"], "hq": "KR"},
    {"key": "sk", "name": "SK Inc.", "country": "KR", "roles": ["purchaser"], "hq": "KR"},
    {"key": "skt", "name": "SK Telecom Co., Ltd.", "country": "KR",
     "roles": ["purchaser", "consignee", "end_user", "operator"], "hq": "KR", "parent": "sk"},
    {"key": "skhynix", "name": "SK hynix Inc.", "country": "KR",
     "roles": ["purchaser", "consignee", "end_user", "operator"], "hq": "KR", "parent": "sk"},
    {"key": "hyundai", "name": "Hyundai Motor Company", "country": "KR",
     "roles": ["purchaser", "consignee", "end_user", "operator"], "hq": "KR"},
    {"key": "naver", "name": "NAVER Cloud Corp.", "country": "KR",
     "roles": ["purchaser", "consignee", "end_user", "operator"], "hq": "KR"},
    {"key": "kakao", "name": "Kakao Corp.", "country": "KR",
     "roles": ["purchaser", "consignee", "end_user", "operator"], "hq": "KR"},
    {"key": "nhn", "name": "NHN Cloud Corp.", "country": "KR",
     "roles": ["purchaser", "consignee", "end_user", "operator"], "hq": "KR"},
    {"key": "kal", "name": "Korean Air Cargo", "country": "KR", "roles": ["carrier"], "hq": "KR"},
    {"key": "dhl", "name": "DHL Global Forwarding", "country": "DE", "roles": ["carrier", "forwarder"], "hq": "DE"},
    {"key": "kaist", "name": "KAIST AI Graduate School", "country": "KR", "roles": ["end_user"], "hq": "KR"},
    # Planted: a Korean tenant whose ultimate parent turns out, after it was assigned GPUs, to be
    # headquartered in a D:5 country (the parent is recorded by a later correction).
    {"key": "dragon_parent", "name": "Red Dragon Holdings Ltd.", "country": "CN", "roles": ["purchaser"], "hq": "CN"},
    {"key": "dragon_kr", "name": "Hanbit Cloud Korea Co., Ltd.", "country": "KR",
     "roles": ["end_user", "purchaser"], "hq": "KR"},
    # Planted: a reseller with no authorization to receive transfers.
    {"key": "broker", "name": "Seoul Compute Brokers", "country": "KR", "roles": ["purchaser"], "hq": "KR"},
]

# site key, name, operator key, country, address, capacity in kW
SITES: list[tuple[str, str, str, str, str, int]] = [
    ("naicc_gwangju", "National AI Computing Center, Gwangju", "naicc", "KR", "Gwangju", 60_000),
    ("samsung_pyeongtaek", "Samsung AI Factory Pyeongtaek", "samsung", "KR", "Pyeongtaek, Gyeonggi", 70_000),
    ("skt_gasan", "SK Telecom AI Data Center Gasan", "skt", "KR", "Gasan-dong, Seoul", 40_000),
    ("skhynix_icheon", "SK hynix AI Fab Icheon", "skhynix", "KR", "Icheon, Gyeonggi", 30_000),
    ("hyundai_uiwang", "Hyundai Motor AI Center Uiwang", "hyundai", "KR", "Uiwang, Gyeonggi", 65_000),
    ("naver_sejong", "NAVER Cloud Gak Sejong", "naver", "KR", "Sejong", 120_000),
    ("kakao_ansan", "Kakao Data Center Ansan", "kakao", "KR", "Ansan, Gyeonggi", 25_000),
    ("nhn_gwangju", "NHN Cloud National AI Data Center", "nhn", "KR", "Gwangju", 25_000),
    # Planted: a server room in an office building that cannot power what it will be said to hold
    # (4 kW: less than any one delivery of the demo draws, at any scale).
    ("tiny_edge", "Gangnam Edge Colocation", "broker", "KR", "Gangnam, Seoul (office building)", 4),
]

# model key, name, dense TOPS per precision, die area mm2, TDP W, GPUs per delivery unit
MODELS: list[tuple[str, str, dict[str, str], str, int, int]] = [
    ("gb200", "GB200 (per GPU, NVL72)", {"fp8": "5000", "fp16": "2500"}, "1600", 1200, 72),
    ("b200", "B200 (HGX B200)", {"fp8": "4500", "fp16": "2250"}, "1600", 1000, 8),
    ("rtx6000", "RTX PRO 6000 Blackwell Server Edition", {"fp8": "1000", "fp16": "500"}, "750", 600, 8),
    ("h200", "H200 SXM", {"fp8": "1979", "fp16": "989"}, "814", 700, 8),
]

# partner key -> (allocation, [(model, share)], [site keys], program)
PROGRAMS: dict[str, tuple[int, list[tuple[str, float]], list[str], str]] = {
    "naicc": (50_000, [("gb200", 0.6), ("b200", 0.4)], ["naicc_gwangju", "nhn_gwangju", "kakao_ansan"], "sovereign-ai"),
    "samsung": (50_000, [("gb200", 0.5), ("b200", 0.5)], ["samsung_pyeongtaek"], "samsung-ai-factory"),
    "sk": (50_000, [("rtx6000", 0.4), ("gb200", 0.4), ("h200", 0.2)], ["skt_gasan", "skhynix_icheon"], "sk-ai-factory"),
    "hyundai": (50_000, [("b200", 0.6), ("gb200", 0.4)], ["hyundai_uiwang"], "hyundai-mobility-ai"),
    "naver": (60_000, [("gb200", 0.7), ("b200", 0.3)], ["naver_sejong"], "naver-hyperscale"),
}
# Who buys for a program, and who operates each site.
BUYER = {"naicc": "naicc", "samsung": "samsung", "sk": "skt", "hyundai": "hyundai", "naver": "naver"}
SITE_BUYER = {"skhynix_icheon": "skhynix", "nhn_gwangju": "nhn", "kakao_ansan": "kakao"}

UNIT_PRICE = {"gb200": "41000.00", "b200": "36000.00", "rtx6000": "9500.00", "h200": "31000.00"}


def _at(t: datetime) -> str:
    return t.isoformat()


def korea_deployment(scale: float = 1.0, seed: int = 2025) -> Scenario:
    """Build the plan. ``scale`` multiplies every allocation (0.01 gives about 2,600 GPUs)."""
    if scale <= 0:
        raise ValueError("scale must be > 0")
    rng = random.Random(seed)
    s = Scenario(seed=seed, scale=scale)
    ids: dict[str, UUID] = {}

    def ident(name: str) -> UUID:
        if name not in ids:
            ids[name] = demo_id(seed, name)
        return ids[name]

    ref_time = START - timedelta(days=30)
    for p in PARTIES:
        s.reference.append(Step("register_party", {
            "party_id": ident(p["key"]), "name": p["name"], "country": p["country"], "roles": p["roles"],
            "headquarters_country": p["hq"],
            "ultimate_parent_id": ident(p["parent"]) if p.get("parent") else None,
            "occurred_at": _at(ref_time), "request_id": f"demo-{seed}-party-{p['key']}",
        }, f"party {p['name']}"))
    for key, name, operator, country, address, kw in SITES:
        s.reference.append(Step("register_site", {
            "site_id": ident(key), "name": name, "operator_id": ident(operator), "country": country,
            "address": address, "power_capacity_kw": str(kw), "occurred_at": _at(ref_time),
            "request_id": f"demo-{seed}-site-{key}",
        }, f"site {name}"))
    for key, name, tops, die, tdp, _unit in MODELS:
        s.reference.append(Step("register_gpu_model", {
            "model_id": ident(key), "vendor": "NVIDIA", "name": name, "dense_tops": tops,
            "bit_lengths": {"fp8": 8, "fp16": 16}, "die_area_mm2": die, "datacenter_marketed": True,
            "tdp_watts": tdp, "gpus_per_unit": 1, "occurred_at": _at(ref_time),
            "request_id": f"demo-{seed}-model-{key}",
        }, f"model {name}"))
    consignees = [ident(k) for k in ("naicc", "samsung", "skt", "skhynix", "hyundai", "naver", "kakao", "nhn")]
    s.reference.append(Step("register_authorization", {
        "authorization_id": ident("nlr"), "auth_type": "no_license_required", "number": "NLR-KR-3A090-2026",
        "eccns": ["3A090", "4A090"], "destination_countries": ["KR"], "consignee_ids": consignees,
        "end_user_ids": [*consignees, ident("kaist")], "valid_from": _at(START - timedelta(days=60)),
        "valid_to": _at(datetime(2031, 1, 1, tzinfo=UTC)), "occurred_at": _at(ref_time),
        "request_id": f"demo-{seed}-auth-nlr",
    }, "authorization NLR"))
    # A license with a hard end date, for one batch cleared and shipped under it while it is valid
    # (``Ship`` refuses a shipment after it expired: nothing of the kind can be planted).
    s.reference.append(Step("register_authorization", {
        "authorization_id": ident("lic-early"), "auth_type": "license", "number": "D1234567",
        "eccns": ["3A090"], "destination_countries": ["KR"], "consignee_ids": consignees,
        "end_user_ids": consignees, "quantity_limit": 5000, "value_limit": "250000000",
        "currency": "USD", "valid_from": _at(START - timedelta(days=60)),
        "valid_to": _at(datetime(2026, 12, 31, tzinfo=UTC)), "occurred_at": _at(ref_time),
        "request_id": f"demo-{seed}-auth-lic-early",
    }, "authorization D1234567"))

    # ------------------------------------------------------------------------ batches
    plans: list[tuple[datetime, str, str, str, int]] = []  # (order time, program, model, site, gpus)
    shrink = min(1.0, scale * 20)
    for program, (allocation, mix, sites, _name) in PROGRAMS.items():
        target = max(int(allocation * scale), 8)
        s.allocations[program] = target
        for model, share in mix:
            unit = next(m[5] for m in MODELS if m[0] == model)
            gpus = max(int(target * share) // unit * unit, unit)
            while gpus > 0:
                # A purchase-order line of 4-16 racks, or 32-128 servers; smaller lines below 5%
                # scale, so a small demo still has many batches (most of them clean).
                units = rng.randint(4, 16) if unit == 72 else rng.randint(32, 128)
                units = max(1, round(units * shrink))
                size = min(units * unit, gpus)
                size = max(size // unit * unit, unit)
                when = START + timedelta(days=rng.randint(0, (END - START).days - 400))
                plans.append((when, program, model, rng.choice(sites), size))
                gpus -= size
    plans.sort(key=lambda p: (p[0], p[1], p[2]))
    # The partners' allocations (press coverage of 31 Oct 2025, scaled): decisions recorded as
    # events before any batch, in force from the programme's start.
    for program, gpus in s.allocations.items():
        s.reference.append(Step("set_allocation", {
            "partner_id": ident(BUYER[program]), "gpus": gpus,
            "reason": f"allocation of the {PROGRAMS[program][3]} programme reported on 31 Oct 2025 (APEC, Gyeongju)"
            + (f", scaled by {scale}" if scale != 1.0 else ""),
            "effective_from": _at(START - timedelta(days=30)), "occurred_at": _at(ref_time),
            "request_id": f"demo-{seed}-allocation-{program}",
        }, f"allocation {program}"))

    serial_base = 1652_0000_00000 + seed % 1000 * 10_000_000
    next_serial = [serial_base]
    carriers = [ident("kal"), ident("dhl")]
    anomaly_slots = _anomaly_slots(len(plans))
    hq_revealed = False

    for index, (when, program, model, site_key, size) in enumerate(plans):
        batch = ident(f"batch-{index}")
        buyer_key = SITE_BUYER.get(site_key, BUYER[program])
        buyer = ident(buyer_key)
        site = ident(site_key)
        unit = next(m[5] for m in MODELS if m[0] == model)
        tag = f"demo-{seed}-b{index}"
        planted = anomaly_slots.get(index)
        # The batch under the license with a hard end date is ordered, cleared and shipped under it.
        t = datetime(2026, 6, 15, 9, tzinfo=UTC) if planted == "early_license" else when
        steps = _Steps(tag)
        step = steps.add

        step("place_order", {"batch_id": batch, "po_number": f"PO-{t.year}-{index:05d}",
                             "supplier_id": ident("nvidia"), "buyer_id": buyer, "model_id": ident(model),
                             "quantity": size, "unit_price": UNIT_PRICE[model], "currency": "USD",
                             "allocation_program": PROGRAMS[program][3]}, "order", t)
        auth = ident("lic-early") if planted == "early_license" else ident("nlr")
        t += timedelta(days=rng.randint(3, 14))
        step("request_clearance", {"batch_id": batch, "authorization_id": auth, "eccn": "3A090.a",
                                   "destination_country": "KR", "consignee_id": buyer, "end_user_id": buyer,
                                   "quantity": size, "end_use": f"AI compute for {PROGRAMS[program][3]}"},
             "request clearance", t)
        if planted == "early_license":
            t = datetime(2026, 8, 1, 9, tzinfo=UTC)  # decided while the license was valid
        t += timedelta(days=rng.randint(1, 10))
        step("grant_clearance", {"batch_id": batch, "authorization_id": auth}, "grant clearance", t)
        serials = [str(next_serial[0] + i) for i in range(size)]
        next_serial[0] += size
        s.serial_count += size
        s.gpu_count += size
        t += timedelta(days=rng.randint(5, 30))
        for lo in range(0, size, 2048):
            chunk = serials[lo: lo + 2048]
            step("register_serials", {"batch_id": batch, "units": [
                {"serial": sn, "gpu_uuid": f"GPU-{UUID(int=rng.getrandbits(128), version=4)}"} for sn in chunk]},
                 "register serials", t)

        # Ship in one to three consignments (whole racks / servers). Each one is received a few
        # days after it ships and installed a few days after that, as deliveries really go (and
        # within the compliance projection's transit and installation allowances).
        parts = _split(serials, unit, rng.randint(1, 3), rng)
        never_received = planted == "stuck_in_transit"
        install_site = site
        if planted == "overloaded_site":
            install_site = ident("tiny_edge")
            s.anomalies.append(Anomaly("site_power_exceeded", batch, "edge colocation over capacity"))
        # One installation report per delivery, placing each rack: an NVL72 rack, or four 8-GPU
        # servers.
        per_rack = unit if unit == 72 else unit * 4
        racks: list[list[str]] = []
        shipped_at = t
        for k, part in enumerate(parts):
            shipped_at += timedelta(days=rng.randint(2, 20))
            t = max(t, shipped_at)
            shipment = f"SHP-{index:05d}-{k + 1}"
            country = "KR"
            if planted == "shipped_to_uncovered_country" and k == 0:
                country = "SG"
                s.anomalies.append(Anomaly("shipped_to_uncovered_destination", batch, f"{shipment} to SG", tuple(part)))
            step("ship", {"batch_id": batch, "shipment_id": shipment, "carrier_id": rng.choice(carriers),
                          "origin": "Santa Clara, CA, US", "destination_country": country,
                          "destination_site_id": site, "itn": f"X{shipped_at:%Y%m%d}{index:06d}{k}",
                          "serials": part}, f"ship {shipment}", shipped_at)
            if never_received:
                s.anomalies.append(Anomaly("shipped_not_received", batch, f"{shipment} never arrived", tuple(part)))
                continue
            received_at = shipped_at + timedelta(days=rng.randint(3, 12))
            got = list(part)
            if planted == "missing_in_transit" and k == 0:
                missing = got[-2:]
                got = got[:-2]
                s.anomalies.append(Anomaly("units_missing_in_transit", batch, f"{shipment} short by 2", tuple(missing)))
            if planted == "unexpected_serial" and k == 0:
                stranger = str(serial_base - 1 - index)
                got = [*got, stranger]
                s.anomalies.append(Anomaly("serial_received_never_shipped", batch, stranger, (stranger,)))
            step("receive", {"batch_id": batch, "shipment_id": shipment, "receiving_party_id": buyer,
                             "site_id": site, "serials": got}, f"receive {shipment}", received_at)
            in_part = set(part)
            received = [sn for sn in got if sn in in_part]
            installed_at = received_at + timedelta(days=rng.randint(5, 20))
            placements = []
            for lo in range(0, len(received), per_rack):
                rack = received[lo: lo + per_rack]
                r = len(racks)
                placements.append({"rack": f"{index:05d}-R{r + 1:03d}", "host": f"{model}-{index:05d}-{r:03d}",
                                   "serials": rack})
                racks.append(rack)
            if placements:
                step("install", {"batch_id": batch, "site_id": install_site, "placements": placements},
                     f"install {shipment}", installed_at)
            t = max(t, installed_at)
        if never_received:
            s.batches.extend(steps.items)
            continue

        if planted == "installed_at_two_sites":
            twice = racks[0][:1]
            t += timedelta(days=3)
            other = ident("kakao_ansan" if site_key != "kakao_ansan" else "nhn_gwangju")
            step("install", {"batch_id": batch, "site_id": other, "rack": "X01", "host": "unexpected",
                             "serials": twice}, "install again elsewhere", t)
            s.anomalies.append(Anomaly("serial_installed_at_two_sites", batch, "reported at a second site", tuple(twice)))

        t += timedelta(days=rng.randint(2, 15))
        assignee = buyer
        if planted == "hq_rule_assignment":
            assignee = ident("dragon_kr")
            s.anomalies.append(Anomaly("assigned_to_headquarters_rule_party", batch,
                                       "tenant's ultimate parent is headquartered in CN", tuple(racks[0])))
        first, rest = racks[0], [sn for rack in racks[1:] for sn in rack]
        for who, group in ((assignee, first), (buyer, rest)):
            if group:
                step("assign", {"batch_id": batch, "assignee_id": who,
                                "purpose": f"{PROGRAMS[program][3]} training and inference", "serials": group},
                     "assign", t)
        if planted == "hq_rule_assignment" and not hq_revealed:
            hq_revealed = True
            t += timedelta(days=45)
            step("amend_reference", {"kind": "party", "target_id": ident("dragon_kr"),
                                     "fields": {"ultimate_parent_id": str(ident("dragon_parent"))},
                                     "reason": "ownership disclosure: ultimate parent is Red Dragon Holdings (CN)"},
                 "reveal the tenant's ultimate parent", t)
        if planted == "unlicensed_transfer":
            t += timedelta(days=30)
            step("transfer", {"batch_id": batch, "to_owner_id": ident("broker"), "reason": "secondary sale",
                              "serials": racks[-1]}, "transfer to broker", t)
            s.anomalies.append(Anomaly("transferred_to_unauthorized_party", batch, "resold to a broker", tuple(racks[-1])))
        if planted == "stolen":
            t += timedelta(days=60)
            step("report_lost", {"batch_id": batch, "kind": "stolen", "note": "missing after audit",
                                 "serials": racks[0][:2]}, "report stolen", t)
            s.anomalies.append(Anomaly("units_reported_stolen", batch, "two GPUs stolen", tuple(racks[0][:2])))
        s.batches.extend(steps.items)
    # Business time order across batches, as partners' systems would report it.
    s.batches.sort(key=lambda st: st.payload["occurred_at"])
    return s


# "early_license" plants no anomaly: a clean batch under the license with a hard end date.
ANOMALY_KINDS = [
    "missing_in_transit", "unexpected_serial", "hq_rule_assignment", "overloaded_site",
    "installed_at_two_sites", "unlicensed_transfer", "early_license",
    "shipped_to_uncovered_country", "stuck_in_transit", "stolen", "missing_in_transit",
    "unlicensed_transfer",
]


class _Steps:
    """The steps of one batch; each gets a stable request id, so reloading is idempotent."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.items: list[Step] = []

    def add(self, method: str, payload: dict[str, Any], label: str, at: datetime) -> None:
        request_id = f"{self.tag}-{method}-{len(self.items)}"
        self.items.append(
            Step(method, {**payload, "occurred_at": _at(at), "request_id": request_id}, label, self.tag)
        )


def _anomaly_slots(n_batches: int) -> dict[int, str]:
    """Spread the planted anomalies evenly over the batches, one per batch."""
    if n_batches == 0:
        return {}
    kinds = ANOMALY_KINDS[: max(1, min(len(ANOMALY_KINDS), n_batches))]
    stride = max(n_batches // len(kinds), 1)
    return {min(i * stride + stride // 2, n_batches - 1): k for i, k in enumerate(kinds)}


def _split(serials: list[str], unit: int, parts: int, rng: random.Random) -> list[list[str]]:
    """Split serials into ``parts`` consignments of whole delivery units."""
    groups = [serials[i: i + unit] for i in range(0, len(serials), unit)]
    parts = max(1, min(parts, len(groups)))
    cuts = sorted(rng.sample(range(1, len(groups)), parts - 1)) if parts > 1 else []
    out: list[list[str]] = []
    prev = 0
    for cut in [*cuts, len(groups)]:
        out.append([sn for g in groups[prev:cut] for sn in g])
        prev = cut
    return out
