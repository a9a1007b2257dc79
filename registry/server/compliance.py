"""ComplianceService: screening commands, and queries on classification, license requirements,
authorization ledgers and screening.

Commands go through the same path as CommandService (a validated command from
:mod:`registry.application.compliance_commands`, the caller as actor, the use case on the thread
pool, a wake-up for live subscriptions). Queries validate their fields first (every bad one is
named), then read through the :class:`~registry.application.service.Registry`'s compliance
queries; the rules themselves live in the domain.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from uuid import UUID

from google.protobuf.timestamp_pb2 import Timestamp

from projections.queries import ReadModels
from registry.api.v1 import compliance_pb2 as pb
from registry.api.v1 import compliance_pb2_grpc
from registry.application import commands as c
from registry.application import compliance_commands as cc
from registry.application.compliance import AuthorizationExpiry
from registry.application.results import CommandResult
from registry.application.service import Registry
from registry.domain.errors import InvalidField
from registry.domain.screening import ScreeningLists
from registry.server.calls import answer, run_command
from registry.server.compliance_messages import (
    case_message,
    classification_message,
    expiry_message,
    headquarters_message,
    ledger_message,
    requirement_message,
    ruleset_message,
)
from registry.server.concurrency import Blocking, LogNotifier
from registry.server.convert import (
    decode_page_token,
    encode_page_token,
    page_size,
    require_uuid,
    timestamp,
)
from registry.server.findings import FindingQueries

C = TypeVar("C", bound=c.Command)
R = TypeVar("R")

MAX_WITHIN_DAYS = 3650
_LAST_DAY = datetime.max.replace(tzinfo=UTC)  # the last instant a datetime holds
MAX_ROLE_LENGTH = 64
MAX_PARTIES = 100
PROPOSED_THRESHOLDS = (
    "tpp_a",
    "tpp_a2",
    "pd_a2",
    "tpp_b1_low",
    "tpp_b1_high",
    "pd_b1_low",
    "tpp_b2",
    "pd_b2_low",
    "note2_tpp",
)
_COUNTRY = re.compile(r"[A-Z]{2}")




class ComplianceServicer(compliance_pb2_grpc.ComplianceServiceServicer):
    """Serves registry.api.v1.ComplianceService."""

    def __init__(
        self, registry: Registry, blocking: Blocking, notifier: LogNotifier, read_models: ReadModels | None = None,
        commands: Blocking | None = None,
    ) -> None:
        self._registry = registry
        self._blocking = blocking
        self._commands = commands or blocking  # the command lane (ApiServer: one thread on SQLite)
        self._notifier = notifier
        self._findings = FindingQueries(read_models, blocking)

    # ------------------------------------------------------------------------ commands
    async def _run(
        self,
        request: Any,
        context: Any,
        model: type[C],
        use_case: Callable[[str, C], CommandResult],
        response: Callable[..., R],
    ) -> R:
        return await run_command(request, context, model, use_case, response, self._commands, self._notifier)

    async def ImportScreeningList(
        self, request: pb.ImportScreeningListRequest, context: Any
    ) -> pb.ImportScreeningListResponse:
        return await self._run(
            request,
            context,
            cc.ImportScreeningList,
            self._registry.import_screening_list,
            pb.ImportScreeningListResponse,
        )

    async def ScreenParty(self, request: pb.ScreenPartyRequest, context: Any) -> pb.ScreenPartyResponse:
        return await self._run(request, context, cc.ScreenParty, self._registry.screen_party, pb.ScreenPartyResponse)

    async def ResolveScreeningHit(
        self, request: pb.ResolveScreeningHitRequest, context: Any
    ) -> pb.ResolveScreeningHitResponse:
        return await self._run(
            request,
            context,
            cc.ResolveScreeningHit,
            self._registry.resolve_screening_hit,
            pb.ResolveScreeningHitResponse,
        )

    async def AcknowledgeFinding(
        self, request: pb.AcknowledgeFindingRequest, context: Any
    ) -> pb.AcknowledgeFindingResponse:
        return await self._run(
            request, context, cc.AcknowledgeFinding, self._registry.acknowledge_finding,
            pb.AcknowledgeFindingResponse,
        )

    async def ResolveFinding(self, request: pb.ResolveFindingRequest, context: Any) -> pb.ResolveFindingResponse:
        return await self._run(
            request, context, cc.ResolveFinding, self._registry.resolve_finding, pb.ResolveFindingResponse
        )

    async def PlaceLegalHold(self, request: pb.PlaceLegalHoldRequest, context: Any) -> pb.PlaceLegalHoldResponse:
        return await self._run(
            request, context, cc.PlaceLegalHold, self._registry.place_legal_hold, pb.PlaceLegalHoldResponse
        )

    async def ReleaseLegalHold(
        self, request: pb.ReleaseLegalHoldRequest, context: Any
    ) -> pb.ReleaseLegalHoldResponse:
        return await self._run(
            request, context, cc.ReleaseLegalHold, self._registry.release_legal_hold, pb.ReleaseLegalHoldResponse
        )

    # ------------------------------------------------------------------------ findings
    async def GetBatchCompliance(
        self, request: pb.GetBatchComplianceRequest, context: Any
    ) -> pb.GetBatchComplianceResponse:
        return await self._findings.get_batch_compliance(request, context)

    async def ListFindings(self, request: pb.ListFindingsRequest, context: Any) -> pb.ListFindingsResponse:
        return await self._findings.list_findings(request, context)

    async def GetFinding(self, request: pb.GetFindingRequest, context: Any) -> pb.GetFindingResponse:
        return await self._findings.get_finding(request, context)

    async def ListOverdueItems(
        self, request: pb.ListOverdueItemsRequest, context: Any
    ) -> pb.ListOverdueItemsResponse:
        return await self._findings.list_overdue_items(request, context)

    # ------------------------------------------------------------------ classification
    async def ClassifyModel(self, request: pb.ClassifyModelRequest, context: Any) -> pb.ClassifyModelResponse:
        async def work() -> pb.ClassifyModelResponse:
            violations: list[tuple[str, str]] = []
            model_id = _collect(violations, lambda: require_uuid("model_id", request.model_id))
            choice = request.WhichOneof("ruleset_choice")
            at = _collect(violations, lambda: time_of(request.as_of, "as_of")) if choice == "as_of" else None
            ruleset_id = request.ruleset_id if choice == "ruleset_id" else None
            if choice == "ruleset_id" and not request.ruleset_id.strip():
                violations.append(("ruleset_id", "must not be empty when given"))
            if violations:
                raise InvalidField(violations)
            assert model_id is not None
            return await self._blocking(self._classify, model_id, at, ruleset_id)

        return await answer(context, work)

    def _classify(self, model_id: UUID, at: datetime | None, ruleset_id: str | None) -> pb.ClassifyModelResponse:
        classification = self._registry.classify_model(model_id, at, ruleset_id)
        return pb.ClassifyModelResponse(
            classification=classification_message(model_id, classification),
            ruleset=ruleset_message(self._registry.ruleset(classification.ruleset_id)),
        )

    async def GetRuleChangeImpact(
        self, request: pb.GetRuleChangeImpactRequest, context: Any
    ) -> pb.GetRuleChangeImpactResponse:
        async def work() -> pb.GetRuleChangeImpactResponse:
            violations: list[tuple[str, str]] = []
            at = _collect(violations, lambda: time_of(request.as_of, "as_of")) if request.HasField("as_of") else None
            choice = request.WhichOneof("candidate")
            ruleset_id: str | None = None
            proposal: dict[str, Any] | None = None
            if choice is None:
                violations.append(("ruleset_id", "required: name a configured ruleset_id or give a proposed_ruleset"))
            elif choice == "ruleset_id":
                ruleset_id = request.ruleset_id.strip()
                if not ruleset_id:
                    violations.append(("ruleset_id", "must not be empty when given"))
            else:
                proposal = _collect(violations, lambda: proposed_changes(request.proposed_ruleset))
            if violations:
                raise InvalidField(violations)
            return await self._blocking(self._impact, at, ruleset_id, proposal)

        return await answer(context, work)

    def _impact(
        self, at: datetime | None, ruleset_id: str | None, proposal: dict[str, Any] | None
    ) -> pb.GetRuleChangeImpactResponse:
        registry = self._registry
        when = at or registry.now()
        baseline = registry.rulesets.in_force(when)
        if ruleset_id is not None:
            candidate = registry.ruleset(ruleset_id)
        else:
            candidate = dataclasses.replace(baseline, effective_from=when, **(proposal or {}))
        changes = registry.classification_impact(candidate, when)
        batches = registry.batches_of_models([ch.model_id for ch in changes])
        models = []
        for ch in changes:
            impacted = []
            for batch_id in batches.get(ch.model_id, []):
                batch = registry.get_batch(batch_id)
                clearance = batch.clearance or {}
                impacted.append(
                    pb.ImpactedBatch(
                        batch_id=str(batch.id),
                        po_number=batch.po_number,
                        stage=batch.stage,
                        quantity=batch.quantity,
                        clearance_status=str(batch.clearance_status),
                        clearance_eccn=str(clearance.get("eccn", "")),
                        destination_country=str(clearance.get("destination_country", "")),
                    )
                )
            models.append(
                pb.ModelImpact(
                    model_id=str(ch.model_id),
                    model_name=ch.change.before.spec.name,
                    before=classification_message(ch.model_id, ch.change.before),
                    after=classification_message(ch.model_id, ch.change.after),
                    batches=impacted,
                )
            )
        return pb.GetRuleChangeImpactResponse(
            baseline_ruleset=ruleset_message(baseline),
            candidate_ruleset=ruleset_message(candidate),
            models=models,
        )

    # ------------------------------------------------------------ license requirements
    async def GetLicenseRequirements(
        self, request: pb.GetLicenseRequirementsRequest, context: Any
    ) -> pb.GetLicenseRequirementsResponse:
        async def work() -> pb.GetLicenseRequirementsResponse:
            violations: list[tuple[str, str]] = []
            model_id = _collect(violations, lambda: require_uuid("model_id", request.model_id))
            if not _COUNTRY.fullmatch(request.destination_country):
                violations.append(
                    ("destination_country", "required: an ISO 3166-1 alpha-2 code in upper case, like KR")
                )
            if len(request.parties) > MAX_PARTIES:
                violations.append(("parties", f"at most {MAX_PARTIES} parties"))
            parties: list[tuple[str, UUID]] = []
            for i, party in enumerate(request.parties):
                role = party.role.strip()
                if not role or len(role) > MAX_ROLE_LENGTH or not role.isprintable():
                    violations.append((f"parties[{i}].role", f"required: 1 to {MAX_ROLE_LENGTH} printable characters"))
                party_id = _collect(
                    violations, functools.partial(require_uuid, f"parties[{i}].party_id", party.party_id)
                )
                if party_id is not None:
                    parties.append((role, party_id))
            at = _collect(violations, lambda: time_of(request.as_of, "as_of")) if request.HasField("as_of") else None
            if violations:
                raise InvalidField(violations)
            assert model_id is not None
            return await self._blocking(self._requirements, model_id, request.destination_country, parties, at)

        return await answer(context, work)

    def _requirements(
        self, model_id: UUID, destination: str, parties: Sequence[tuple[str, UUID]], at: datetime | None
    ) -> pb.GetLicenseRequirementsResponse:
        registry = self._registry
        when = at or registry.now()
        requirements = registry.license_requirements_for(model_id, destination, parties, when)
        groups = registry.country_groups.in_force(when)
        checks = [(role, registry.headquarters_check(party_id, when)) for role, party_id in parties]
        return pb.GetLicenseRequirementsResponse(
            classification=classification_message(model_id, registry.classify_model(model_id, when)),
            license_required=bool(requirements),
            requirements=[requirement_message(r) for r in requirements],
            destination_groups=groups.groups_of(destination),
            country_groups_version=groups.version_id,
            headquarters_checks=[headquarters_message(role, check) for role, check in checks],
        )

    # ------------------------------------------------------------------ authorizations
    async def GetAuthorizationLedger(
        self, request: pb.GetAuthorizationLedgerRequest, context: Any
    ) -> pb.GetAuthorizationLedgerResponse:
        async def work() -> pb.GetAuthorizationLedgerResponse:
            authorization_id = require_uuid("authorization_id", request.authorization_id)
            ledger = await self._blocking(self._registry.authorization_ledger, authorization_id)
            return pb.GetAuthorizationLedgerResponse(ledger=ledger_message(ledger))

        return await answer(context, work)

    async def ListExpiringAuthorizations(
        self, request: pb.ListExpiringAuthorizationsRequest, context: Any
    ) -> pb.ListExpiringAuthorizationsResponse:
        async def work() -> pb.ListExpiringAuthorizationsResponse:
            violations: list[tuple[str, str]] = []
            within = request.within_days
            if not 1 <= within <= MAX_WITHIN_DAYS:
                violations.append(("within_days", f"required: 1 to {MAX_WITHIN_DAYS} days"))
            size = _collect(violations, lambda: page_size(request.page_size))
            at = _collect(violations, lambda: time_of(request.as_of, "as_of")) if request.HasField("as_of") else None
            if at is not None and 1 <= within <= MAX_WITHIN_DAYS and at > _LAST_DAY - timedelta(days=within):
                # the horizon (as_of + within_days) must be a date (found by `make fuzz`: it answered INTERNAL)
                violations.append(("as_of", "as_of + within_days must fall before the year 10000"))
            after: tuple[datetime, str] | None = None
            if request.page_token and not violations:
                at, after = _expiry_token(request.page_token, within, at)
            if violations:
                raise InvalidField(violations)
            assert size is not None
            return await self._blocking(self._expiring, within, at, after, size)

        return await answer(context, work)

    def _expiring(
        self, within: int, at: datetime | None, after: tuple[datetime, str] | None, size: int
    ) -> pb.ListExpiringAuthorizationsResponse:
        when = at or self._registry.now()
        found = self._registry.expiring_authorizations(within, when)
        if after is not None:
            found = [e for e in found if _expiry_key(e) > after]
        page = found[:size]
        token = ""
        if len(found) > size:
            valid_to, ident = _expiry_key(page[-1])
            token = encode_page_token(
                {"at": when.isoformat(), "within": within, "after": [valid_to.isoformat(), ident]}
            )
        return pb.ListExpiringAuthorizationsResponse(
            authorizations=[expiry_message(e) for e in page], next_page_token=token, as_of=timestamp(when)
        )

    # ----------------------------------------------------------------------- screening
    async def ListScreeningLists(
        self, request: pb.ListScreeningListsRequest, context: Any
    ) -> pb.ListScreeningListsResponse:
        async def work() -> pb.ListScreeningListsResponse:
            size = page_size(request.page_size)
            source = request.source.strip()
            after = 0
            if request.page_token:
                state = decode_page_token(request.page_token)
                after = state.get("after", -1)
                if state.get("source") != source or not isinstance(after, int) or after < 1:
                    raise InvalidField.one("page_token", "belongs to a different filter or is not valid")
            return await self._blocking(self._snapshots, source, after, size)

        return await answer(context, work)

    def _snapshots(self, source: str, after: int, size: int) -> pb.ListScreeningListsResponse:
        registry = self._registry
        latest = {s: info["snapshot_id"] for s, info in registry.screening_lists().items()}
        found: list[ScreeningLists.Adopted] = []
        cursor = after
        while len(found) <= size:
            events = registry.history(ScreeningLists.id_for(), after_version=cursor, limit=max(size, 100))
            if not events:
                break
            cursor = events[-1].originator_version
            found.extend(
                e for e in events if isinstance(e, ScreeningLists.Adopted) and (not source or e.source == source)
            )
        page = found[:size]
        token = encode_page_token({"source": source, "after": page[-1].originator_version}) if len(found) > size else ""
        return pb.ListScreeningListsResponse(
            snapshots=[
                pb.ScreeningListSnapshot(
                    snapshot_id=str(e.snapshot_id),
                    source=e.source,
                    sha256=e.sha256,
                    entry_count=e.entry_count,
                    imported_at=timestamp(e.occurred_at),
                    recorded_at=timestamp(e.timestamp),
                    imported_by=e.actor,
                    latest=latest.get(e.source) == e.snapshot_id,
                )
                for e in page
            ],
            next_page_token=token,
        )

    async def GetScreeningCase(self, request: pb.GetScreeningCaseRequest, context: Any) -> pb.GetScreeningCaseResponse:
        async def work() -> pb.GetScreeningCaseResponse:
            party_id = require_uuid("party_id", request.party_id)
            return await self._blocking(self._case, party_id)

        return await answer(context, work)

    def _case(self, party_id: UUID) -> pb.GetScreeningCaseResponse:
        registry = self._registry
        party = registry.get("party", party_id)
        case = registry.screening_case(party_id)
        latest = registry.screening_lists()
        if case is None:
            message = pb.ScreeningCase(
                party_id=str(party_id), party_name=party.name, screened_against_latest=not latest
            )
        else:
            message = case_message(case, party.name, case.is_current(latest, party.name))
        return pb.GetScreeningCaseResponse(screening_case=message)


# --------------------------------------------------------------------------- validation


def _collect(violations: list[tuple[str, str]], parse: Callable[[], R]) -> R | None:
    """Run one field's parser; on InvalidField keep its violations and return None."""
    try:
        return parse()
    except InvalidField as e:
        violations.extend(e.violations)
        return None


