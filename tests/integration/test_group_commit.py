"""Group commit on PostgreSQL: many commands per transaction, each with its own atomic outcome.

The recorder (registry/infrastructure/group_commit.py) writes the appends of concurrent threads in
one transaction: in one round trip when every append in the group goes through (the journal's
leaves made by a database function), in two when that function cannot be used (leaves made in
Python), and again with a savepoint per append when one of them fails. These tests drive it with real threads on the real
PostgreSQL and check what projections and clients rely on: every append is all-or-nothing with its
own result, a failing append fails nobody else, serial claims stay unique, a tailing reader never
sees a later position committed before an earlier one, and the journal still has one verified
leaf per event.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from registry.bootstrap import build_registry
from registry.config import Settings
from registry.infrastructure.postgres_recorder import RegistryPostgresRecorder

pytestmark = pytest.mark.postgres

THREADS = 8
PER_THREAD = 40


@pytest.fixture(params=["one round trip", "two round trips"])
def recorder(postgres_url: str, request: pytest.FixtureRequest) -> Iterator[RegistryPostgresRecorder]:
    registry = build_registry(Settings(database_url=postgres_url))
    rec = registry.recorder
    assert isinstance(rec, RegistryPostgresRecorder)
    rec.one_round_trip = request.param == "one round trip"
    yield rec
    registry.close()


def _groups_written_whole(recorder: RegistryPostgresRecorder) -> int:
    """Groups written in one round trip, or in two."""
    return recorder.single_trip_groups + recorder.fast_groups


def _event(originator: uuid.UUID, version: int) -> StoredEvent:
    return StoredEvent(originator_id=originator, originator_version=version, topic="t:E", state=b"{}")


def _run_threads(work: Any, n: int = THREADS) -> None:
    start = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        start.wait()
        try:
            work(i)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_concurrent_appends_share_transactions_and_each_gets_its_own_positions(recorder: RegistryPostgresRecorder) -> None:
    gc = recorder.group_commit
    assert gc is not None
    results: dict[uuid.UUID, list[int]] = {}

    def work(i: int) -> None:
        for _ in range(PER_THREAD):
            agg = uuid.uuid4()
            ids = recorder.insert_events([_event(agg, 1), _event(agg, 2)])
            assert ids is not None
            results[agg] = list(ids)

    _run_threads(work)
    assert len(results) == THREADS * PER_THREAD
    assert gc.appends == THREADS * PER_THREAD
    assert gc.groups < gc.appends, "concurrent appends never shared a transaction"
    assert _groups_written_whole(recorder) == gc.groups and recorder.separated_groups == 0, (
        "a group with no conflict was not written whole by the chosen path")
    if recorder.one_round_trip:
        assert recorder.fast_groups == 0, "a group was not written in one round trip"
    else:
        assert recorder.single_trip_groups == 0
    log = recorder.select_notifications(start=None, limit=10**6)
    assert len(log) == 2 * THREADS * PER_THREAD  # exactly once: nothing lost, nothing twice
    by_event = {(n.originator_id, n.originator_version): n.id for n in log}
    for agg, ids in results.items():
        assert ids == [by_event[(agg, 1)], by_event[(agg, 2)]]
        assert ids[1] > ids[0]


def test_a_failing_append_fails_alone_and_writes_nothing_of_itself(recorder: RegistryPostgresRecorder) -> None:
    taken = uuid.uuid4()
    recorder.insert_events([_event(taken, 1)])
    outcomes: list[tuple[str, uuid.UUID, Any]] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        for k in range(PER_THREAD):
            fresh = uuid.uuid4()
            if (i + k) % 3 == 0:  # version 1 of `taken` exists: this append must fail as a whole
                events = [_event(fresh, 1), _event(taken, 1)]
                try:
                    recorder.insert_events(events)
                    outcome = ("ok", fresh, None)
                except IntegrityError as e:
                    outcome = ("conflict", fresh, e)
            else:
                outcome = ("ok", fresh, recorder.insert_events([_event(fresh, 1)]))
            with lock:
                outcomes.append(outcome)

    _run_threads(work)
    stored = {n.originator_id for n in recorder.select_notifications(start=None, limit=10**6)}
    conflicts = [o for o in outcomes if o[0] == "conflict"]
    oks = [o for o in outcomes if o[0] == "ok"]
    assert conflicts and oks
    assert all(o[2] is not None for o in oks)
    for _, fresh, _ in conflicts:
        assert fresh not in stored, "half of a failed append was committed"
    for _, fresh, _ in oks:
        assert fresh in stored, "an acknowledged append is missing"
    assert recorder.group_commit is not None and recorder.group_commit.groups < len(outcomes) + 1
    assert recorder.separated_groups > 0, "no group with a conflict in it was written append by append"


def test_groups_written_append_by_append_keep_each_outcome_too(recorder: RegistryPostgresRecorder) -> None:
    """The savepoint path (what a group with a conflict falls back to), forced for every group."""
    recorder.two_round_trips = False
    taken = uuid.uuid4()
    recorder.insert_events([_event(taken, 1)])
    outcomes: dict[uuid.UUID, bool] = {}
    lock = threading.Lock()

    def work(i: int) -> None:
        for k in range(PER_THREAD):
            fresh = uuid.uuid4()
            events = [_event(fresh, 1)] + ([_event(taken, 1)] if (i + k) % 4 == 0 else [])
            try:
                recorder.insert_events(events)
                ok = True
            except IntegrityError:
                ok = False
            with lock:
                outcomes[fresh] = ok

    _run_threads(work)
    stored = {n.originator_id for n in recorder.select_notifications(start=None, limit=10**6)}
    assert recorder.fast_groups == 0 and recorder.single_trip_groups == 0
    assert {a for a, ok in outcomes.items() if ok} == stored - {taken}
    assert not any(outcomes[a] for a in outcomes if a not in stored)


def test_serial_claims_stay_unique_when_claimed_in_one_group(recorder: RegistryPostgresRecorder) -> None:
    winners: list[uuid.UUID] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        for k in range(10):
            batch = uuid.uuid4()
            try:
                recorder.insert_events([_event(batch, 1)], serial_claims=[(f"SN-{k:03d}", batch)])
            except IntegrityError:
                continue
            with lock:
                winners.append(batch)

    _run_threads(work)
    assert len(winners) == 10  # one winner per serial
    claimed = recorder.claimed([f"SN-{k:03d}" for k in range(10)])
    assert sorted(claimed.values()) == sorted(winners)
    stored = {n.originator_id for n in recorder.select_notifications(start=None, limit=10**6)}
    assert stored == set(winners)  # the losers' events went with their claims


def test_a_tailing_reader_never_sees_a_later_position_before_an_earlier_one(recorder: RegistryPostgresRecorder) -> None:
    seen: list[int] = []
    stop = threading.Event()

    def tail() -> None:
        last = 0
        while not stop.is_set():
            for n in recorder.select_notifications(start=last, limit=1000, inclusive_of_start=False):
                seen.append(n.id)
                last = n.id
            time.sleep(0.0005)

    reader = threading.Thread(target=tail)
    reader.start()
    try:
        _run_threads(lambda i: [recorder.insert_events([_event(uuid.uuid4(), 1)]) for _ in range(PER_THREAD)])
    finally:
        time.sleep(0.05)
        stop.set()
        reader.join()
    final = [n.id for n in recorder.select_notifications(start=None, limit=10**6)]
    # A reader that skipped a position (because N+1 committed before N) would miss it for good.
    assert seen == final


def test_the_journal_has_one_verified_leaf_per_event_after_group_commits(recorder: RegistryPostgresRecorder) -> None:
    from registry.journal.service import Journal

    _run_threads(lambda i: [recorder.insert_events([_event(uuid.uuid4(), 1)]) for _ in range(10)])
    report = Journal(recorder).verify_store(allow_unsigned_tail=True)
    assert report.ok, report.problem
    assert report.events == report.size == THREADS * 10


def test_the_databases_leaves_and_head_are_the_bytes_the_python_journal_makes(
    recorder: RegistryPostgresRecorder,
) -> None:
    """Leaves, frontier and root from the database function (one round trip) equal those the
    Python code computes from the same stored events, over trees of every size up to 70 (each
    frontier shape of up to 7 levels), with multi-byte topics and states of every length."""
    from registry.journal.leaf import event_leaf_hash
    from registry.journal.merkle import Frontier

    journal = recorder.journal
    expected = Frontier()
    for n in range(70):
        agg = uuid.uuid4()
        state = bytes(range(256))[: n * 7 % 256] + "é€".encode() * n
        events = [StoredEvent(originator_id=agg, originator_version=v, topic=f"t:É{n}", state=state)
                  for v in range(1, 1 + n % 3 + 1)]
        ids = recorder.insert_events(events)
        assert ids is not None
        for nid, e in zip(ids, events, strict=True):
            expected.append(event_leaf_hash(nid, agg.bytes, e.originator_version, e.topic, e.state))
        with recorder.datastore.get_connection() as conn, conn.cursor() as cur:
            head = journal.read_head(cur)
            cur.execute(f"SELECT root FROM {journal.head} WHERE id = 1")
            root = bytes(cur.fetchone()["root"])
            leaves = [h for _, _, h in journal.iter_leaves(cur)]
        assert head is not None
        assert (head.size, head.hashes) == (expected.size, expected.hashes)
        assert root == expected.root()
    probe = Frontier()
    probe.extend(leaves)
    assert probe.root() == expected.root()
    if recorder.one_round_trip:
        assert (recorder.fast_groups, recorder.single_trip_groups) == (0, 70)


def test_a_store_without_a_journal_head_is_backfilled_by_the_python_path_then_goes_one_trip(
    recorder: RegistryPostgresRecorder,
) -> None:
    """Events from before the journal: the database function refuses (nothing commits without
    its leaf), the two-round-trip write backfills them, and the next group goes in one trip."""
    from registry.journal.service import Journal

    recorder.insert_events([_event(uuid.uuid4(), 1)])
    with recorder.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute(f"DELETE FROM {recorder.journal.leaves}")
        cur.execute(f"DELETE FROM {recorder.journal.head}")
    recorder.insert_events([_event(uuid.uuid4(), 1)])
    recorder.insert_events([_event(uuid.uuid4(), 1)])
    report = Journal(recorder).verify_store(allow_unsigned_tail=True)
    assert report.ok, report.problem
    assert report.events == report.size == 3
    if recorder.one_round_trip:
        assert (recorder.fast_groups, recorder.single_trip_groups) == (1, 2)  # 1: the backfill


def test_conflicts_again_and_again_leave_the_connections_fit_for_the_next_appends(
    recorder: RegistryPostgresRecorder,
) -> None:
    """Alone and in groups, dozens of conflicts (more than psycopg's auto-prepare threshold of 5
    uses per statement) and every append after them still commits: nothing half-prepared stays behind."""
    taken = uuid.uuid4()
    recorder.insert_events([_event(taken, 1)])
    written = 0
    for _ in range(30):  # one thread: every append is a group of one
        with pytest.raises(IntegrityError):
            recorder.insert_events([_event(taken, 1)])
        assert recorder.insert_events([_event(uuid.uuid4(), 1)])
        written += 1

    def work(i: int) -> None:
        for k in range(20):
            if k % 2:
                with pytest.raises(IntegrityError):
                    recorder.insert_events([_event(taken, 1)])
            else:
                assert recorder.insert_events([_event(uuid.uuid4(), 1)])

    _run_threads(work)
    written += THREADS * 10
    assert len(recorder.select_notifications(start=None, limit=10**6)) == written + 1


def test_the_group_write_is_chosen_by_a_setting(postgres_url: str) -> None:
    chosen = {}
    for value in ("one", "two"):
        registry = build_registry(Settings(database_url=postgres_url, pg_group_write=value))
        rec = registry.recorder
        assert isinstance(rec, RegistryPostgresRecorder)
        rec.insert_events([_event(uuid.uuid4(), 1)])
        rec.insert_events([_event(uuid.uuid4(), 1)])
        chosen[value] = (rec.single_trip_groups, rec.fast_groups)
        registry.close()
    assert chosen["one"] == (2, 0)
    assert chosen["two"] == (0, 2)


def test_an_empty_store_starts_with_an_empty_journal_head_and_positions_from_one(postgres_url: str) -> None:
    """So its first write goes in one round trip, and no failed try skipped the first positions."""
    registry = build_registry(Settings(database_url=postgres_url))
    rec = registry.recorder
    assert isinstance(rec, RegistryPostgresRecorder)
    try:
        with rec.datastore.get_connection() as conn, conn.cursor() as cur:
            head = rec.journal.read_head(cur)
        assert head is not None and head.size == 0
        assert rec.insert_events([_event(uuid.uuid4(), 1), _event(uuid.uuid4(), 1)]) == [1, 2]
        assert (rec.single_trip_groups, rec.fast_groups) == (1, 0)
    finally:
        registry.close()


def test_a_store_without_the_journal_function_is_written_the_two_round_trip_way(
    recorder: RegistryPostgresRecorder,
) -> None:
    """A store whose tables an older version created (no function): appends still commit, with
    their leaves, and the recorder stops trying the one-round-trip write."""
    from registry.journal.service import Journal

    recorder.insert_events([_event(uuid.uuid4(), 1)])
    with recorder.datastore.get_connection() as conn:
        conn.execute(f"DROP FUNCTION {recorder.journal.sql_extend.removeprefix('SELECT ')}")
    assert recorder.insert_events([_event(uuid.uuid4(), 1)])
    assert recorder.insert_events([_event(uuid.uuid4(), 1)])
    assert recorder.one_round_trip is False
    report = Journal(recorder).verify_store(allow_unsigned_tail=True)
    assert report.ok, report.problem
    assert report.events == report.size == 3
