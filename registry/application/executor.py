"""The command executor: load -> decide -> one atomic save, with idempotency and retries.

One concept: how every command of the registry runs, whatever it decides. Every command method
of :class:`registry.application.service.Registry` (and of its use-case mixins) hands a decision
to :meth:`CommandExecutor._execute`, which

1. answers from the request record if its ``request_id`` was handled before (writing nothing);
2. loads the aggregate and checks ``expected_version``;
3. lets the domain decide (rules raise, nothing is written);
4. saves the new events, the uniqueness claims and the request record in ONE atomic write;
5. returns the aggregate id, its new version and the log position of the write.

If a concurrent writer wins the race in step 4 the store refuses the write (a duplicate
(aggregate, version) key). Without ``expected_version`` the command is re-run on the fresh state
(a few times); with it, the caller gets :class:`ConcurrencyConflict`. Either way no update is lost.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent, project_aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Recording, StoredEvent

from registry.application import commands as c
from registry.application.lean_cache import LogHeadCache
from registry.application.results import CommandResult
from registry.application.transcodings import register_domain_transcodings
from registry.domain.allocations import PartnerAllocation
from registry.domain.base import Context, RegistryAggregate
from registry.domain.batch import GpuBatch
from registry.domain.claims import RequestRecord
from registry.domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    IdempotencyKeyReused,
    NotFound,
    SerialAlreadyRegistered,
)
from registry.domain.findings import FindingReview
from registry.domain.host_agent import HostAgent
from registry.domain.legal_hold import LegalHold
from registry.domain.reference import ExportAuthorization, GpuModel, Party, Site
from registry.domain.screening import ScreeningCase, ScreeningList, ScreeningLists
from registry.infrastructure import log_head

KINDS: dict[str, type[RegistryAggregate]] = {
    "batch": GpuBatch,
    "party": Party,
    "site": Site,
    "gpu_model": GpuModel,
    "authorization": ExportAuthorization,
    "screening_list": ScreeningList,
    "screening_lists": ScreeningLists,
    "screening_case": ScreeningCase,
    "finding_review": FindingReview,
    "legal_hold": LegalHold,
    "allocation": PartnerAllocation,
    "host_agent": HostAgent,
}
MAX_ATTEMPTS = 30
LOCK_STRIPES = 64
Decision = Callable[[Any], Sequence[RegistryAggregate]]
# A reference a command makes to another aggregate: (kind, id or None, the command's field naming it).
Reference = tuple[str, UUID | None, str]


class CommandExecutor(Application[UUID]):
    """Load, decide, save, idempotency and retries; the Registry's use cases build on it."""

    def __init__(self, env: dict[str, str] | None = None, clock: Callable[[], datetime] | None = None,
                 max_occurred_ahead: timedelta = c.MAX_CLOCK_SKEW) -> None:
        super().__init__(env)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._max_ahead = max_occurred_ahead  # how far a command's occurred_at may be ahead of the clock
        # Writers in this process to the same aggregate take turns (striped locks); writers in
        # other processes are caught by the store's unique key and retried.
        self._stripes = [threading.Lock() for _ in range(LOCK_STRIPES)]
        # Loads of one aggregate take turns too: the repository's cache fast-forwards a shared
        # cached object, which must not change while another thread copies it.
        self._load_stripes = [threading.Lock() for _ in range(LOCK_STRIPES)]
        if not hasattr(self.recorder, "claimed") and self.env.get("SERIAL_INDEX", "on") != "off":
            msg = (
                f"{type(self.recorder).__qualname__} keeps no serial index, so serial uniqueness "
                "could not be enforced; build the registry with registry.bootstrap.build_registry "
                "(or set SERIAL_INDEX=off in the env, for benchmarks only)"
            )
            raise TypeError(msg)
        # The lean command path (registry/application/lean_cache.py): one log-head read per
        # command instead of one fast-forward SELECT per cached aggregate. LEAN_COMMANDS=off
        # restores the library's per-aggregate fast-forward (for side-by-side measurements).
        self._lean: LogHeadCache | None = None
        if (self.repository.cache is not None and log_head.supported(self.recorder)
                and self.env.get("LEAN_COMMANDS", "on") != "off"):
            self._lean = LogHeadCache(self.repository, self.recorder)
        self._in_command = threading.local()  # set while a command runs on this thread (head synced)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Like Application.save, minus two runtime Protocol checks per object.

        A serial registration saves one claim aggregate per serial; the library's generic
        isinstance(obj, <Protocol>) checks cost more than the write itself at that volume.
        """
        processing = ProcessingEvent[UUID]()
        for obj in objs:
            if isinstance(obj, RegistryAggregate):
                processing.events.extend(obj.collect_events())
                processing.aggregates[obj.id] = obj
            else:
                processing.collect_events(obj)
        processing.saved_kwargs.update(kwargs)
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        return recordings

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder)

    # ------------------------------------------------------------------------- plumbing
    def _context(self, actor: str, cmd: c.Command) -> Context:
        return Context(actor=actor, request_id=cmd.request_id, occurred_at=c.when(cmd, self._clock(), self._max_ahead))

    def _get(self, ident: UUID) -> Any:
        """Repository get, serialised per aggregate within this process (see _load_stripes).

        On the lean path a running command has synced the cache with the log head already; any
        other caller reads the head first (one query), so nobody gets an aggregate older than the
        log at the time of the call."""
        lean = self._lean
        if lean is not None:
            if not getattr(self._in_command, "synced", False):
                lean.sync(log_head.head_and_event(self.recorder, None)[0])
            return lean.get(ident)
        with self._load_stripes[hash(ident) % LOCK_STRIPES]:
            return self.repository.get(ident)

    def _exists(self, ident: UUID) -> bool:
        """Whether any event of ``ident`` is stored: yes if the cache holds it (an aggregate, once
        stored, never goes away), else one indexed read (no snapshot lookup, no replay)."""
        if self._lean is not None and self._lean.holds(ident):
            return True
        return bool(self.recorder.select_events(ident, limit=1))

    def _load(self, kind: str, ident: UUID) -> Any:
        cls = KINDS[kind]
        try:
            agg: object = self._get(ident)
        except AggregateNotFoundError:
            raise NotFound(kind, ident) from None
        if not isinstance(agg, cls):
            raise NotFound(kind, ident)
        return agg

    def get(self, kind: str, ident: UUID) -> Any:
        """Load a reference aggregate or batch by kind; NotFound if it is not of that kind."""
        return self._load(kind, ident)

    def _require(self, kind: str, ident: UUID | None, field: str) -> Any:
        """The aggregate a command's ``field`` names, or NotFound naming the field (None: None).

        Inside a command (a decision, or the ``references`` the executor checks) this reads the
        cache the command's one head read synced: no statement for a cached aggregate. Called
        before a command starts, it would read the log head first (see :meth:`_get`)."""
        if ident is None:
            return None
        try:
            return self._load(kind, ident)
        except NotFound:
            raise NotFound(kind, f"{ident} (field {field})") from None

    def _prior_result(self, command: str, request_id: str, fingerprint: str) -> CommandResult | None:
        return self._head_and_prior(command, request_id, fingerprint)[1]

    def _head_and_prior(
        self, command: str, request_id: str | None, fingerprint: str
    ) -> tuple[int | None, CommandResult | None]:
        """The log head (None off the lean path) and the earlier result of ``request_id``.

        On the lean path this is ONE statement: the head and the request record's only stored
        event (RequestRecord is created by one event and never changed), with its log position."""
        record_id = RequestRecord.id_for(request_id) if request_id else None
        if self._lean is not None:
            head, row = log_head.head_and_event(self.recorder, record_id, 1)
            if row is None or record_id is None:
                return head, None
            event = self.mapper.to_domain_event(StoredEvent(
                originator_id=record_id, originator_version=1, topic=row.topic, state=row.state))
            record: object = project_aggregate(None, [event])
            position = row.position
        else:
            if record_id is None or not self._exists(record_id):
                return None, None
            record = self._get(record_id)
            position = self.position_of(record_id, 1)
        assert isinstance(record, RequestRecord)
        if record.command != command or record.fingerprint != fingerprint:
            raise IdempotencyKeyReused(request_id or "", record.command)
        return None, CommandResult(
            aggregate_id=record.aggregate_id,
            version=record.aggregate_version,
            position=position,
            replayed=True,
        )

    def _execute(
        self,
        command: str,
        actor: str,
        cmd: c.Command,
        kind: str,
        target_id: UUID | None,
        decide: Decision,
        references: Sequence[Reference] = (),
        shared: Sequence[UUID] = (),
    ) -> CommandResult:
        """Run one command: idempotency, load, version check, decide, atomic save, retry.

        ``references`` are checked in each attempt, after the command's one read of the log head
        (and of its request record): every one must exist and be of its kind (NotFound naming the
        field, nothing written); the decision finds them loaded in ``WithContext.references``.
        ``shared``: aggregates besides the target that the decision writes and many commands share
        (the authorization a clearance draws down); their stripes are taken from the first attempt,
        so writers in this process take turns on them instead of losing a race to each other first."""
        ctx = self._context(actor, cmd)
        # The fingerprint (canonical JSON of the whole payload, hashed) only serves the request
        # record: a command without a request_id skips that JSON work.
        fingerprint = (
            hashlib.sha256(f"{command}\n{cmd.fingerprint_payload()}".encode()).hexdigest() if cmd.request_id else ""
        )
        head, prior = self._head_and_prior(command, cmd.request_id, fingerprint)
        if prior is not None:
            return prior
        # Creates (no target) take turns per request id, not all on one stripe: a new aggregate's
        # uniqueness is the store's (its first version's key), so creates can run side by side.
        stripes = {hash(target_id if target_id is not None else (cmd.request_id or uuid4())) % LOCK_STRIPES}
        stripes.update(hash(ident) % LOCK_STRIPES for ident in shared)
        # After a lost race the retry also takes the stripes of every aggregate the write touched
        # (e.g. the authorization a clearance draws down): writers in this process that share a hot
        # aggregate then take turns instead of racing each other through every retry. Stripes are
        # taken in index order, so two commands never wait on each other's stripes.
        lost = LostRaces()
        outer = getattr(self._in_command, "synced", False)
        try:
            for attempt in range(MAX_ATTEMPTS):
                if attempt:
                    time.sleep(random.uniform(0, 0.002 * min(attempt, 10)))  # noqa: S311 - jitter only
                    stripes.update(hash(ident) % LOCK_STRIPES for ident in lost.touched)
                if self._lean is not None:
                    if head is None:
                        head = log_head.head_and_event(self.recorder, None)[0]
                    self._lean.sync(head)
                    self._in_command.synced = True
                with ExitStack() as held:
                    for index in sorted(stripes):
                        held.enter_context(self._stripes[index])
                    result = self._attempt(command, cmd, ctx, fingerprint, kind, target_id, decide, lost,
                                           references)
                if result is not None:
                    return result
                # The next attempt syncs with the head read after the race was lost (with the request
                # record), which already includes the winner's write; else it reads the head again.
                head, lost.head = lost.head, None
        finally:
            self._in_command.synced = outer
        raise ConcurrencyConflict(target_id, cmd.expected_version, None)

    def _attempt(
        self,
        command: str,
        cmd: c.Command,
        ctx: Context,
        fingerprint: str,
        kind: str,
        target_id: UUID | None,
        decide: Decision,
        lost: LostRaces,
        references: Sequence[Reference] = (),
    ) -> CommandResult | None:
        """One load -> decide -> save; None when a concurrent writer won and a retry may help.

        On a lost race ``lost`` counts it and notes the aggregates the write touched.

        The winner's write is committed when the store refuses ours, so the next attempt's head
        sync drops from the cache whatever another process wrote, and a winner in this process
        puts its aggregates in the cache itself: after the first lost race nothing cached is
        dropped (the hot aggregate a clearance draws down is not reloaded and replayed). From
        the second on, what the cache holds older than this write's versions is dropped too, in
        case the cache is what keeps losing.
        """
        referenced = {field: self._require(kind_, ident, field) for kind_, ident, field in references}
        current: Any = None
        if target_id is not None:
            current = self._load(kind, target_id)
            if cmd.expected_version is not None and current.version != cmd.expected_version:
                raise ConcurrencyConflict(target_id, cmd.expected_version, current.version)
        decision = WithContext(ctx, current, referenced)
        try:
            changed = list(decide(decision))
        except AlreadyExists:
            # "already exists" may be this very request, sent twice at once (a client's retry racing
            # its first attempt, which committed after this one's idempotency check): a replay.
            prior = self._prior_result(command, cmd.request_id, fingerprint) if cmd.request_id else None
            if prior is not None:
                return prior
            raise
        primary = changed[0]
        if cmd.request_id:
            changed.append(
                RequestRecord.handled(ctx, command, fingerprint, primary.id, primary.version, cmd.epcis_event)
            )
        try:
            recordings = self.save(*changed, **decision.save_kwargs)
        except IntegrityError:
            lost.count += 1
            if self._lean is not None and lost.count > 1:
                self._lean.forget_older(changed)
            if cmd.request_id:  # the writer that won may be this very request, sent twice at once
                lost.head, prior = self._head_and_prior(command, cmd.request_id, fingerprint)
                if prior is not None:
                    return prior
            self._diagnose_conflict(command, cmd, fingerprint, changed, current, decision.save_kwargs,
                                    record_checked=bool(cmd.request_id))
            lost.touched.update(a.id for a in changed if not isinstance(a, RequestRecord))
            return None  # a concurrent writer moved the aggregate on: decide again
        result = CommandResult(
            aggregate_id=primary.id,
            version=primary.version,
            position=max(r.notification.id for r in recordings),
        )
        self._remember(changed, [r.notification.id for r in recordings])
        return result

    def _remember(self, saved: Sequence[RegistryAggregate], positions: Sequence[int] = ()) -> None:
        """Put just-saved aggregates in the cache.

        With fast-forwarding on (several processes may write), the library leaves the cache
        alone on save, so the next load re-applied every event this process had just decided and
        applied once: each movement's per-serial work twice. A saved aggregate is exactly the
        stored state at its version; if another writer is further on, the next load
        fast-forwards from here as before. Loads hand out copies, so no decision mutates it.
        """
        if self._lean is not None:
            self._lean.remember(saved, positions)
            return
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate in saved:
            cache.put(aggregate.id, aggregate)

    def _diagnose_conflict(
        self,
        command: str,
        cmd: c.Command,
        fingerprint: str,
        changed: list[RegistryAggregate],
        current: Any,
        save_kwargs: dict[str, Any],
        record_checked: bool = False,
    ) -> None:
        """Say why an atomic write was refused; return only if retrying can help.

        ``record_checked``: the caller has just looked for this request's record and found none."""
        if cmd.request_id and not record_checked and self._exists(RequestRecord.id_for(cmd.request_id)):
            raise _Replay(self._prior_result(command, cmd.request_id, fingerprint))
        primary = changed[0]
        if current is None and self._exists(primary.id):
            raise AlreadyExists(type(primary).__name__, primary.id)
        claims = save_kwargs.get("serial_claims", ())
        if claims:
            owners = self.claimed([s for s, _ in claims])
            taken = [s for s, batch in claims if owners.get(s, batch) != batch]
            if taken:
                raise SerialAlreadyRegistered(taken)
        if cmd.expected_version is not None:
            actual = self._get(primary.id).version if self._exists(primary.id) else None
            if actual != cmd.expected_version:
                raise ConcurrencyConflict(primary.id, cmd.expected_version, actual)
            # the primary is unchanged: another aggregate of the write (e.g. an authorization) moved on

    def _create(self, command: str, actor: str, cmd: c.Command, kind: str, ident: UUID | None,
                make: Callable[[Context, UUID], RegistryAggregate | Sequence[RegistryAggregate]],
                references: Sequence[Reference] = ()) -> CommandResult:
        """Create an aggregate; ``make`` may return it alone or first among others to save with it.

        Whether ``ident`` is taken is the store's answer, not a read before the write: the new
        aggregate's first version is a unique key, so a create of an existing id is refused by the
        append (nothing of it written) and :meth:`_diagnose_conflict` answers AlreadyExists, or
        the first result when it is this very request again. An id this process holds in its
        cache is refused without trying."""
        new_id = ident or uuid4()

        def decide(w: WithContext) -> list[RegistryAggregate]:
            if self._lean is not None and self._lean.holds(new_id):
                raise AlreadyExists(kind, new_id)
            made = make(w.ctx, new_id)
            return [made] if isinstance(made, RegistryAggregate) else list(made)

        try:
            return self._execute(command, actor, cmd, kind, None, decide, references)
        except _Replay as r:
            return r.result

    def _run(self, command: str, actor: str, cmd: c.Command, target: UUID | None,
             decide: Decision, references: Sequence[Reference] = ()) -> CommandResult:
        """Run a decision that makes its own aggregates (``target`` None) or changes ``target``;
        a retried request answers with its first result."""
        try:
            return self._execute(command, actor, cmd, "screening_case", target, decide, references)
        except _Replay as r:
            return r.result

    def _change(self, command: str, actor: str, cmd: c.Command, kind: str, ident: UUID,
                decide: Decision, references: Sequence[Reference] = (), shared: Sequence[UUID] = (),
                ) -> CommandResult:
        try:
            return self._execute(command, actor, cmd, kind, ident, decide, references, shared)
        except _Replay as r:
            return r.result

    def claimed(self, serials: Sequence[str]) -> dict[str, UUID]:
        """Which of these serials belong to a batch, and to which (the registry-wide index)."""
        claimed: Callable[[Sequence[str]], dict[str, UUID]] = self.recorder.claimed  # type: ignore[attr-defined]
        return claimed(serials)

    def position_of(self, aggregate_id: UUID, version: int) -> int:
        """Log position of one stored event (used to answer a replayed request)."""
        from registry.infrastructure.store import position_of  # import here: avoids a cycle

        return position_of(self.recorder, aggregate_id, version)


@dataclass
class LostRaces:
    """What the attempts of one command learnt from the races they lost."""

    count: int = 0
    touched: set[UUID] = field(default_factory=set)  # the aggregates the losing writes touched
    head: int | None = None  # the log head read after the last lost race (lean path)


class WithContext:
    """What a decision sees: the command's context, the current aggregate (or None) and the
    aggregates its references name, by field (None where the field was None)."""

    def __init__(self, ctx: Context, current: Any, references: dict[str, Any] | None = None) -> None:
        self.ctx = ctx
        self.current = current
        self.references = references or {}
        self.save_kwargs: dict[str, Any] = {}  # passed to the recorder in the same transaction

    def then(self, act: Callable[[Any], object]) -> list[RegistryAggregate]:
        act(self.current)
        return [self.current]


class _Replay(Exception):  # control flow, never escapes the executor
    def __init__(self, result: CommandResult | None) -> None:
        assert result is not None
        self.result = result
