"""The registry application: one method per use case, each load -> decide -> save.

Every command method:

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
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Notification, Recording

from registry.application import commands as c
from registry.application.compliance import ComplianceMixin
from registry.application.results import CommandResult
from registry.application.transcodings import register_domain_transcodings
from registry.domain.base import Context, RegistryAggregate
from registry.domain.batch import Clearance, GpuBatch
from registry.domain.claims import RequestRecord, normalise_serial
from registry.domain.errors import (
    AlreadyExists,
    ComplianceRefusal,
    ConcurrencyConflict,
    IdempotencyKeyReused,
    InvalidField,
    InvariantViolation,
    NotFound,
    SerialAlreadyRegistered,
)
from registry.domain.findings import FindingReview
from registry.domain.reference import ExportAuthorization, GpuModel, Party, Site
from registry.domain.screening import ScreeningCase, ScreeningList, ScreeningLists

A = TypeVar("A", bound=RegistryAggregate)

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
}
REFERENCE_COMMANDS: dict[str, type[c.Command]] = {
    "party": c.RegisterParty,
    "site": c.RegisterSite,
    "gpu_model": c.RegisterGpuModel,
    "authorization": c.RegisterAuthorization,
}

MAX_ATTEMPTS = 30
LOCK_STRIPES = 64
Decision = Callable[[Any], Sequence[RegistryAggregate]]


class Registry(ComplianceMixin, Application[UUID]):
    """The event-sourced GPU registry. Construct it through :func:`registry.bootstrap`."""

    name = "gpureg"
    snapshotting_intervals = {GpuBatch: 50}

    def __init__(
        self,
        env: dict[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
        snapshot_interval: int = 50,
        max_occurred_ahead: timedelta = c.MAX_CLOCK_SKEW,
    ) -> None:
        # Per instance, so tests can use a small interval without touching the class.
        self.snapshotting_intervals = {GpuBatch: snapshot_interval}  # type: ignore[misc]
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
        """Repository get, serialised per aggregate within this process (see _load_stripes)."""
        with self._load_stripes[hash(ident) % LOCK_STRIPES]:
            return self.repository.get(ident)

    def _exists(self, ident: UUID) -> bool:
        """Whether any event of ``ident`` is stored: one indexed read (no snapshot lookup, no
        replay), which matters because every command with a request_id asks it first."""
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
        if ident is None:
            return None
        try:
            return self._load(kind, ident)
        except NotFound:
            raise NotFound(kind, f"{ident} (field {field})") from None

    def _prior_result(self, command: str, request_id: str, fingerprint: str) -> CommandResult | None:
        record_id = RequestRecord.id_for(request_id)
        if not self._exists(record_id):
            return None
        record: object = self._get(record_id)
        assert isinstance(record, RequestRecord)
        if record.command != command or record.fingerprint != fingerprint:
            raise IdempotencyKeyReused(request_id, record.command)
        return CommandResult(
            aggregate_id=record.aggregate_id,
            version=record.aggregate_version,
            position=self.position_of(record.id, 1),
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
    ) -> CommandResult:
        """Run one command: idempotency, load, version check, decide, atomic save, retry."""
        ctx = self._context(actor, cmd)
        fingerprint = hashlib.sha256(f"{command}\n{cmd.fingerprint_payload()}".encode()).hexdigest()
        if cmd.request_id:
            prior = self._prior_result(command, cmd.request_id, fingerprint)
            if prior is not None:
                return prior
        stripe = self._stripes[hash(target_id) % LOCK_STRIPES]
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, 0.002 * min(attempt, 10)))  # noqa: S311 - jitter only
            with stripe:
                result = self._attempt(command, cmd, ctx, fingerprint, kind, target_id, decide)
            if result is not None:
                return result
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
    ) -> CommandResult | None:
        """One load -> decide -> save; None when a concurrent writer won and a retry may help."""
        current: Any = None
        if target_id is not None:
            current = self._load(kind, target_id)
            if cmd.expected_version is not None and current.version != cmd.expected_version:
                raise ConcurrencyConflict(target_id, cmd.expected_version, current.version)
        decision = _WithContext(ctx, current)
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
                RequestRecord.handled(ctx, command, fingerprint, primary.id, primary.version)
            )
        try:
            recordings = self.save(*changed, **decision.save_kwargs)
        except IntegrityError:
            if cmd.request_id:  # the writer that won may be this very request, sent twice at once
                prior = self._prior_result(command, cmd.request_id, fingerprint)
                if prior is not None:
                    return prior
            self._diagnose_conflict(command, cmd, fingerprint, changed, current, decision.save_kwargs)
            return None  # a concurrent writer moved the aggregate on: decide again
        result = CommandResult(
            aggregate_id=primary.id,
            version=primary.version,
            position=max(r.notification.id for r in recordings),
        )
        self._remember(changed)
        return result

    def _remember(self, saved: Sequence[RegistryAggregate]) -> None:
        """Put just-saved aggregates in the cache.

        With fast-forwarding on (several processes may write), the library leaves the cache
        alone on save, so the next load re-applied every event this process had just decided and
        applied once: each movement's per-serial work twice. A saved aggregate is exactly the
        stored state at its version; if another writer is further on, the next load
        fast-forwards from here as before. Loads hand out copies, so no decision mutates it.
        """
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
    ) -> None:
        """Say why an atomic write was refused; return only if retrying can help."""
        if cmd.request_id and self._exists(RequestRecord.id_for(cmd.request_id)):
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
                ) -> CommandResult:
        """Create an aggregate; ``make`` may return it alone or first among others to save with it."""
        new_id = ident or uuid4()

        def decide(w: _WithContext) -> list[RegistryAggregate]:
            if self._exists(new_id):
                raise AlreadyExists(kind, new_id)
            made = make(w.ctx, new_id)
            return [made] if isinstance(made, RegistryAggregate) else list(made)

        try:
            return self._execute(command, actor, cmd, kind, None, decide)
        except _Replay as r:
            return r.result

    def _change(self, command: str, actor: str, cmd: c.Command, kind: str, ident: UUID,
                decide: Decision) -> CommandResult:
        try:
            return self._execute(command, actor, cmd, kind, ident, decide)
        except _Replay as r:
            return r.result

    # ------------------------------------------------------------------- reference data
    def register_party(self, actor: str, cmd: c.RegisterParty) -> CommandResult:
        """Register a party and screen it against the latest list snapshots, in one write."""
        self._require("party", cmd.ultimate_parent_id, "ultimate_parent_id")

        def make(ctx: Context, i: UUID) -> list[RegistryAggregate]:
            party = Party.register(ctx, i, cmd.name, cmd.country, list(cmd.roles), cmd.headquarters_country,
                                   cmd.ultimate_parent_id, cmd.address)
            return [party, *self._screening_for(ctx, party)]

        return self._create("RegisterParty", actor, cmd, "party", cmd.party_id, make)

    def register_site(self, actor: str, cmd: c.RegisterSite) -> CommandResult:
        self._require("party", cmd.operator_id, "operator_id")
        return self._create("RegisterSite", actor, cmd, "site", cmd.site_id, lambda ctx, i: Site.register(
            ctx, i, cmd.name, cmd.operator_id, cmd.country, cmd.address, cmd.power_capacity_kw))

    def register_gpu_model(self, actor: str, cmd: c.RegisterGpuModel) -> CommandResult:
        return self._create("RegisterGpuModel", actor, cmd, "gpu_model", cmd.model_id, lambda ctx, i: GpuModel.register(
            ctx, i, cmd.vendor, cmd.name, dict(cmd.dense_tops), dict(cmd.bit_lengths),
            cmd.die_area_mm2, cmd.datacenter_marketed, cmd.tdp_watts, cmd.gpus_per_unit,
            cmd.part_number))

    def register_authorization(self, actor: str, cmd: c.RegisterAuthorization) -> CommandResult:
        for i, p in enumerate(cmd.consignee_ids):
            self._require("party", p, f"consignee_ids[{i}]")
        for i, p in enumerate(cmd.end_user_ids):
            self._require("party", p, f"end_user_ids[{i}]")
        return self._create("RegisterAuthorization", actor, cmd, "authorization", cmd.authorization_id,
                            lambda ctx, i: ExportAuthorization.register(
                                ctx, i, cmd.auth_type, cmd.number, list(cmd.eccns),
                                list(cmd.destination_countries), list(cmd.consignee_ids),
                                list(cmd.end_user_ids), cmd.valid_from, cmd.valid_to,
                                cmd.quantity_limit, cmd.value_limit, cmd.currency,
                                cmd.exception_code))

    def amend_reference(self, actor: str, cmd: c.AmendReference) -> CommandResult:
        """Correct reference data: the new values are validated by the register command's rules."""
        current = self._load(cmd.kind, cmd.target_id)
        model = REFERENCE_COMMANDS[cmd.kind]
        amendable = type(current).AMENDABLE
        unknown = sorted(set(cmd.fields) - amendable)
        if unknown:
            raise InvalidField(
                [(f"fields.{n}", f"not amendable; amendable: {sorted(amendable)}") for n in unknown]
            )
        state = {n: getattr(current, n) for n in model.model_fields if hasattr(current, n)}
        validated = c.parse(model, {**state, **cmd.fields})
        fields = {n: getattr(validated, n) for n in cmd.fields}

        def decide(w: _WithContext) -> list[RegistryAggregate]:
            w.current.amend(w.ctx, fields, cmd.reason)
            if cmd.kind == "party" and "name" in fields:  # a new name is screened in the same write
                return [w.current, *self._screening_for(w.ctx, w.current)]
            return [w.current]

        return self._change("AmendReference", actor, cmd, cmd.kind, cmd.target_id, decide)

    # -------------------------------------------------------------------------- batches
    def place_order(self, actor: str, cmd: c.PlaceOrder) -> CommandResult:
        self._require("party", cmd.supplier_id, "supplier_id")
        self._require("party", cmd.buyer_id, "buyer_id")
        self._require("gpu_model", cmd.model_id, "model_id")
        return self._create("PlaceOrder", actor, cmd, "batch", cmd.batch_id, lambda ctx, i: GpuBatch.order(
            ctx, i, cmd.po_number, cmd.supplier_id, cmd.buyer_id, cmd.model_id, cmd.quantity,
            cmd.unit_price, cmd.currency, cmd.allocation_program))

    def correct_order(self, actor: str, cmd: c.CorrectOrder) -> CommandResult:
        return self._change("CorrectOrder", actor, cmd, "batch", cmd.batch_id,
                            lambda w: w.then(lambda b: b.correct_order(w.ctx, cmd.changes(), cmd.reason)))

    def request_clearance(self, actor: str, cmd: c.RequestClearance) -> CommandResult:
        self._require("authorization", cmd.authorization_id, "authorization_id")
        self._require("party", cmd.consignee_id, "consignee_id")
        self._require("party", cmd.end_user_id, "end_user_id")
        return self._change("RequestClearance", actor, cmd, "batch", cmd.batch_id, lambda w: w.then(
            lambda b: b.request_clearance(w.ctx, cmd.authorization_id, cmd.eccn, cmd.destination_country,
                                          cmd.consignee_id, cmd.end_user_id, cmd.quantity, cmd.end_use)))

    def grant_clearance(self, actor: str, cmd: c.GrantClearance) -> CommandResult:
        """The registry's own decision, checked at the time of the decision (``occurred_at``).

        Refused (naming the rule) unless the authorization covers the batch (validity, destination,
        consignee, end user, ECCN), the model's computed classification matches the request, no
        party has a blocking screening hit, the destination and headquarters rules are satisfied,
        and the authorization has the quantity and value left. The batch's ``ClearanceGranted``
        (with the evidence) and the authorization's ``Drawn`` are saved in one atomic write.
        """
        def decide(w: _WithContext) -> list[RegistryAggregate]:
            batch: GpuBatch = w.current
            # Loaded once per attempt, fresh: its drawdown is part of this decision and this write.
            auth: ExportAuthorization = self._require("authorization", cmd.authorization_id, "authorization_id")
            clearance = batch.clearance
            quantity = cmd.cleared_quantity or min(
                int(clearance.get("requested_quantity", batch.quantity)), batch.quantity
            )
            if batch.clearance_status != Clearance.REQUESTED or not 0 < quantity <= batch.quantity:
                batch.grant_clearance(w.ctx, auth.id, "", "", quantity)  # raises: the domain's own refusal
            classification = self._classification_for_clearance(batch, w.ctx.occurred_at)
            eccn = classification.eccn or str(clearance.get("eccn", ""))
            self._check_authorization_covers(auth, batch, w.ctx.occurred_at, eccn)
            evidence = self._assess_clearance(w.ctx, batch, auth, classification)
            evidence["drawdown"] = self._draw_for_clearance(w.ctx, batch, auth, quantity)
            number = auth.number or auth.exception_code or "NLR"
            batch.grant_clearance(w.ctx, auth.id, number, eccn, quantity, evidence=evidence)
            return [batch, auth]

        return self._change("GrantClearance", actor, cmd, "batch", cmd.batch_id, decide)

    @staticmethod
    def _check_authorization_covers(
        auth: ExportAuthorization, batch: GpuBatch, when: datetime, eccn: str | None = None
    ) -> None:
        clearance = batch.clearance
        if not clearance:
            return  # the domain refuses: nothing was requested
        if not auth.is_valid_at(when):
            raise ComplianceRefusal(
                "authorization-validity",
                f"authorization {auth.number or auth.id} is valid {auth.valid_from:%Y-%m-%d} to "
                f"{auth.valid_to:%Y-%m-%d} and not at {when:%Y-%m-%d}" if auth.valid_to else
                f"authorization {auth.number or auth.id} is valid from {auth.valid_from:%Y-%m-%d}",
            )
        country = clearance.get("destination_country")
        if country not in auth.destination_countries:
            raise ComplianceRefusal(
                "authorization-destination",
                f"destination {country} is not among the authorization's {auth.destination_countries}",
            )
        if auth.consignee_ids and clearance.get("consignee_id") not in auth.consignee_ids:
            raise ComplianceRefusal(
                "authorization-consignee", "the ultimate consignee is not named on the authorization"
            )
        if auth.end_user_ids and clearance.get("end_user_id") not in auth.end_user_ids:
            raise ComplianceRefusal("authorization-end-user", "the end user is not named on the authorization")
        eccn = eccn if eccn is not None else str(clearance.get("eccn", ""))
        if auth.eccns and not any(eccn.startswith(e) for e in auth.eccns):
            raise ComplianceRefusal("authorization-eccn", f"ECCN {eccn} is not covered by {auth.eccns}")

    def deny_clearance(self, actor: str, cmd: c.DenyClearance) -> CommandResult:
        return self._change("DenyClearance", actor, cmd, "batch", cmd.batch_id,
                            lambda w: w.then(lambda b: b.deny_clearance(w.ctx, cmd.rule, cmd.reason)))

    def revoke_clearance(self, actor: str, cmd: c.RevokeClearance) -> CommandResult:
        """Revoke; the units drawn and not shipped go back to the authorization in the same write."""
        def decide(w: _WithContext) -> list[RegistryAggregate]:
            batch: GpuBatch = w.current
            batch.revoke_clearance(w.ctx, cmd.reason)
            return [batch, *self._return_on_revoke(w.ctx, batch, cmd.reason)]

        return self._change("RevokeClearance", actor, cmd, "batch", cmd.batch_id, decide)

    def register_serials(self, actor: str, cmd: c.RegisterSerials) -> CommandResult:
        """Register serials; each is claimed registry-wide in the same atomic write."""
        serials = [u.serial for u in cmd.units]
        uuids = [u.gpu_uuid for u in cmd.units]

        def decide(w: _WithContext) -> list[RegistryAggregate]:
            batch: GpuBatch = w.current
            batch.register_serials(w.ctx, serials, uuids)
            w.save_kwargs["serial_claims"] = [(s, batch.id) for s in serials]
            return [batch]

        return self._change("RegisterSerials", actor, cmd, "batch", cmd.batch_id, decide)

    def ship(self, actor: str, cmd: c.Ship) -> CommandResult:
        self._require("party", cmd.carrier_id, "carrier_id")
        self._require("site", cmd.destination_site_id, "destination_site_id")

        def decide(w: _WithContext) -> list[RegistryAggregate]:
            batch: GpuBatch = w.current
            self._refuse_shipment_parties(batch, cmd.carrier_id, cmd.destination_site_id)
            batch.ship(w.ctx, cmd.shipment_id, cmd.carrier_id, cmd.origin, cmd.destination_country,
                       cmd.destination_site_id, cmd.itn, cmd.quantity, cmd.serials)
            return [batch]

        return self._change("Ship", actor, cmd, "batch", cmd.batch_id, decide)

    def receive(self, actor: str, cmd: c.Receive) -> CommandResult:
        self._require("party", cmd.receiving_party_id, "receiving_party_id")
        self._require("site", cmd.site_id, "site_id")
        return self._change("Receive", actor, cmd, "batch", cmd.batch_id, lambda w: w.then(
            lambda b: b.receive(w.ctx, cmd.shipment_id, cmd.receiving_party_id, cmd.site_id,
                                cmd.quantity, cmd.serials, cmd.discrepancy_note)))

    def install(self, actor: str, cmd: c.Install) -> CommandResult:
        """Record an installation: one rack, or a report with one ``Installed`` event per
        placement, all in one atomic write (any refused placement refuses the whole report)."""
        self._require("site", cmd.site_id, "site_id")

        def decide(w: _WithContext) -> list[RegistryAggregate]:
            batch: GpuBatch = w.current
            if not cmd.placements:
                batch.install(w.ctx, cmd.site_id, cmd.rack, cmd.host, cmd.quantity, cmd.serials)
            for i, p in enumerate(cmd.placements):
                try:
                    batch.install(w.ctx, cmd.site_id, p.rack, p.host, None, p.serials)
                except InvalidField as e:
                    raise e.under(f"placements[{i}]") from None
                except InvariantViolation as e:
                    raise InvariantViolation(e.rule, f"placements[{i}]: {e.detail}") from None
            return [batch]

        return self._change("Install", actor, cmd, "batch", cmd.batch_id, decide)

    def assign(self, actor: str, cmd: c.Assign) -> CommandResult:
        self._require("party", cmd.assignee_id, "assignee_id")
        self._require("site", cmd.site_id, "site_id")

        def decide(w: _WithContext) -> list[RegistryAggregate]:
            batch: GpuBatch = w.current
            self._refuse_recipient(batch, cmd.assignee_id, "assignee", w.ctx.occurred_at)
            batch.assign(w.ctx, cmd.assignee_id, cmd.purpose, cmd.quantity, cmd.serials, cmd.site_id)
            return [batch]

        return self._change("Assign", actor, cmd, "batch", cmd.batch_id, decide)

    def transfer(self, actor: str, cmd: c.Transfer) -> CommandResult:
        self._require("party", cmd.to_owner_id, "to_owner_id")
        site: Site | None = self._require("site", cmd.to_site_id, "to_site_id")

        def decide(w: _WithContext) -> list[RegistryAggregate]:
            batch: GpuBatch = w.current
            self._refuse_recipient(batch, cmd.to_owner_id, "new owner", w.ctx.occurred_at)
            batch.transfer(w.ctx, cmd.to_owner_id, cmd.to_site_id, site.country if site else None,
                           cmd.reason, cmd.quantity, cmd.serials)
            return [batch]

        return self._change("Transfer", actor, cmd, "batch", cmd.batch_id, decide)

    def return_for_rma(self, actor: str, cmd: c.ReturnForRma) -> CommandResult:
        return self._change("ReturnForRma", actor, cmd, "batch", cmd.batch_id, lambda w: w.then(
            lambda b: b.return_for_rma(w.ctx, cmd.rma_number, cmd.reason, cmd.quantity, cmd.serials)))

    def report_lost(self, actor: str, cmd: c.ReportLost) -> CommandResult:
        return self._change("ReportLost", actor, cmd, "batch", cmd.batch_id, lambda w: w.then(
            lambda b: b.report_lost(w.ctx, cmd.kind, cmd.note, cmd.quantity, cmd.serials)))

    def decommission(self, actor: str, cmd: c.Decommission) -> CommandResult:
        return self._change("Decommission", actor, cmd, "batch", cmd.batch_id, lambda w: w.then(
            lambda b: b.decommission(w.ctx, cmd.method, cmd.quantity, cmd.serials)))

    def split_batch(self, actor: str, cmd: c.SplitBatch) -> CommandResult:
        """Split pending units into a child batch. The result names the CHILD batch."""
        child_id = cmd.child_batch_id or uuid4()
        if self._exists(child_id):
            raise AlreadyExists("batch", child_id)

        def decide(w: _WithContext) -> list[RegistryAggregate]:
            parent: GpuBatch = w.current
            child = parent.split(w.ctx, child_id, cmd.quantity, cmd.serials)
            w.save_kwargs["serial_moves"] = [(s, child_id) for s in child.units]
            return [child, parent, *self._move_on_split(w.ctx, parent, child)]

        return self._change("SplitBatch", actor, cmd, "batch", cmd.batch_id, decide)

    # -------------------------------------------------------------------------- queries
    def get_batch(self, batch_id: UUID, version: int | None = None) -> GpuBatch:
        if version is None:
            batch: GpuBatch = self._load("batch", batch_id)
            return batch
        try:
            agg: object = self.repository.get(batch_id, version=version)
        except AggregateNotFoundError:
            raise NotFound("batch", batch_id) from None
        if not isinstance(agg, GpuBatch):
            raise NotFound("batch", batch_id)
        return agg

    def batch_of_serial(self, serial: str) -> UUID:
        serial = normalise_serial(serial)
        batch = self.claimed([serial]).get(serial)
        if batch is None:
            raise NotFound("serial", serial)
        return batch

    def claimed(self, serials: Sequence[str]) -> dict[str, UUID]:
        """Which of these serials belong to a batch, and to which (the registry-wide index)."""
        claimed: Callable[[Sequence[str]], dict[str, UUID]] = self.recorder.claimed  # type: ignore[attr-defined]
        return claimed(serials)

    def history(self, aggregate_id: UUID, after_version: int = 0, limit: int = 100) -> list[DomainEventProtocol[UUID]]:
        """Events of one aggregate, oldest first, after ``after_version``, at most ``limit``."""
        return list(self.events.get(aggregate_id, gt=after_version, limit=limit))

    def read_log(self, after: int, limit: int, topics: Sequence[str] = ()) -> list[Notification]:
        """Raw notifications after position ``after`` (exclusive), oldest first."""
        return list(self.recorder.select_notifications(
            start=after, limit=limit, topics=topics, inclusive_of_start=False))

    def decode(self, notification: Notification) -> DomainEventProtocol[UUID]:
        return self.mapper.to_domain_event(notification)

    def iter_log(
        self, after: int = 0, page: int = 1000, stop: int | None = None
    ) -> Iterator[tuple[int, DomainEventProtocol[UUID]]]:
        """Decoded events with their positions, after ``after``, up to ``stop`` inclusive."""
        while True:
            batch = self.recorder.select_notifications(
                start=after, limit=page, stop=stop, inclusive_of_start=False)
            if not batch:
                return
            for n in batch:
                yield n.id, self.mapper.to_domain_event(n)
            after = batch[-1].id

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def position_of(self, aggregate_id: UUID, version: int) -> int:
        """Log position of one stored event (used to answer a replayed request)."""
        from registry.infrastructure.store import position_of  # import here: avoids a cycle

        return position_of(self.recorder, aggregate_id, version)


class _WithContext:
    """What a decision sees: the command's context and the current aggregate (or None)."""

    def __init__(self, ctx: Context, current: Any) -> None:
        self.ctx = ctx
        self.current = current
        self.save_kwargs: dict[str, Any] = {}  # passed to the recorder in the same transaction

    def then(self, act: Callable[[Any], object]) -> list[RegistryAggregate]:
        act(self.current)
        return [self.current]


class _Replay(Exception):  # control flow, never escapes this module
    def __init__(self, result: CommandResult | None) -> None:
        assert result is not None
        self.result = result
