"""Statements and round trips per command type, on SQLite and PostgreSQL: counted, not timed.

    python -m bench.statements [--store sqlite|postgres|both] [--batches 2] [--show]

The registry application runs in process (no gRPC, no projections) on a fresh store: the demo's
reference data, one warm-up batch life per program of the workload, then ``--batches`` batch lives of the bench workload
(``bench.workload.batch_life``: 11 commands each, every one with a request_id). For every command
the counter records what the registry sent to the database, in two parts:

* **the command's own statements** (reads: the log head, the request record, aggregates that are
  not cached, existence checks, ...): on SQLite every statement the connection ran (``BEGIN`` and
  ``ROLLBACK`` included: each is a call into SQLite); on PostgreSQL every statement, and every
  **round trip** (a request the client sends and then waits for: an unprepared statement is one, a
  statement's first use with ``prepare=True`` is two: PREPARE, then EXECUTE);
* **the append** (``recorder.insert_events``: events, claims, journal, commit), counted apart as
  one unit, with the statements it ran for information. Its round trips belong to the group
  commit (registry/infrastructure/group_commit.py: 3 for one append on PostgreSQL).

Counts are per command and exact: the workload is deterministic, and after the warm-up every
reference aggregate is cached. ``tests/integration/test_command_statements.py`` pins them.

How: SQLite connections get ``set_trace_callback``; on PostgreSQL psycopg's ``Cursor.execute`` /
``executemany`` and the connection's ``_exec_command`` (BEGIN, COMMIT) count statements and the
generator that waits for a statement's results (``psycopg.generators.execute``) counts round trips.
Statements queued in a pipeline never wait on their own, so they count no round trip here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.workload import PROGRAMS, batch_life, reference_steps
from registry.application.service import Registry
from registry.bootstrap import build_registry
from registry.demo.load import run_step
from registry.demo.server_process import planned_settings


@dataclass
class Tally:
    """What one command sent: its own statements and round trips, and those of its append."""

    statements: int = 0
    round_trips: int = 0
    appends: int = 0
    append_statements: int = 0
    texts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"statements": self.statements, "round_trips": self.round_trips,
                "appends": self.appends, "append_statements": self.append_statements}


class StatementCounter:
    """Counts the registry's statements and round trips per command (see the module docstring).

    Install it (:meth:`installed`) before the registry opens its connections, wrap the registry's
    recorder (:meth:`watch`), then run each command inside :meth:`command`.
    """

    def __init__(self, keep_texts: bool = False) -> None:
        self.keep_texts = keep_texts
        self._local = threading.local()
        self._lock = threading.Lock()
        self.tally = Tally()

    # ----------------------------------------------------------------- what is counted
    def _in_append(self) -> bool:
        return bool(getattr(self._local, "append", False))

    def statement(self, text: str, n: int = 1) -> None:
        with self._lock:
            if self._in_append():
                self.tally.append_statements += n
                return
            self.tally.statements += n
            if self.keep_texts:
                self.tally.texts.append(" ".join(text.split())[:110])

    def round_trip(self) -> None:
        if self._in_append():
            return
        with self._lock:
            self.tally.round_trips += 1

    @contextlib.contextmanager
    def command(self) -> Iterator[Tally]:
        """Count what runs inside into a fresh :class:`Tally`, which the caller gets."""
        self.tally = Tally()
        yield self.tally

    # ----------------------------------------------------------------- the hooks
    def watch(self, registry: Registry) -> None:
        """Count the recorder's appends as units (their statements apart from the command's)."""
        recorder = registry.recorder
        original: Callable[..., Any] = recorder.insert_events

        def insert_events(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.tally.appends += 1
            self._local.append = True
            try:
                return original(*args, **kwargs)
            finally:
                self._local.append = False

        recorder.insert_events = insert_events  # type: ignore[method-assign]

    @contextlib.contextmanager
    def installed(self) -> Iterator[StatementCounter]:
        """Hook SQLite's new connections and psycopg while the block runs."""
        from eventsourcing.sqlite import SQLiteConnectionPool

        create = SQLiteConnectionPool._create_connection
        counter = self

        def traced(pool: SQLiteConnectionPool) -> Any:
            connection = create(pool)
            connection._sqlite_conn.set_trace_callback(counter._traced_sqlite)
            return connection

        undo = self._hook_psycopg()
        SQLiteConnectionPool._create_connection = traced  # type: ignore[method-assign,assignment]
        try:
            yield self
        finally:
            SQLiteConnectionPool._create_connection = create  # type: ignore[method-assign]
            undo()

    def _traced_sqlite(self, text: str) -> None:
        self.statement(text)
        self.round_trip()

    def _hook_psycopg(self) -> Callable[[], None]:
        import psycopg
        from psycopg import _connection_base, _cursor_base, generators

        counter = self
        execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany
        exec_command = _connection_base.BaseConnection._exec_command
        waits = generators.execute

        def counted_execute(cur: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            counter.statement(_text(query, cur))
            return execute(cur, query, *args, **kwargs)

        def counted_executemany(cur: Any, query: Any, params_seq: Any, *args: Any, **kwargs: Any) -> Any:
            params = list(params_seq)
            counter.statement(_text(query, cur), len(params))
            return executemany(cur, query, params, *args, **kwargs)

        def counted_command(conn: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
            counter.statement(_text(command, conn))
            return exec_command(conn, command, *args, **kwargs)

        def counted_wait(pgconn: Any) -> Any:
            counter.round_trip()
            return (yield from waits(pgconn))

        psycopg.Cursor.execute = counted_execute  # type: ignore[method-assign,assignment]
        psycopg.Cursor.executemany = counted_executemany  # type: ignore[method-assign,assignment]
        _connection_base.BaseConnection._exec_command = counted_command  # type: ignore[method-assign,assignment]
        generators.execute = counted_wait
        _cursor_base.execute = counted_wait  # type: ignore[attr-defined]

        def undo() -> None:
            psycopg.Cursor.execute = execute  # type: ignore[method-assign]
            psycopg.Cursor.executemany = executemany  # type: ignore[method-assign]
            _connection_base.BaseConnection._exec_command = exec_command  # type: ignore[method-assign]
            generators.execute = waits
            _cursor_base.execute = waits  # type: ignore[attr-defined]

        return undo


def _text(query: Any, context: Any) -> str:
    if isinstance(query, bytes):
        return query.decode(errors="replace")
    if isinstance(query, str):
        return query
    try:
        return str(query.as_string(getattr(context, "connection", context)))
    except Exception:
        return repr(query)


# ---------------------------------------------------------------------------- the workload
WARM_UP_BATCHES = len(PROGRAMS)  # every (buyer, site, model) combination once: all cached


def _warm_up(counter: StatementCounter, app: Registry, tag: str) -> None:
    """Watch ``app``, load the reference data and run one batch life per program, so that every
    reference aggregate is cached before anything is counted."""
    counter.watch(app)
    for step in reference_steps():
        run_step(app, step)
    for n in range(WARM_UP_BATCHES):
        for step in batch_life(f"{tag}w", 0, n):
            run_step(app, step)


def count_batch_lives(url: str, batches: int = 2, keep_texts: bool = False,
                      tag: str = "stmts") -> dict[str, list[Tally]]:
    """Run the bench workload's batch lives on a fresh registry at ``url``; every command's
    :class:`Tally`, by command type (the step's method), in order."""
    counter = StatementCounter(keep_texts)
    with counter.installed():
        app = build_registry(planned_settings(url))
        try:
            _warm_up(counter, app, tag)
            found: dict[str, list[Tally]] = {}
            for n in range(batches):
                for step in batch_life(tag, 1, n):
                    with counter.command() as tally:
                        run_step(app, step)
                    found.setdefault(step.method, []).append(tally)
            return found
        finally:
            app.close()


def count_concurrent(url: str, clients: int, lives: int, tag: str = "stmtc") -> dict[str, float]:
    """``clients`` threads run ``lives`` batch lives each at once (after the same warm-up): the
    statements and round trips per command over the whole run, and the cache's head scans.

    Threads of one process writing at once is the server's shape at 16 clients: a head read may
    see another thread's commit before that thread has put its aggregates in the cache."""
    counter = StatementCounter()
    with counter.installed():
        app = build_registry(planned_settings(url))
        try:
            _warm_up(counter, app, tag)
            lean = app._lean
            scans = lean.fast_forwards if lean is not None else 0
            reads = Counter[str]()
            original = app.recorder.select_events

            def select_events(*args: Any, **kwargs: Any) -> Any:
                reads["select_events"] += 1
                return original(*args, **kwargs)

            app.recorder.select_events = select_events  # type: ignore[method-assign]
            errors: list[BaseException] = []

            def client(k: int) -> None:
                try:
                    for n in range(lives):
                        for step in batch_life(tag, k + 1, n):
                            run_step(app, step)
                except BaseException as e:  # reported below
                    errors.append(e)

            with counter.command() as tally:
                threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
            if errors:
                raise errors[0]
            commands = clients * lives * len(batch_life(tag, 1, 0))
            return {
                "commands": commands,
                "statements": tally.statements / commands,
                "round_trips": tally.round_trips / commands,
                "appends": tally.appends / commands,
                "head_scans": ((lean.fast_forwards if lean is not None else 0) - scans) / commands,
                "select_events": reads["select_events"] / commands,
            }
        finally:
            app.close()


def per_command(found: dict[str, list[Tally]]) -> dict[str, dict[str, int]]:
    """One tally per command type: the first seen, checked equal for every later one."""
    result: dict[str, dict[str, int]] = {}
    for method, tallies in found.items():
        first = tallies[0].as_dict()
        for other in tallies[1:]:
            if other.as_dict() != first:
                raise AssertionError(f"{method}: counts differ between batches: {first} != {other.as_dict()}")
        result[method] = first
    return result


def _table(counts: dict[str, dict[str, dict[str, int]]]) -> str:
    stores = list(counts)
    header = ["command"]
    for s in stores:
        header += [f"{s} statements", f"{s} round trips"] if s == "postgres" else [f"{s} statements"]
    header += ["appends", *(f"{s} append statements" for s in stores)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    methods = list(next(iter(counts.values())))
    totals: Counter[str] = Counter()
    for m in methods:
        row = [m]
        for s in stores:
            c = counts[s][m]
            row.append(str(c["statements"]))
            totals[f"{s}.statements"] += c["statements"]
            if s == "postgres":
                row.append(str(c["round_trips"]))
                totals[f"{s}.round_trips"] += c["round_trips"]
        row.append(str(counts[stores[0]][m]["appends"]))
        row += [str(counts[s][m]["append_statements"]) for s in stores]
        lines.append("| " + " | ".join(row) + " |")
    n = len(methods)
    mean = ["mean of the 11-command life (install, ship, receive: twice)"]
    lives = batch_life("x", 1, 0)
    for s in stores:
        keys = ["statements", "round_trips"] if s == "postgres" else ["statements"]
        for k in keys:
            total = sum(counts[s][step.method][k] for step in lives)
            mean.append(f"{total / len(lives):.2f}")
    mean += ["", *([""] * len(stores))]
    del n
    lines.append("| " + " | ".join(mean) + " |")
    return "\n".join(lines)


def _pg_url() -> str:
    from bench.command_cpu import postgres_url

    return postgres_url()


def _drop(url: str) -> None:
    from bench.command_cpu import drop_schema

    drop_schema(url)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.statements")
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--batches", type=int, default=2)
    parser.add_argument("--show", action="store_true", help="print each command type's statements")
    parser.add_argument("--json", type=Path, help="also write the counts here")
    parser.add_argument("--clients", type=int, default=0,
                        help="also run this many clients at once (threads) and count per command")
    args = parser.parse_args()
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    counts: dict[str, dict[str, dict[str, int]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for store in stores:
            url = f"sqlite:///{Path(tmp) / 'statements.db'}" if store == "sqlite" else _pg_url()
            try:
                found = count_batch_lives(url, args.batches, keep_texts=args.show)
            finally:
                if store == "postgres":
                    _drop(url)
            counts[store] = per_command(found)
            if args.show:
                for method, tallies in found.items():
                    print(f"--- {store} {method}")
                    for text in tallies[0].texts:
                        print(f"    {text}")
    print(_table(counts))
    if args.clients:
        with tempfile.TemporaryDirectory() as tmp:
            for store in stores:
                url = f"sqlite:///{Path(tmp) / 'concurrent.db'}" if store == "sqlite" else _pg_url()
                try:
                    got = count_concurrent(url, args.clients, args.batches)
                finally:
                    if store == "postgres":
                        _drop(url)
                print(f"{store}, {args.clients} clients at once, {got['commands']:.0f} commands; per command: "
                      f"statements {got['statements']:.2f}, round trips {got['round_trips']:.2f}, "
                      f"appends {got['appends']:.2f}, head scans {got['head_scans']:.3f}, "
                      f"select_events (aggregate loads and existence checks) {got['select_events']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(counts, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
