"""The group-commit queue (registry/infrastructure/group_commit.py) without a database: every
append gets its own outcome, even when more appends queue up than one group takes."""

from __future__ import annotations

import itertools
import threading
import time

from eventsourcing.persistence import StoredEvent

from registry.infrastructure.group_commit import Append, GroupCommit

WAITING = 19


def test_every_append_is_written_when_more_queue_up_than_a_group_takes() -> None:
    positions = itertools.count(1)
    release = threading.Event()
    groups: list[int] = []

    def write_group(group: list[Append]) -> None:
        if not groups:
            release.wait(10)  # the first group holds the lead until every other append queued
        groups.append(len(group))
        for a in group:
            a.ids = [next(positions)]

    gc = GroupCommit(write_group, max_group=4)
    results: dict[int, object] = {}

    def append(i: int) -> None:
        results[i] = gc.append([StoredEvent(originator_id=f"a{i}", originator_version=1, topic="t", state=b"")], {})

    first = threading.Thread(target=append, args=(0,))
    first.start()
    while not gc._leading:
        time.sleep(0.001)
    others = [threading.Thread(target=append, args=(i,)) for i in range(1, WAITING + 1)]
    for t in others:
        t.start()
    while len(gc._queue) < WAITING:
        time.sleep(0.001)
    release.set()
    for t in [first, *others]:
        t.join(10)
    # An append queued beyond the first group its thread led used to come back with no positions.
    assert all(r is not None for r in results.values()), results
    assert sorted(p for r in results.values() for p in r) == list(range(1, WAITING + 2))  # type: ignore[attr-defined]
    assert max(groups) <= 4 and sum(groups) == WAITING + 1


def test_a_leader_whose_append_is_beyond_the_group_it_took_leads_again() -> None:
    """Deterministic: five appends already queue ahead of this thread's, groups take four, so
    the thread leads a group without its own append in it, and must lead once more."""
    positions = itertools.count(1)
    groups: list[list[Append]] = []

    def write_group(group: list[Append]) -> None:
        groups.append(group)
        for a in group:
            a.ids = [next(positions)]

    gc = GroupCommit(write_group, max_group=4)
    ahead = [Append([], {}) for _ in range(5)]
    gc._queue.extend(ahead)
    mine = gc.append([StoredEvent(originator_id="a", originator_version=1, topic="t", state=b"")], {})
    assert mine == [6]
    assert [len(g) for g in groups] == [4, 2]
    assert all(a.done and a.ids for a in ahead)
