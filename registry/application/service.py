"""The registry application: one method per use case of the batch lifecycle and reference data.

Each command method validates what it reads, then hands a decision (load -> decide -> one atomic
save) to the command executor (``registry/application/executor.py``: idempotency by request id,
optimistic concurrency, retries, so no update is lost). The compliance use cases
(``compliance.py``) and the allocation use cases (``allocations.py``) are mixins on the same
executor; queries on the log (a batch, its history, a serial's batch) are here too.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Notification

from registry.application import commands as c
from registry.application.allocations import AllocationsMixin
from registry.application.compliance import ComplianceMixin
from registry.application.executor import KINDS, CommandExecutor, WithContext
from registry.application.locations import LocationsMixin
from registry.application.results import CommandResult
from registry.domain.base import Context, RegistryAggregate
from registry.domain.batch import Clearance, GpuBatch
from registry.domain.claims import normalise_serial
from registry.domain.errors import (
    AlreadyExists,
    InvalidField,
    InvariantViolation,
    NotFound,
)
from registry.domain.host_agent import HostAgent
from registry.domain.policy import AuthorizationTerms, coverage_problems, refuse_first
from registry.domain.reference import ExportAuthorization, GpuModel, Party, Site

REFERENCE_COMMANDS: dict[str, type[c.Command]] = {
    "party": c.RegisterParty,
    "site": c.RegisterSite,
    "gpu_model": c.RegisterGpuModel,
    "authorization": c.RegisterAuthorization,
}

__all__ = ["KINDS", "REFERENCE_COMMANDS", "Registry"]


class Registry(ComplianceMixin, AllocationsMixin, LocationsMixin, CommandExecutor):
    """The event-sourced GPU registry. Construct it through :func:`registry.bootstrap`."""

    name = "gpureg"
    snapshotting_intervals = {GpuBatch: 50, HostAgent: 100}

    def __init__(
        self,
        env: dict[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
        snapshot_interval: int = 50,
        max_occurred_ahead: timedelta = c.MAX_CLOCK_SKEW,
    ) -> None:
        # Per instance, so tests can use a small interval without touching the class.
        self.snapshotting_intervals = {GpuBatch: snapshot_interval, HostAgent: 100}  # type: ignore[misc]
        super().__init__(env, clock, max_occurred_ahead)

    # ------------------------------------------------------------------- reference data
    def register_party(self, actor: str, cmd: c.RegisterParty) -> CommandResult:
        """Register a party and screen it against the latest list snapshots, in one write."""
        def make(ctx: Context, i: UUID) -> list[RegistryAggregate]:
            party = Party.register(ctx, i, cmd.name, cmd.country, list(cmd.roles), cmd.headquarters_country,
                                   cmd.ultimate_parent_id, cmd.address, cmd.immediate_parent_id,
                                   cmd.address_type, cmd.online_presence, cmd.forwarder_standing)
            return [party, *self._screening_for(ctx, party)]

        return self._create("RegisterParty", actor, cmd, "party", cmd.party_id, make, [
            ("party", cmd.ultimate_parent_id, "ultimate_parent_id"),
            ("party", cmd.immediate_parent_id, "immediate_parent_id"),
        ])

    def register_site(self, actor: str, cmd: c.RegisterSite) -> CommandResult:
        return self._create("RegisterSite", actor, cmd, "site", cmd.site_id, lambda ctx, i: Site.register(
            ctx, i, cmd.name, cmd.operator_id, cmd.country, cmd.address, cmd.power_capacity_kw),
            [("party", cmd.operator_id, "operator_id")])

    def register_gpu_model(self, actor: str, cmd: c.RegisterGpuModel) -> CommandResult:
        return self._create("RegisterGpuModel", actor, cmd, "gpu_model", cmd.model_id, lambda ctx, i: GpuModel.register(
            ctx, i, cmd.vendor, cmd.name, dict(cmd.dense_tops), dict(cmd.bit_lengths),
            cmd.die_area_mm2, cmd.datacenter_marketed, cmd.tdp_watts, cmd.gpus_per_unit,
            cmd.part_number))

    def register_authorization(self, actor: str, cmd: c.RegisterAuthorization) -> CommandResult:
        references = [
            *(("party", p, f"consignee_ids[{i}]") for i, p in enumerate(cmd.consignee_ids)),
            *(("party", p, f"intermediate_consignee_ids[{i}]") for i, p in enumerate(cmd.intermediate_consignee_ids)),
            *(("party", p, f"end_user_ids[{i}]") for i, p in enumerate(cmd.end_user_ids)),
        ]
        return self._create("RegisterAuthorization", actor, cmd, "authorization", cmd.authorization_id,
                            lambda ctx, i: ExportAuthorization.register(
                                ctx, i, cmd.auth_type, cmd.number, list(cmd.eccns),
                                list(cmd.destination_countries), list(cmd.consignee_ids),
                                list(cmd.end_user_ids), cmd.valid_from, cmd.valid_to,
                                cmd.quantity_limit, cmd.value_limit, cmd.currency,
                                cmd.exception_code, list(cmd.intermediate_consignee_ids)), references)

    def amend_reference(self, actor: str, cmd: c.AmendReference) -> CommandResult:
        """Correct reference data: the new values are validated by the register command's rules,
        against the state the decision sees (inside the command: no read before it)."""
        model = REFERENCE_COMMANDS[cmd.kind]

        def decide(w: WithContext) -> list[RegistryAggregate]:
            current = w.current
            amendable = type(current).AMENDABLE
            unknown = sorted(set(cmd.fields) - amendable)
            if unknown:
                raise InvalidField(
                    [(f"fields.{n}", f"not amendable; amendable: {sorted(amendable)}") for n in unknown]
                )
            state = {n: getattr(current, n) for n in model.model_fields if hasattr(current, n)}
            validated = c.parse(model, {**state, **cmd.fields})
            fields = {n: getattr(validated, n) for n in cmd.fields}
            current.amend(w.ctx, fields, cmd.reason)
            if cmd.kind == "party" and "name" in fields:  # a new name is screened in the same write
                return [current, *self._screening_for(w.ctx, current)]
            return [current]

        return self._change("AmendReference", actor, cmd, cmd.kind, cmd.target_id, decide)

    # -------------------------------------------------------------------------- batches
    def place_order(self, actor: str, cmd: c.PlaceOrder) -> CommandResult:
        return self._create("PlaceOrder", actor, cmd, "batch", cmd.batch_id, lambda ctx, i: GpuBatch.order(
            ctx, i, cmd.po_number, cmd.supplier_id, cmd.buyer_id, cmd.model_id, cmd.quantity,
            cmd.unit_price, cmd.currency, cmd.allocation_program), [
            ("party", cmd.supplier_id, "supplier_id"),
            ("party", cmd.buyer_id, "buyer_id"),
            ("gpu_model", cmd.model_id, "model_id"),
        ])

    def correct_order(self, actor: str, cmd: c.CorrectOrder) -> CommandResult:
        return self._change("CorrectOrder", actor, cmd, "batch", cmd.batch_id,
                            lambda w: w.then(lambda b: b.correct_order(w.ctx, cmd.changes(), cmd.reason)))

    def request_clearance(self, actor: str, cmd: c.RequestClearance) -> CommandResult:
        return self._change("RequestClearance", actor, cmd, "batch", cmd.batch_id, lambda w: w.then(
            lambda b: b.request_clearance(w.ctx, cmd.authorization_id, cmd.eccn, cmd.destination_country,
                                          cmd.consignee_id, cmd.end_user_id, cmd.quantity, cmd.end_use)), [
            ("authorization", cmd.authorization_id, "authorization_id"),
            ("party", cmd.consignee_id, "consignee_id"),
            ("party", cmd.end_user_id, "end_user_id"),
        ])

    def grant_clearance(self, actor: str, cmd: c.GrantClearance) -> CommandResult:
        """The registry's own decision, checked at the time of the decision (``occurred_at``).

        Refused (naming the rule) unless the authorization covers the batch (validity, destination,
        consignee, end user, ECCN), the model's computed classification matches the request, no
        party has a blocking screening hit, the destination and headquarters rules are satisfied,
        and the authorization has the quantity and value left. The batch's ``ClearanceGranted``
        (with the evidence) and the authorization's ``Drawn`` are saved in one atomic write.
        """
        def decide(w: WithContext) -> list[RegistryAggregate]:
            batch: GpuBatch = w.current
            # Loaded once per attempt, fresh: its drawdown is part of this decision and this write.
            auth: ExportAuthorization = w.references["authorization_id"]
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

        return self._change("GrantClearance", actor, cmd, "batch", cmd.batch_id, decide,
                            [("authorization", cmd.authorization_id, "authorization_id")],
                            shared=[cmd.authorization_id])

    @staticmethod
    def _check_authorization_covers(
        auth: ExportAuthorization, batch: GpuBatch, when: datetime, eccn: str | None = None
    ) -> None:
        """Refuse the first way the authorization fails to cover the clearance (shared policy)."""
        clearance = batch.clearance
        if not clearance:
            return  # the domain refuses: nothing was requested
        refuse_first(coverage_problems(
            AuthorizationTerms.of(auth), when, str(clearance.get("destination_country", "")),
            clearance.get("consignee_id"), clearance.get("end_user_id"),
            eccn if eccn is not None else str(clearance.get("eccn", "")),
        ))

    def deny_clearance(self, actor: str, cmd: c.DenyClearance) -> CommandResult:
        return self._change("DenyClearance", actor, cmd, "batch", cmd.batch_id,
                            lambda w: w.then(lambda b: b.deny_clearance(w.ctx, cmd.rule, cmd.reason)))

    def revoke_clearance(self, actor: str, cmd: c.RevokeClearance) -> CommandResult:
        """Revoke; the units drawn and not shipped go back to the authorization in the same write."""
        def decide(w: WithContext) -> list[RegistryAggregate]:
            batch: GpuBatch = w.current
            batch.revoke_clearance(w.ctx, cmd.reason)
            return [batch, *self._return_on_revoke(w.ctx, batch, cmd.reason)]

        return self._change("RevokeClearance", actor, cmd, "batch", cmd.batch_id, decide)

    def register_serials(self, actor: str, cmd: c.RegisterSerials) -> CommandResult:
        """Register serials; each is claimed registry-wide in the same atomic write."""
        serials = [u.serial for u in cmd.units]
        uuids = [u.gpu_uuid for u in cmd.units]

        def decide(w: WithContext) -> list[RegistryAggregate]:
            batch: GpuBatch = w.current
            batch.register_serials(w.ctx, serials, uuids)
            batch_id = batch.id
            w.save_kwargs["serial_claims"] = [(s, batch_id) for s in serials]
            return [batch]

        return self._change("RegisterSerials", actor, cmd, "batch", cmd.batch_id, decide)

    def ship(self, actor: str, cmd: c.Ship) -> CommandResult:
        """Ship against the clearance. Refused (naming the rule) when a party of the shipment
        (exporter, consignee, end user, carrier, site operator, intermediate consignee, forwarder) has a
        blocking screening hit, when the clearance's authorization no longer covers the export
        (expired or not yet valid at the shipment; amended so it no longer names the cleared
        destination, ultimate consignee, end user or ECCN; drawn beyond an amended limit), when
        an intermediate consignee is not named on a license that names its consignees, or when
        the destination or headquarters rule in force at the shipment (for the purchaser,
        consignee, end user and intermediate consignees) needs a license the clearance's
        authorization is not (or an exception it does not allow)."""
        intermediates = list(cmd.intermediate_consignee_ids)
        if len(set(intermediates)) != len(intermediates):
            raise InvalidField.one("intermediate_consignee_ids", "an intermediate consignee is named twice")

        def decide(w: WithContext) -> list[RegistryAggregate]:
            batch: GpuBatch = w.current
            self._refuse_shipment_parties(batch, cmd.carrier_id, cmd.destination_site_id,
                                          intermediates, cmd.forwarder_id, batch.exporter_of(cmd.exporter_id))
            if batch.clearance_status == Clearance.GRANTED:
                self._refuse_shipment_classification(batch, w.ctx.occurred_at)
                self._refuse_shipment_authorization(batch, w.ctx.occurred_at)
                self._refuse_shipment_value(batch)
                self._refuse_intermediate_consignees(batch, intermediates)
                self._refuse_shipment_license(batch, w.ctx.occurred_at, intermediates)
                self._refuse_shipment_destination(batch, w.ctx.occurred_at, cmd.destination_country,
                                                  cmd.destination_site_id)
            batch.ship(w.ctx, cmd.shipment_id, cmd.carrier_id, cmd.origin, cmd.destination_country,
                       cmd.destination_site_id, cmd.itn, cmd.quantity, cmd.serials,
                       intermediates, cmd.forwarder_id, cmd.exporter_id)
            return [batch]

        return self._change("Ship", actor, cmd, "batch", cmd.batch_id, decide, [
            ("party", cmd.carrier_id, "carrier_id"),
            ("site", cmd.destination_site_id, "destination_site_id"),
            *(("party", p, f"intermediate_consignee_ids[{i}]") for i, p in enumerate(intermediates)),
            ("party", cmd.forwarder_id, "forwarder_id"),
            ("party", cmd.exporter_id, "exporter_id"),
        ])

    def receive(self, actor: str, cmd: c.Receive) -> CommandResult:
        return self._change("Receive", actor, cmd, "batch", cmd.batch_id, lambda w: w.then(
            lambda b: b.receive(w.ctx, cmd.shipment_id, cmd.receiving_party_id, cmd.site_id,
                                cmd.quantity, cmd.serials, cmd.discrepancy_note)), [
            ("party", cmd.receiving_party_id, "receiving_party_id"),
            ("site", cmd.site_id, "site_id"),
        ])

    def install(self, actor: str, cmd: c.Install) -> CommandResult:
        """Record an installation: one rack, or a report with one ``Installed`` event per
        placement, all in one atomic write (any refused placement refuses the whole report)."""

        def decide(w: WithContext) -> list[RegistryAggregate]:
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

        return self._change("Install", actor, cmd, "batch", cmd.batch_id, decide,
                            [("site", cmd.site_id, "site_id")])

    def assign(self, actor: str, cmd: c.Assign) -> CommandResult:
        def decide(w: WithContext) -> list[RegistryAggregate]:
            batch: GpuBatch = w.current
            self._refuse_recipient(batch, cmd.assignee_id, "assignee", w.ctx.occurred_at)
            batch.assign(w.ctx, cmd.assignee_id, cmd.purpose, cmd.quantity, cmd.serials, cmd.site_id)
            return [batch]

        return self._change("Assign", actor, cmd, "batch", cmd.batch_id, decide, [
            ("party", cmd.assignee_id, "assignee_id"),
            ("site", cmd.site_id, "site_id"),
        ])

    def transfer(self, actor: str, cmd: c.Transfer) -> CommandResult:
        def decide(w: WithContext) -> list[RegistryAggregate]:
            batch: GpuBatch = w.current
            site: Site | None = w.references["to_site_id"]
            self._refuse_recipient(batch, cmd.to_owner_id, "new owner", w.ctx.occurred_at)
            batch.transfer(w.ctx, cmd.to_owner_id, cmd.to_site_id, site.country if site else None,
                           cmd.reason, cmd.quantity, cmd.serials)
            return [batch]

        return self._change("Transfer", actor, cmd, "batch", cmd.batch_id, decide, [
            ("party", cmd.to_owner_id, "to_owner_id"),
            ("site", cmd.to_site_id, "to_site_id"),
        ])

    def return_for_rma(self, actor: str, cmd: c.ReturnForRma) -> CommandResult:
        return self._change("ReturnForRma", actor, cmd, "batch", cmd.batch_id, lambda w: w.then(
            lambda b: b.return_for_rma(w.ctx, cmd.rma_number, cmd.reason, cmd.quantity, cmd.serials)))

    def repair(self, actor: str, cmd: c.Repair) -> CommandResult:
        """Record a repair: units back from an RMA received at a site, or repaired on site."""
        return self._change("Repair", actor, cmd, "batch", cmd.batch_id, lambda w: w.then(
            lambda b: b.repair(w.ctx, cmd.kind, cmd.rma_number, cmd.site_id, cmd.note, cmd.quantity, cmd.serials)),
            [("site", cmd.site_id, "site_id")])

    def declare_error(self, actor: str, cmd: c.DeclareError) -> CommandResult:
        """Record an earlier event of the batch declared in error (EPCIS error declarations)."""
        return self._change("DeclareError", actor, cmd, "batch", cmd.batch_id, lambda w: w.then(
            lambda b: b.declare_error(w.ctx, cmd.event_id, cmd.reason, cmd.corrective_event_ids)))

    def report_lost(self, actor: str, cmd: c.ReportLost) -> CommandResult:
        return self._change("ReportLost", actor, cmd, "batch", cmd.batch_id, lambda w: w.then(
            lambda b: b.report_lost(w.ctx, cmd.kind, cmd.note, cmd.quantity, cmd.serials)))

    def decommission(self, actor: str, cmd: c.Decommission) -> CommandResult:
        return self._change("Decommission", actor, cmd, "batch", cmd.batch_id, lambda w: w.then(
            lambda b: b.decommission(w.ctx, cmd.method, cmd.quantity, cmd.serials)))

    def record_onward_movement(self, actor: str, cmd: c.RecordOnwardMovement) -> CommandResult:
        """Record a known reexport, transshipment or diversion of exported units: a fact from
        which the batch's record retention runs (15 CFR 762.6), recorded even when it broke a rule
        (it already happened; the registry did not decide it). The compliance projection flags a
        diversion, and a reexport or transshipment the batch's authorization does not cover by the
        destination rule or, for the recipient (``recipient_id``, when known), the headquarters
        rule (``reexport-not-authorized``, ``policy.onward_movement_problem``)."""
        return self._change("RecordOnwardMovement", actor, cmd, "batch", cmd.batch_id, lambda w: w.then(
            lambda b: b.record_onward_movement(w.ctx, cmd.kind, cmd.country, cmd.place, cmd.note,
                                               cmd.quantity, cmd.serials, cmd.recipient_id)),
            [("party", cmd.recipient_id, "recipient_id")])

    def split_batch(self, actor: str, cmd: c.SplitBatch) -> CommandResult:
        """Split pending units into a child batch. The result names the CHILD batch."""
        child_id = cmd.child_batch_id or uuid4()
        if self._exists(child_id):
            raise AlreadyExists("batch", child_id)

        def decide(w: WithContext) -> list[RegistryAggregate]:
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

    def history(self, aggregate_id: UUID, after_version: int = 0, limit: int = 100) -> list[DomainEventProtocol[UUID]]:
        """Events of one aggregate, oldest first, after ``after_version``, at most ``limit``."""
        return list(self.events.get(aggregate_id, gt=after_version, limit=limit))

    def read_log(self, after: int, limit: int, topics: Sequence[str] = ()) -> list[Notification]:
        """Raw notifications after position ``after`` (exclusive), oldest first."""
        return list(self.recorder.select_notifications(
            start=after, limit=limit, topics=topics, inclusive_of_start=False))

    def read_log_rows(
        self, after: int, limit: int, topics: Sequence[str] = (), skip_topics: Sequence[str] = (),
        originator_id: UUID | None = None,
    ) -> list[tuple[int, Any, int, str, bytes]]:
        """``(position, originator id as text, version, topic, state)`` of the events after
        ``after`` (exclusive), oldest first: only ``topics`` (if given), not ``skip_topics``, only
        ``originator_id``'s (if given), filtered by the store; read with the driver, without a
        Notification per row (``select_log_rows`` of the registry's SQLite and PostgreSQL
        recorders, the only two it is built with: ``registry/infrastructure/store.py``)."""
        recorder: Any = self.recorder
        return cast(list[tuple[int, Any, int, str, bytes]],
                    recorder.select_log_rows(after, limit, topics, skip_topics, originator_id))

    def decode(self, notification: Notification) -> DomainEventProtocol[UUID]:
        return self.mapper.to_domain_event(notification)

    def iter_log(
        self, after: int = 0, page: int = 1000, stop: int | None = None, *, topics: Sequence[str] = (),
        aggregates: Container[UUID] | None = None,
    ) -> Iterator[tuple[int, DomainEventProtocol[UUID]]]:
        """Decoded events with their positions, after ``after``, up to ``stop`` inclusive; only
        ``topics`` (filtered by the store) and only ``aggregates``' (the others are passed over
        undecoded) when given."""
        while True:
            batch = self.recorder.select_notifications(
                start=after, limit=page, stop=stop, topics=topics, inclusive_of_start=False)
            if not batch:
                return
            for n in batch:
                if aggregates is None or n.originator_id in aggregates:
                    yield n.id, self.mapper.to_domain_event(n)
            after = batch[-1].id

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

