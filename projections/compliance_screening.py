"""The compliance projection's handlers of screening cases: runs, hits and their resolution.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from projections.compliance_checks import _review_holdings
from projections.engine import Work
from registry.domain.policy import hit_blocks


# ============================================================================== screening
def _case_opened(work: Work, e: Any) -> None:
    work.cache("screening_case").put({"case_id": e.originator_id, "party_id": e.party_id})


def _case_party(work: Work, e: Any) -> UUID | None:
    row = work.cache("screening_case").get(e.originator_id)
    return row["party_id"] if row is not None else None


def _screened(work: Work, e: Any) -> None:
    party_id = _case_party(work, e)
    if party_id is None:
        return
    hits = work.cache("screening_hit", group="party_id")
    for hit in e.hits:
        prior = hits.get(party_id, hit["hit_id"])
        entry = hit.get("entry") or {}
        hits.put({
            "party_id": party_id, "hit_id": hit["hit_id"], "current": True,
            "resolution": prior["resolution"] if prior is not None else "open",
            "source_list": str(entry.get("source_list", e.source)),
        })
    for hit_id in e.lapsed_hit_ids:
        prior = hits.get(party_id, hit_id)
        if prior is not None:
            hits.put({**prior, "current": False})
    fresh = [
        h for h in e.new_hit_ids
        if (row := hits.get(party_id, h)) is not None and hit_blocks(True, row["resolution"])
    ]
    if fresh:
        _review_holdings(work, e, party_id)


def _hit_resolved(work: Work, e: Any) -> None:
    party_id = _case_party(work, e)
    if party_id is None:
        return
    hits = work.cache("screening_hit", group="party_id")
    prior = hits.get(party_id, e.hit_id)
    if prior is not None:
        hits.put({**prior, "resolution": e.resolution})
