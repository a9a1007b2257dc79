"""The compliance projection's serials: each one's shipment and position, kept as runs.

One concept: the state a compliance serial run holds (``projections/serial_runs.py``), shared by
the batch handlers (which move serials) and the checks and clock (which list a batch's serials).
"""

from __future__ import annotations

from projections.engine import Row, Work
from projections.serial_runs import RUN_TABLE, SerialRuns

SERIAL_STATE = ("shipment_id", "stage", "site", "owner", "assignee")


def serial_runs(work: Work) -> SerialRuns:
    """The runs of the compliance projection's ``serial_run`` table, through this chunk's cache."""
    return SerialRuns(work.cache(RUN_TABLE, group="batch_id"), SERIAL_STATE)


def fresh(owner: str) -> Row:
    """A registered serial's state: pending with the buyer, in no shipment."""
    return {"shipment_id": "", "stage": "pending", "site": "", "owner": owner, "assignee": ""}
