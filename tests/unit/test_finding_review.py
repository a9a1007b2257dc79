"""An officer's review of a finding: acknowledge, resolve, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from registry.domain.base import Context
from registry.domain.errors import IllegalTransition, InvalidField
from registry.domain.findings import FindingReview

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
OFFICER = Context("officer-kim", "", T0)


def test_the_review_id_derives_from_the_finding_id() -> None:
    finding = uuid4()
    assert FindingReview.id_for(finding) == FindingReview.id_for(finding)
    assert FindingReview.id_for(finding) != FindingReview.id_for(uuid4())
    assert FindingReview.open(OFFICER, finding).id == FindingReview.id_for(finding)


def test_a_finding_is_acknowledged_then_resolved_and_the_trail_names_the_officer_and_notes() -> None:
    review = FindingReview.open(OFFICER, uuid4())
    review.acknowledge(OFFICER, " asked the partner for the delivery note ")
    review.resolve(Context("officer-lee", "", T0), "delivery note received; units found at the site")

    assert review.status == "resolved"
    assert [(t["action"], t["by"], t["note"]) for t in review.trail] == [
        ("acknowledged", "officer-kim", "asked the partner for the delivery note"),
        ("resolved", "officer-lee", "delivery note received; units found at the site"),
    ]
    events = review.collect_events()
    assert [type(e).__name__ for e in events] == ["Opened", "Acknowledged", "Resolved"]
    assert all(getattr(e, "finding_id", None) == review.finding_id for e in events)


def test_an_open_finding_may_be_resolved_without_an_acknowledgement() -> None:
    review = FindingReview.open(OFFICER, uuid4())
    review.resolve(OFFICER, "false alarm: the shipment was split in two")
    assert review.status == "resolved"


def test_a_resolved_finding_cannot_be_acknowledged_or_resolved_again() -> None:
    review = FindingReview.open(OFFICER, uuid4())
    review.resolve(OFFICER, "done")
    with pytest.raises(IllegalTransition, match="already resolved"):
        review.resolve(OFFICER, "again")
    with pytest.raises(IllegalTransition, match="only an open finding"):
        review.acknowledge(OFFICER, "late")


def test_an_acknowledged_finding_is_not_acknowledged_twice() -> None:
    review = FindingReview.open(OFFICER, uuid4())
    review.acknowledge(OFFICER, "on it")
    with pytest.raises(IllegalTransition) as refused:
        review.acknowledge(OFFICER, "still on it")
    assert refused.value.allowed == ["resolve_finding"]


@pytest.mark.parametrize("note", ["", "   ", "x" * 2001])
def test_a_decision_without_a_usable_note_is_refused_and_records_nothing(note: str) -> None:
    review = FindingReview.open(OFFICER, uuid4())
    review.collect_events()
    with pytest.raises(InvalidField) as refused:
        review.resolve(OFFICER, note)
    assert refused.value.violations[0][0] == "note"
    assert review.collect_events() == [] and review.status == "open"