def time_of(ts: Timestamp, field: str) -> datetime:
    """A request Timestamp as an aware UTC datetime; InvalidField naming ``field`` if out of range."""
    try:
        return ts.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidField.one(field, "not a valid timestamp (years 1 to 9999)") from None


def proposed_changes(proposal: pb.ProposedRuleset) -> dict[str, Any]:
    """The fields a proposed ruleset overrides, each validated (non-negative decimals)."""
    violations: list[tuple[str, str]] = []
    changes: dict[str, Any] = {
        "ruleset_id": proposal.ruleset_id.strip() or "proposed",
        "title": proposal.title.strip() or "a proposal (thresholds not given are the baseline's)",
        "citation": proposal.citation.strip(),
    }
    for name in PROPOSED_THRESHOLDS:
        text = getattr(proposal, name).strip()
        if not text:
            continue
        try:
            value = Decimal(text)
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite() or value < 0:
            violations.append((f"proposed_ruleset.{name}", "a non-negative decimal string, like 4800"))
            continue
        changes[name] = value
    if violations:
        raise InvalidField(violations)
    return changes


def _expiry_key(e: AuthorizationExpiry) -> tuple[datetime, str]:
    return e.valid_to, str(e.authorization_id)


def _expiry_token(token: str, within: int, at: datetime | None) -> tuple[datetime, tuple[datetime, str]]:
    """The first page's time and the last key a page token carries; InvalidField if it does not
    belong to this request."""
    state = decode_page_token(token)
    try:
        when = datetime.fromisoformat(state["at"])
        valid_to, ident = state["after"]
        last = (datetime.fromisoformat(valid_to), str(UUID(ident)))
    except (KeyError, TypeError, ValueError):
        raise InvalidField.one("page_token", "not a token this server issued") from None
    if state.get("within") != within or (at is not None and at != when):
        raise InvalidField.one("page_token", "belongs to a different within_days or as_of")
    return when, last
