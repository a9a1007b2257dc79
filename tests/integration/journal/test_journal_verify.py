"""Tamper with stored rows directly, on SQLite and PostgreSQL: verify names the first bad position."""

from __future__ import annotations

import pytest

from registry.journal.verify import Report
from tests.integration.journal.conftest import Journaled


def verified(j: Journaled) -> Report:
    return j.journal.verify_store(keys=[j.signer.verifier])


def failed_at(j: Journaled, position: int | None) -> str:
    report = verified(j)
    assert report.problem is not None, "the tampering went unnoticed"
    assert report.problem.position == position, str(report.problem)
    return report.problem.what


def test_an_untouched_store_verifies_clean_with_every_event_signed(journaled: Journaled) -> None:
    report = verified(journaled)
    assert report.ok, report.problem
    assert report.events == report.size == report.signed_size == len(journaled.store.positions())
    assert report.root == journaled.journal.tree.root()


def test_one_changed_byte_of_a_stored_state_is_found_at_its_position(journaled: Journaled) -> None:
    store = journaled.store
    target = store.positions()[5]
    state = bytearray(store.event(target)[3])
    state[len(state) // 2] ^= 0x01
    store.sql("UPDATE {events} SET state = ? WHERE {pos} = ?", (bytes(state), target))
    assert "not the one recorded here" in failed_at(journaled, target)


def test_a_changed_topic_is_found_at_its_position(journaled: Journaled) -> None:
    store = journaled.store
    target = store.positions()[7]
    store.sql("UPDATE {events} SET topic = topic || 'X' WHERE {pos} = ?", (target,))
    failed_at(journaled, target)


def test_a_changed_version_is_found_at_its_position(journaled: Journaled) -> None:
    store = journaled.store
    target = store.positions()[-2]
    store.sql("UPDATE {events} SET originator_version = originator_version + 1000 WHERE {pos} = ?", (target,))
    failed_at(journaled, target)


def test_an_event_moved_to_another_position_is_missing_where_it_was(journaled: Journaled) -> None:
    store = journaled.store
    positions = store.positions()
    target = positions[3]
    store.sql("UPDATE {events} SET {pos} = ? WHERE {pos} = ?", (positions[-1] + 50, target))
    assert "missing" in failed_at(journaled, target)


def test_a_deleted_event_is_named(journaled: Journaled) -> None:
    store = journaled.store
    target = store.positions()[4]
    store.sql("DELETE FROM {events} WHERE {pos} = ?", (target,))
    assert "missing" in failed_at(journaled, target)


def test_an_inserted_event_without_a_leaf_is_named(journaled: Journaled) -> None:
    store = journaled.store
    first = store.positions()[0]
    oid, version, topic, state = store.event(first)
    store.insert_event(0, oid, version + 500, topic, bytes(state))
    assert "no leaf" in failed_at(journaled, 0)


def test_two_swapped_events_are_found_at_the_first_of_them(journaled: Journaled) -> None:
    store = journaled.store
    positions = store.positions()
    a, b = positions[2], positions[6]
    spare = positions[-1] + 100
    store.sql("UPDATE {events} SET {pos} = ? WHERE {pos} = ?", (spare, a))
    store.sql("UPDATE {events} SET {pos} = ? WHERE {pos} = ?", (a, b))
    store.sql("UPDATE {events} SET {pos} = ? WHERE {pos} = ?", (b, spare))
    assert "reordered" in failed_at(journaled, a)


def test_a_truncated_log_is_found_at_the_first_missing_position(journaled: Journaled) -> None:
    store = journaled.store
    positions = store.positions()
    cut = positions[-4]
    store.sql("DELETE FROM {events} WHERE {pos} >= ?", (cut,))
    assert "missing" in failed_at(journaled, cut)


def test_a_truncated_log_and_journal_is_caught_by_the_signed_checkpoint(journaled: Journaled) -> None:
    store = journaled.store
    positions = store.positions()
    cut = positions[-4]
    store.sql("DELETE FROM {events} WHERE {pos} >= ?", (cut,))
    store.rebuild_leaves()
    report = verified(journaled)
    assert report.problem is not None
    assert "truncated" in report.problem.what
    assert report.problem.leaf_index == len(positions) - 4


def test_a_forged_append_with_a_recomputed_but_unsigned_root_is_named(journaled: Journaled) -> None:
    store = journaled.store
    positions = store.positions()
    oid, version, topic, state = store.event(positions[-1])
    forged = positions[-1] + 1
    store.insert_event(forged, oid, version + 1, topic, bytes(state))
    store.rebuild_leaves()  # leaf, frontier and root all consistent; only the signature is missing
    what = failed_at(journaled, forged)
    assert "not covered by any signed checkpoint" in what


def test_a_rewrite_with_every_leaf_recomputed_contradicts_the_signed_root(journaled: Journaled) -> None:
    store = journaled.store
    target = store.positions()[5]
    store.sql("UPDATE {events} SET topic = topic || 'X' WHERE {pos} = ?", (target,))
    store.rebuild_leaves()
    report = verified(journaled)
    assert report.problem is not None
    assert "not the one signed in its checkpoint" in report.problem.what


@pytest.mark.parametrize("allow", [True, False])
def test_events_after_the_last_checkpoint_fail_unless_an_unsigned_tail_is_allowed(
    journaled: Journaled, allow: bool
) -> None:
    journaled.world.order(quantity=4, po_number="PO-J-tail")
    report = journaled.journal.verify_store(keys=[journaled.signer.verifier], allow_unsigned_tail=allow)
    assert report.ok is allow
    if allow:
        assert report.warnings and report.signed_size < report.size


def test_the_start_check_finds_a_tampered_tail_and_the_store_refuses_writes(journaled: Journaled) -> None:
    from registry.journal.errors import JournalBroken

    store = journaled.store
    target = store.positions()[-1]
    store.sql("UPDATE {events} SET topic = topic || 'X' WHERE {pos} = ?", (target,))
    problem = journaled.journal.check_tail()
    assert problem is not None and f"position {target}" in problem
    journaled.registry.recorder.refuse_writes = problem  # type: ignore[attr-defined]
    with pytest.raises(JournalBroken, match="read-only"):
        journaled.world.order(quantity=4, po_number="PO-J-refused")
