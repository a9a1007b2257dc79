"""Opening a store for report work (``gpureg report ...``, ``gpureg report evidence``): the
registry and its live read models, read-only in spirit. Its own module so that the report CLI and
the journal CLI share it without importing each other."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from registry.config import Settings

if TYPE_CHECKING:
    from registry.reports.builders import ReportStore


class StoreMissing(Exception):
    """The named event store does not exist (a report never creates an empty one)."""


@contextmanager
def open_store(database_url: str | None, readmodel_url: str | None) -> Iterator[ReportStore]:
    """The registry and the live read models of the store, opened read-only in spirit: a store that
    does not exist is an error (StoreMissing), not a new empty one."""
    from projections.db import create_readmodel_engine, sqlite_path
    from projections.db import readmodel_url as readmodels_of
    from projections.queries import ReadModels
    from registry.bootstrap import build_registry
    from registry.reports.builders import ReportStore

    values: dict[str, object] = {}
    if database_url:
        values["database_url"] = database_url
    if readmodel_url:
        values["readmodel_url"] = readmodel_url
    settings = Settings(**values)  # type: ignore[arg-type]
    if settings.database_url.startswith("sqlite"):
        path = sqlite_path(settings.database_url)
        if path is not None and not Path(path).exists():
            raise StoreMissing(f"no event store at {settings.database_url} (give --database-url)")
    registry = build_registry(settings)
    engine = create_readmodel_engine(readmodels_of(settings))
    try:
        yield ReportStore(registry, ReadModels(engine, registry))
    finally:
        engine.dispose()
        registry.close()
