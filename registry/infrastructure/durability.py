"""Group fsync for SQLite: many commands made durable by one fsync, off the command thread.

With SQLite's default ``synchronous=FULL`` every commit fsyncs the write-ahead log before it
returns: about 1.2 ms per command on the benchmark machine, a quarter to a third of what a
command costs the server, spent with the one command thread doing nothing else.

``gpureg serve`` on a SQLite file instead commits with ``synchronous=NORMAL`` (the commit is
written to the WAL, not yet synced) and answers a command only after a :class:`WalSync` has
fsynced the WAL *after* that commit. The sync runs on its own thread, so the command thread goes
on to the next command meanwhile, and one fsync covers every commit that finished before it
started. Nothing is acknowledged before it is on disk, so "an acknowledged command is never
lost" holds as before (tests/integration/test_wal_sync.py). The WAL only grows at its end and
SQLite's recovery keeps a prefix of whole transactions, so a power loss can never keep a later
command and lose an earlier one.

What changes is visibility, not durability: a command's effects are visible from its commit, up
to a millisecond or two before its fsync. The *log*, as projections, subscribers and reports read
it, never shows that window: a log read notes the head, fsyncs the WAL and reads no further
(``RegistrySQLiteRecorder.select_notifications``), so no read model and no subscriber's copy can
hold an event that a power loss would take back (the next event would reuse its position).
What can show a non-durable state is a query of an aggregate's current state (``GetBatch``)
and the decisions of the commands that follow; after a power loss in that window the query's
answer is taken back together with the command, and no client was told the command succeeded.

Every path that writes with ``synchronous=NORMAL`` must wait for :meth:`WalSync.durable` (or the
``done`` of :meth:`WalSync.request` made after its commit) before it acknowledges anything; in the
server that is the command lane (``registry.server.concurrency``), whose thread requests the fsync
as soon as a command returns.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable

Done = Callable[[BaseException | None], None]


class WalSync:
    """Fsyncs one SQLite database's WAL file for whoever asks, in groups, on a thread of its own."""

    def __init__(self, database_path: str) -> None:
        self.wal_path = database_path + "-wal"
        self._cond = threading.Condition()
        self._waiting: list[Done] = []
        self._closed = False
        self._thread: threading.Thread | None = None
        self.syncs = 0  # fsyncs done (for tests and the curious)
        self.requests = 0  # durability asked for

    def request(self, done: Done) -> None:
        """Call ``done(None)`` once everything committed before this call is on disk, or
        ``done(error)`` if the fsync failed. ``done`` runs on the sync thread: keep it quick."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the WAL sync is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="wal-sync", daemon=True)
                self._thread.start()
            self._waiting.append(done)
            self.requests += 1
            self._cond.notify()

    async def durable(self) -> None:
        """Return once every commit that finished before this call is on disk (raises OSError
        if the fsync failed: the caller must not acknowledge)."""
        loop = asyncio.get_running_loop()
        settled: asyncio.Future[None] = loop.create_future()

        def done(error: BaseException | None) -> None:
            loop.call_soon_threadsafe(_settle, settled, error)

        self.request(done)
        await settled

    def sync(self) -> None:
        """Fsync the WAL now, in this thread."""
        try:
            fd = os.open(self.wal_path, os.O_RDONLY)
        except FileNotFoundError:
            # No WAL file: SQLite removes it only when the last connection closes, after a
            # checkpoint that copied every commit into the database file and synced that.
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self.syncs += 1

    def close(self) -> None:
        """Sync what is waiting, stop the thread, and sync once more: a command still running
        when the server stopped (never acknowledged) reaches the disk too."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=30)
        self.sync()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._closed:
                    self._cond.wait()
                if not self._waiting:
                    return
                group, self._waiting = self._waiting, []
            error: BaseException | None = None
            try:
                self.sync()
            except OSError as e:
                error = e
            for done in group:
                done(error)


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # the awaiting call was cancelled
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
