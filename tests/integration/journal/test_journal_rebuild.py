"""A projection rebuild refuses a log whose journal does not verify."""

from __future__ import annotations

import pytest

from projections.batch_inventory import BatchInventory
from projections.runner import rebuild
from registry.journal.errors import JournalBroken
from registry.journal.tables import JournalTables
from tests.integration.journal.conftest import Store
from tests.integration.projections.conftest import ReadSide, read_side  # noqa: F401 - the fixture


def test_a_rebuild_from_a_tampered_log_is_refused_naming_the_position(read_side: ReadSide) -> None:  # noqa: F811
    read_side.world.order(quantity=5, po_number="PO-R-1")
    rebuild(read_side.registry, read_side.engine, BatchInventory())  # an untouched log rebuilds
    tables = read_side.registry.recorder.journal  # type: ignore[attr-defined]
    assert isinstance(tables, JournalTables)
    store = Store(read_side.url, tables)
    target = store.positions()[2]
    store.sql("UPDATE {events} SET topic = topic || 'X' WHERE {pos} = ?", (target,))
    with pytest.raises(JournalBroken, match=f"position {target}"):
        rebuild(read_side.registry, read_side.engine, BatchInventory())
