"""Reference data (parties, sites, GPU models) as small lookup tables inside a projection.

Each projection that needs reference data keeps its own copy in its own generation, fed from
the same log in the same order, so at any position its lookups agree with its other rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Integer, MetaData, String, Table, Text, Uuid

from projections.common import plain
from projections.engine import Handler, Work
from registry.domain.reference import GpuModel, Party, Site

Name = Callable[[str], str]


def party_table(md: MetaData, name: Name) -> Table:
    return Table(
        name("party"), md,
        Column("party_id", Uuid, primary_key=True),
        Column("name", Text, nullable=False),
        Column("country", String(2), nullable=False),
    )


def site_table(md: MetaData, name: Name) -> Table:
    return Table(
        name("site"), md,
        Column("site_id", Uuid, primary_key=True),
        Column("name", Text, nullable=False),
        Column("operator_id", Uuid, nullable=False),
        Column("country", String(2), nullable=False),
        Column("power_capacity_kw", String(64), nullable=False),
    )


def model_table(md: MetaData, name: Name) -> Table:
    return Table(
        name("gpu_model"), md,
        Column("model_id", Uuid, primary_key=True),
        Column("vendor", Text, nullable=False),
        Column("name", Text, nullable=False),
        Column("dense_tops", JSON, nullable=False),
        Column("bit_lengths", JSON, nullable=False),
        Column("tdp_watts", BigInteger, nullable=False),
        Column("gpus_per_unit", Integer, nullable=False),
    )


def batch_model_table(md: MetaData, name: Name) -> Table:
    """Which GPU model each batch holds (movement events name the batch, not the model)."""
    return Table(
        name("batch_model"), md,
        Column("batch_id", Uuid, primary_key=True),
        Column("model_id", Uuid, nullable=False),
    )


def _party_values(source: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in ("name", "country"):
        if k in source:
            out[k] = source[k]
    return out


def _site_values(source: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in ("name", "operator_id", "country"):
        if k in source:
            out[k] = source[k]
    if "power_capacity_kw" in source:
        out["power_capacity_kw"] = str(source["power_capacity_kw"])
    return out


def _model_values(source: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in ("vendor", "name", "tdp_watts", "gpus_per_unit"):
        if k in source:
            out[k] = source[k]
    for k in ("dense_tops", "bit_lengths"):
        if k in source:
            out[k] = plain(dict(source[k]))
    return out


def _registered(table: str, key: str, values: Callable[[Mapping[str, Any]], dict[str, Any]]) -> Handler:
    def handle(work: Work, e: Any) -> None:
        work.cache(table).put({key: e.originator_id, **values(vars(e))})

    return handle


def _amended(table: str, values: Callable[[Mapping[str, Any]], dict[str, Any]]) -> Handler:
    def handle(work: Work, e: Any) -> None:
        cache = work.cache(table)
        row = cache.get(e.originator_id)
        if row is not None:
            cache.put({**row, **values(e.fields)})

    return handle


def party_handlers() -> dict[type[Any], Handler]:
    return {
        Party.Registered: _registered("party", "party_id", _party_values),
        Party.Amended: _amended("party", _party_values),
    }


def site_handlers() -> dict[type[Any], Handler]:
    return {
        Site.Registered: _registered("site", "site_id", _site_values),
        Site.Amended: _amended("site", _site_values),
    }


def model_handlers() -> dict[type[Any], Handler]:
    return {
        GpuModel.Registered: _registered("gpu_model", "model_id", _model_values),
        GpuModel.Amended: _amended("gpu_model", _model_values),
    }
