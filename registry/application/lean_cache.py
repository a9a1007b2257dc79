"""The executor's aggregate cache, kept current by the log head instead of per-aggregate reads.

The library's repository fast-forwards every cached aggregate on every load: one ``SELECT`` of
newer events per aggregate a command touches, so that writes by other server processes are seen.
On a store with one server process that query almost always finds nothing. This cache asks the log
once per command how far it goes (the executor reads the head in the same statement as the
idempotency lookup) and compares that with :attr:`LogHeadCache.seen`: every log position up to
``seen`` is either a write of this process whose aggregates were put in the cache after it
committed, or was looked at and its aggregates dropped from the cache. If the head equals ``seen``
nobody else wrote, and cached aggregates are current without a query. If it is further on, the
aggregates with events in between are dropped (one ``SELECT DISTINCT originator_id``), and loaded
afresh when next needed (an aggregate the cache holds at the highest version found there, or
newer, is current and stays: typically this process's own write, remembered after a position it
did not write). Either way a stale decision cannot be saved: the store's unique
(aggregate, version) key refuses it and the executor decides again; this cache only decides how
often that happens.

The rules that keep it exact with several threads of this process writing at once (PostgreSQL):

* an aggregate goes into the cache only if the cache holds no newer version of it;
* a write this process made is remembered if its positions lie past ``seen``; if they do not, a
  head scan saw the commit before the writing thread got here (another thread read the head in
  between) and dropped its aggregates, and a later write by someone else may follow it: then an
  aggregate of the write is remembered only if its version is the highest any head scan saw for
  it, i.e. nothing up to ``seen`` follows it (positions up to ``seen`` that no scan looked at are
  this process's own remembered writes, whose aggregates the cache already holds, newer);
* an aggregate loaded from the store is cached only if no head scan ran while it was loaded.

The second half of the second rule matters with many threads: at 16 clients on PostgreSQL a
head read regularly lands between a group commit and its threads' ``remember``; without it every
such write cost its next command a full reload of the batch.

An aggregate dropped as out of date is kept aside (:attr:`LogHeadCache._dropped`, bounded): when
it is next needed, only the events after its version are read and applied to a copy of it, as the
library's repository fast-forwards a cached aggregate, instead of replaying its whole history (at
16 clients on PostgreSQL a hot shared aggregate of some 280 events was dropped and replayed from
its first event about a hundred times a minute). Events are never changed or removed, so an
aggregate at version v plus the store's events after v is the aggregate at the latest version.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Sequence
from copy import deepcopy
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository, project_aggregate
from eventsourcing.persistence import ApplicationRecorder

from registry.domain.base import RegistryAggregate
from registry.infrastructure.log_head import originators_between

ABSENT_MAX = 10_000
SCANNED_MAX = 10_000  # versions remembered from head scans (forgetting them only costs reloads)
DROPPED_MAX = 1_000  # out-of-date aggregates kept to catch up from (forgetting them only costs replays)


class LogHeadCache:
    def __init__(self, repository: Repository[UUID], recorder: ApplicationRecorder) -> None:
        assert repository.cache is not None
        self._repository = repository
        self._cache = repository.cache
        self._recorder = recorder
        self._lock = threading.Lock()
        self.seen = 0  # every log position up to here is reflected in (or dropped from) the cache
        self._ahead: set[int] = set()  # positions past `seen` of writes this process remembered
        self._scans = 0  # head scans so far (a load that overlapped one is not cached)
        self.fast_forwards = 0  # head scans that found other writers (for tests and profiles)
        self._filled = False  # nothing cached yet: nothing to drop
        # Aggregates looked for and not found (screening lists not configured yet, a party never
        # screened): asked on many commands, so the answer is kept under the same rules.
        self._absent: set[UUID] = set()
        # The highest version a head scan saw of each aggregate it dropped (see the second rule).
        self._scanned: dict[UUID, int] = {}
        # Aggregates dropped as out of date: a later load reads only their newer events.
        self._dropped: dict[UUID, Any] = {}
        self.catch_ups = 0  # loads that started from a dropped copy (for tests and profiles)

    def sync(self, head: int) -> None:
        """Make the cache current up to ``head``, a log head read just now."""
        if head <= self.seen:
            return
        with self._lock:
            if head <= self.seen:
                return
            ours = self._ahead
            if self._filled and not all(p in ours for p in range(self.seen + 1, head + 1)):
                self.fast_forwards += 1
                found = originators_between(self._recorder, self.seen, head)
                if len(self._scanned) + len(found) > SCANNED_MAX:
                    self._scanned.clear()
                for ident, version in found.items():
                    self._absent.discard(ident)
                    self._scanned[ident] = max(version, self._scanned.get(ident, 0))
                    with contextlib.suppress(KeyError):
                        if self._cache.get(ident).version < version:
                            self._drop(ident)
            self._scans += 1
            self.seen = head
            self._ahead = {p for p in ours if p > head}

    def get(self, ident: UUID) -> Any:
        """A private copy of the aggregate, from the cache if it is there (no query)."""
        try:
            cached = self._cache.get(ident)
        except KeyError:
            if ident in self._absent:
                raise AggregateNotFoundError(ident) from None
            scans = self._scans
            dropped = self._dropped.get(ident)
            try:
                if dropped is not None:
                    newer = self._repository.event_store.get(ident, gt=dropped.version)
                    loaded: Any = project_aggregate(deepcopy(dropped), newer)
                    self.catch_ups += 1
                else:
                    loaded = self._repository._reconstruct_aggregate(
                        ident, None, project_aggregate  # type: ignore[arg-type]  # the library's own default
                    )
            except AggregateNotFoundError:
                with self._lock:
                    if self._scans == scans:
                        if len(self._absent) >= ABSENT_MAX:
                            self._absent.clear()
                        self._absent.add(ident)
                raise
            with self._lock:
                if self._scans == scans:
                    self._put_if_newer(loaded)
                if dropped is not None and self._dropped.get(ident) is dropped:
                    self._dropped[ident] = loaded  # not cached (a scan ran): catch up from here next time
            return deepcopy(loaded)
        return deepcopy(cached)

    def holds(self, ident: UUID) -> bool:
        """Whether ``ident`` is in the cache: then it exists in the store (only committed
        aggregates are cached, and events are never removed). False says nothing."""
        try:
            self._cache.get(ident)
        except KeyError:
            return False
        return True

    def remember(self, saved: Sequence[RegistryAggregate], positions: Iterable[int]) -> None:
        """Put just-saved aggregates in the cache, and count their log positions as seen."""
        stored = sorted(positions)
        with self._lock:
            if not stored:
                return
            if stored[-1] <= self.seen:  # a head scan dropped them: keep those nothing follows
                for aggregate in saved:
                    if self._scanned.get(aggregate.id) == aggregate.version:
                        self._put_if_newer(aggregate)
                return
            for aggregate in saved:
                self._absent.discard(aggregate.id)
                self._put_if_newer(aggregate)
            self._ahead.update(stored)
            while self.seen + 1 in self._ahead:
                self.seen += 1
                self._ahead.discard(self.seen)

    def forget(self, idents: Iterable[UUID]) -> None:
        with self._lock:
            for ident in idents:
                self._absent.discard(ident)
                with contextlib.suppress(KeyError):
                    self._cache.get(ident, evict=True)

    def forget_older(self, tried: Iterable[RegistryAggregate]) -> None:
        """After a lost race: drop what the cache holds of these aggregates unless it is at least
        the version the losing write tried to store (then it is the winner's committed write, put
        here by its thread, and loading it again would only read the same)."""
        with self._lock:
            for aggregate in tried:
                self._absent.discard(aggregate.id)
                with contextlib.suppress(KeyError):
                    if self._cache.get(aggregate.id).version < aggregate.version:
                        self._drop(aggregate.id)

    def _drop(self, ident: UUID) -> None:
        """Evict an out-of-date aggregate from the cache and keep it to catch up from (under the lock)."""
        if len(self._dropped) >= DROPPED_MAX:
            self._dropped.clear()
        self._dropped[ident] = self._cache.get(ident, evict=True)

    def _put_if_newer(self, aggregate: Any) -> None:
        try:
            cached = self._cache.get(aggregate.id)
        except KeyError:
            cached = None
        if cached is None or cached.version < aggregate.version:
            self._cache.put(aggregate.id, aggregate)
            self._filled = True
            self._dropped.pop(aggregate.id, None)
