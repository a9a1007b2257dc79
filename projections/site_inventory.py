"""Site inventory and power: units at each site per GPU model and stage.

Installed GPUs (stages installed and assigned) times the model's TDP are compared with the
site's power capacity at query time, from the site and model lookups.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Column, MetaData, String, Table, Uuid

from projections.common import moves_of
from projections.engine import Handler, Projection, Work
from projections.lookups import (
    batch_model_table,
    model_handlers,
    model_table,
    site_handlers,
    site_table,
)
from projections.ownership import MOVEMENTS
from registry.domain.batch import GpuBatch


class SiteInventory(Projection):
    name = "site_inventory"
    version = 1

    def define(self, metadata: MetaData, name: Callable[[str], str]) -> dict[str, Table]:
        units = Table(
            name("site_units"), metadata,
            Column("site_id", Uuid, primary_key=True),
            Column("model_id", Uuid, primary_key=True),
            Column("stage", String(16), primary_key=True),
            Column("units", BigInteger, nullable=False),
        )
        return {
            "site_units": units,
            "batch_model": batch_model_table(metadata, name),
            "site": site_table(metadata, name),
            "gpu_model": model_table(metadata, name),
        }

    def handlers(self) -> Mapping[type[Any], Handler]:
        return {
            GpuBatch.Ordered: _created,
            GpuBatch.SplitFrom: _created,
            **dict.fromkeys(MOVEMENTS, _moved),
            **site_handlers(),
            **model_handlers(),
        }


def _created(work: Work, e: Any) -> None:
    # The batch's first event: its row cannot be stored yet (no lookup for it)
    work.cache("batch_model").absent(e.originator_id)
    work.cache("batch_model").put({"batch_id": e.originator_id, "model_id": e.model_id})


def _moved(work: Work, e: Any) -> None:
    found = work.cache("batch_model").get(e.originator_id)
    if found is None:
        raise LookupError(f"batch {e.originator_id} has events but no creation event")
    model_id = found["model_id"]
    units = work.cache("site_units", group="site_id")
    for f, t, n in moves_of(e):
        if f.site:
            units.add((UUID(f.site), model_id, f.stage), "units", -n)
        if t.site and t.is_unit_stage:
            units.add((UUID(t.site), model_id, t.stage), "units", n)
