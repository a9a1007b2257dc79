"""The command mix the throughput, latency and lag measurements send.

The reference data (parties, sites, GPU models, authorizations) is the demo scenario's own
(``korea_deployment(...).reference``: the same ids and request ids, so registering it on a store
that already holds the demo writes nothing). On top of it, each client drives its own batches
through a realistic life, the same shape as the demo's deliveries:

    place order (144 GPUs: two NVL72 racks, or eighteen 8-GPU servers)
    request clearance -> grant clearance -> register the 144 serials
    ship rack 1 -> receive it -> install it -> ship rack 2 -> receive it -> install it
    assign all 144 to the buyer

11 commands per batch (the demo's mix is dominated by installs and movements the same way). A
client never touches another client's batches, so clients never conflict; serials and request ids
carry a per-run tag, so runs never collide with each other or with the demo.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from registry.demo.scenario import UNIT_PRICE, Step, demo_id, korea_deployment

SEED = 2025
PER_BATCH = 144
COMMANDS_PER_BATCH = 11

# (buyer key, site key, model key, GPUs per delivery unit) - combinations the demo uses
PROGRAMS: list[tuple[str, str, str, int]] = [
    ("naicc", "naicc_gwangju", "gb200", 72),
    ("samsung", "samsung_pyeongtaek", "b200", 8),
    ("skt", "skt_gasan", "rtx6000", 8),
    ("hyundai", "hyundai_uiwang", "gb200", 72),
    ("naver", "naver_sejong", "gb200", 72),
    ("skhynix", "skhynix_icheon", "h200", 8),
]


def reference_steps(seed: int = SEED) -> list[Step]:
    """The demo's reference data (idempotent: fixed ids and request ids)."""
    return korea_deployment(scale=0.001, seed=seed).reference


@dataclass
class Lifecycles:
    """An endless supply of batch lives for one client: ``next_batch()`` gives the 11 steps of a
    fresh batch, in order."""

    run_tag: str
    client: int
    seed: int = SEED

    def __post_init__(self) -> None:
        self._counter = itertools.count()

    def _id(self, name: str) -> UUID:
        return demo_id(self.seed, name)

    def next_batch(self) -> list[Step]:
        n = next(self._counter)
        return batch_life(self.run_tag, self.client, n, self.seed)

    def steps(self) -> Iterator[Step]:
        while True:
            yield from self.next_batch()


def batch_life(run_tag: str, client: int, n: int, seed: int = SEED) -> list[Step]:
    """The 11 steps of batch ``n`` of ``client`` in run ``run_tag``."""
    buyer_key, site_key, model, _unit = PROGRAMS[(client + n) % len(PROGRAMS)]
    ident = lambda name: demo_id(seed, name)  # noqa: E731
    tag = f"bench-{run_tag}-c{client}-b{n}"
    batch = uuid5(NAMESPACE_URL, f"urn:gpureg:bench:{tag}")
    buyer, site, auth = ident(buyer_key), ident(site_key), ident("nlr")
    t = datetime(2027, 3, 1, 9, tzinfo=UTC) + timedelta(minutes=n % 100_000)
    steps: list[Step] = []

    def add(method: str, payload: dict[str, object]) -> None:
        nonlocal t
        t += timedelta(hours=6)
        request_id = f"{tag}-{len(steps)}"
        steps.append(Step(method, {**payload, "occurred_at": t.isoformat(), "request_id": request_id},
                          method, tag))

    serials = [f"BN{run_tag}{client:03d}{n:06d}{i:03d}".upper() for i in range(PER_BATCH)]
    add("place_order", {"batch_id": batch, "po_number": f"PO-BENCH-{tag}", "supplier_id": ident("nvidia"),
                        "buyer_id": buyer, "model_id": ident(model), "quantity": PER_BATCH,
                        "unit_price": UNIT_PRICE[model], "currency": "USD", "allocation_program": "bench"})
    add("request_clearance", {"batch_id": batch, "authorization_id": auth, "eccn": "3A090.a",
                              "destination_country": "KR", "consignee_id": buyer, "end_user_id": buyer,
                              "quantity": PER_BATCH, "end_use": "AI compute (benchmark)"})
    add("grant_clearance", {"batch_id": batch, "authorization_id": auth})
    add("register_serials", {"batch_id": batch, "units": [
        {"serial": sn, "gpu_uuid": f"GPU-{uuid5(NAMESPACE_URL, sn)}"} for sn in serials]})
    half = PER_BATCH // 2
    for k, part in enumerate((serials[:half], serials[half:])):
        shipment = f"SHP-{tag}-{k}"
        add("ship", {"batch_id": batch, "shipment_id": shipment, "carrier_id": ident("kal"),
                     "origin": "Santa Clara, CA, US", "destination_country": "KR", "destination_site_id": site,
                     "itn": f"X{n:010d}{k}", "serials": part})
        add("receive", {"batch_id": batch, "shipment_id": shipment, "receiving_party_id": buyer,
                        "site_id": site, "serials": part})
        add("install", {"batch_id": batch, "site_id": site, "rack": f"{tag}-R{k}",
                        "host": f"{model}-{n}-{k}", "serials": part})
    add("assign", {"batch_id": batch, "assignee_id": buyer, "purpose": "benchmark training runs",
                   "serials": serials})
    assert len(steps) == COMMANDS_PER_BATCH
    return steps


def serial_batches(run_tag: str, client: int, n: int, serials: int, seed: int = SEED) -> list[Step]:
    """For the serial-registration rate: order, clear, then register ``serials`` serials in one
    command (the demo registers up to 2,048 per command). The last step is the measured one."""
    buyer_key, _site, model, _unit = PROGRAMS[(client + n) % len(PROGRAMS)]
    ident = lambda name: demo_id(seed, name)  # noqa: E731
    tag = f"bench-{run_tag}-s{client}-b{n}"
    batch = uuid5(NAMESPACE_URL, f"urn:gpureg:bench:{tag}")
    buyer, auth = ident(buyer_key), ident("nlr")
    at = datetime(2027, 6, 1, 9, tzinfo=UTC).isoformat()
    numbers = [f"BS{run_tag}{client:03d}{n:05d}{i:05d}".upper() for i in range(serials)]
    return [
        Step("place_order", {"batch_id": batch, "po_number": f"PO-BENCH-{tag}", "supplier_id": ident("nvidia"),
                             "buyer_id": buyer, "model_id": ident(model), "quantity": serials,
                             "unit_price": UNIT_PRICE[model], "currency": "USD", "occurred_at": at,
                             "request_id": f"{tag}-0"}, "order", tag),
        Step("request_clearance", {"batch_id": batch, "authorization_id": auth, "eccn": "3A090.a",
                                   "destination_country": "KR", "consignee_id": buyer, "end_user_id": buyer,
                                   "quantity": serials, "occurred_at": at, "request_id": f"{tag}-1"},
             "request clearance", tag),
        Step("grant_clearance", {"batch_id": batch, "authorization_id": auth, "occurred_at": at,
                                 "request_id": f"{tag}-2"}, "grant clearance", tag),
        Step("register_serials", {"batch_id": batch, "occurred_at": at, "request_id": f"{tag}-3", "units": [
            {"serial": sn, "gpu_uuid": f"GPU-{uuid5(NAMESPACE_URL, sn)}"} for sn in numbers]},
             "register serials", tag),
    ]
