"""The role x method matrix: the one place that says who may call what.

Every RPC the server offers has a row in :data:`MATRIX` (a test walks the proto descriptors and
fails on a method without one, and drives every method x role through a real server). The
matrix in docs/security.md is :func:`matrix_markdown`'s output (a test compares them).

A row names the roles allowed to call the method and, for the roles that act for a party
(partner, site operator), how the call is confined (:class:`Confine`). The confinement is
enforced by :class:`registry.server.auth.AuthInterceptor` with a
:class:`registry.security.scope.Scope`; servicers never check roles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from registry.security.principal import Role


class Confine(StrEnum):
    """How a partner's or site operator's call is confined to what is theirs."""

    NONE = "none"  # nothing party-specific in the request or the answer
    BATCH = "batch"  # the request's batch_id must be one of the party's batches (else NOT_FOUND)
    SITE = "site"  # site operator: the request's site_id must be one of its sites (else NOT_FOUND)
    BATCH_OR_SITE = "batch or site"  # partner: its batch; site operator: its site
    ROWS = "rows"  # the answer keeps only the party's own rows (batches, findings, partners, sites)
    FINDING = "finding"  # one finding: NOT_FOUND unless it concerns the party's batch or itself
    EVENTS = "events"  # a subscription carries only the events of the party's batches
    REPORT = "report"  # a report is filtered to the caller's own party
    PARTY = "party"  # the request's party_id must be the party or one of its subsidiaries (else NOT_FOUND)
    EXPORT = "batch or events"  # its batch_id (else NOT_FOUND); a log or partner export: its batches' events
    CAPTURE = "each event"  # every captured event is the command it becomes, as that command's row allows
    AGENT_SITE = "site and partner"  # its site_id and partner_id are the party's (else NOT_FOUND)
    AGENT = "agent"  # the request's agent_id is an agent at one of the party's sites (else NOT_FOUND)
    SERIAL = "serial"  # the answer's serial belongs to one of the party's batches (else NOT_FOUND)


@dataclass(frozen=True)
class Rule:
    """Who may call one method."""

    roles: frozenset[Role]
    confine: Confine = Confine.NONE
    public: bool = False  # callable without credentials (health checks)


A = Role.ADMIN
CO = Role.COMPLIANCE_OFFICER
LOG = Role.LOGISTICS
P = Role.PARTNER
SO = Role.SITE_OPERATOR
AUD = Role.AUDITOR
REG = Role.REGULATOR

ALL_ROLES = frozenset(Role)
#: The exporter's staff and the overseers: they read everything.
READ_ALL = frozenset({A, CO, LOG, AUD, REG})
OVERSIGHT = frozenset({A, CO, AUD, REG})
#: Who may see legal holds (an agency's request to preserve a batch's records, 15 CFR 762.6): the
#: exporter's compliance function and the overseers. Not logistics, and not partners, not even of
#: their own batches: a hold may be part of an investigation its subject must not be told of. Every
#: path that would show one (GetBatchCompliance, the compliance report, SubscribeEvents,
#: ExportJournal) leaves it out for the others (docs/security.md, "Legal holds").
HOLD_READERS = frozenset({A, CO, AUD, REG})


def _rule(*roles: Role | frozenset[Role], confine: Confine = Confine.NONE, public: bool = False) -> Rule:
    flat: set[Role] = set()
    for r in roles:
        flat |= r if isinstance(r, frozenset) else {r}
    return Rule(frozenset(flat), confine, public)


_CMD = "registry.api.v1.CommandService"
_QRY = "registry.api.v1.QueryService"
_EVT = "registry.api.v1.EventService"
_CMP = "registry.api.v1.ComplianceService"
_REP = "registry.api.v1.ReportService"
_JRN = "registry.api.v1.JournalService"
_EPC = "registry.api.v1.EpcisService"
_LOC = "registry.api.v1.LocationService"
_HEALTH = "grpc.health.v1.Health"
_REFLECTION = "grpc.reflection.v1alpha.ServerReflection"

_ROWS: dict[str, Rule] = {
    # reference data: the registry's administrators
    f"{_CMD}/RegisterParty": _rule(A),
    f"{_CMD}/RegisterSite": _rule(A),
    f"{_CMD}/RegisterGpuModel": _rule(A),
    f"{_CMD}/AmendReference": _rule(A),
    f"{_CMD}/RegisterAuthorization": _rule(A, CO),
    # orders: the exporter's order desk (logistics)
    f"{_CMD}/PlaceOrder": _rule(A, LOG),
    f"{_CMD}/CorrectOrder": _rule(A, LOG),
    f"{_CMD}/SplitBatch": _rule(A, LOG),
    # export clearance: the compliance officer
    f"{_CMD}/RequestClearance": _rule(A, CO),
    f"{_CMD}/GrantClearance": _rule(A, CO),
    f"{_CMD}/DenyClearance": _rule(A, CO),
    f"{_CMD}/RevokeClearance": _rule(A, CO),
    # serials and shipments: logistics
    f"{_CMD}/RegisterSerials": _rule(A, LOG),
    f"{_CMD}/Ship": _rule(A, LOG),
    # facts from the field: the partner on its batches, the site operator at its sites
    f"{_CMD}/Receive": _rule(A, LOG, P, SO, confine=Confine.BATCH_OR_SITE),
    f"{_CMD}/Install": _rule(A, P, SO, confine=Confine.BATCH_OR_SITE),
    f"{_CMD}/Assign": _rule(A, P, confine=Confine.BATCH),
    f"{_CMD}/Transfer": _rule(A, P, confine=Confine.BATCH),
    f"{_CMD}/ReturnForRma": _rule(A, LOG, P, confine=Confine.BATCH),
    f"{_CMD}/Repair": _rule(A, LOG, P, SO, confine=Confine.BATCH_OR_SITE),
    f"{_CMD}/ReportLost": _rule(A, LOG, P, confine=Confine.BATCH),
    f"{_CMD}/Decommission": _rule(A, P, confine=Confine.BATCH),
    # what became of exported units (a reexport, transshipment or diversion learned of): the
    # exporter's side, not the partner whose units they are
    f"{_CMD}/RecordOnwardMovement": _rule(A, CO, LOG),
    # the deal's allocations per partner: the registry's administrators, on the ministry's word
    f"{_CMD}/SetAllocation": _rule(A),
    # queries
    f"{_QRY}/GetBatch": _rule(READ_ALL, P, confine=Confine.BATCH),
    f"{_QRY}/ListBatchEvents": _rule(READ_ALL, P, confine=Confine.BATCH),
    f"{_QRY}/ListBatches": _rule(READ_ALL, P, confine=Confine.ROWS),
    f"{_QRY}/GetOwnership": _rule(READ_ALL, P, confine=Confine.ROWS),
    f"{_QRY}/GetSiteInventory": _rule(READ_ALL, P, SO, confine=Confine.ROWS),
    f"{_QRY}/GetCustodyTrail": _rule(READ_ALL, P, confine=Confine.BATCH),
    f"{_QRY}/GetProjectionStatus": _rule(ALL_ROLES),
    # a party's recorded facts (ownership, red-flag facts, screening status): the exporter's staff
    # and the overseers read every party; a partner only its own (or a subsidiary's)
    f"{_QRY}/GetParty": _rule(READ_ALL, P, confine=Confine.PARTY),
    # the log
    f"{_EVT}/SubscribeEvents": _rule(READ_ALL, P, confine=Confine.EVENTS),
    # compliance: screening is the officer's; findings are acknowledged by overseers too
    f"{_CMP}/ImportScreeningList": _rule(A, CO),
    f"{_CMP}/ScreenParty": _rule(A, CO),
    f"{_CMP}/ResolveScreeningHit": _rule(A, CO),
    f"{_CMP}/AcknowledgeFinding": _rule(A, CO, AUD, REG),
    f"{_CMP}/ResolveFinding": _rule(A, CO),
    # legal holds on export records (15 CFR 762.6): the compliance officer
    f"{_CMP}/PlaceLegalHold": _rule(A, CO),
    f"{_CMP}/ReleaseLegalHold": _rule(A, CO),
    f"{_CMP}/GetBatchCompliance": _rule(READ_ALL, P, confine=Confine.BATCH),
    f"{_CMP}/ListFindings": _rule(READ_ALL, P, confine=Confine.ROWS),
    f"{_CMP}/GetFinding": _rule(READ_ALL, P, confine=Confine.FINDING),
    f"{_CMP}/ListOverdueItems": _rule(READ_ALL, P, confine=Confine.ROWS),
    f"{_CMP}/ClassifyModel": _rule(READ_ALL, P),
    f"{_CMP}/GetRuleChangeImpact": _rule(OVERSIGHT),
    f"{_CMP}/GetLicenseRequirements": _rule(READ_ALL),
    f"{_CMP}/GetAuthorizationLedger": _rule(READ_ALL),
    f"{_CMP}/ListExpiringAuthorizations": _rule(READ_ALL),
    f"{_CMP}/ListScreeningLists": _rule(OVERSIGHT),
    f"{_CMP}/GetScreeningCase": _rule(OVERSIGHT),
    # reports
    f"{_REP}/GenerateReport": _rule(OVERSIGHT, P, confine=Confine.REPORT),
    # the verifiable journal (docs/journal.md): checkpoints and proofs carry hashes and tree sizes
    # only, so every party may check them and run a witness; the export carries every event's
    # bytes, legal holds included, so only those who read everything, holds too, may take it
    f"{_JRN}/GetCheckpoint": _rule(ALL_ROLES),
    f"{_JRN}/GetConsistencyProof": _rule(ALL_ROLES),
    f"{_JRN}/GetInclusionProof": _rule(ALL_ROLES),
    f"{_JRN}/ExportJournal": _rule(HOLD_READERS),
    f"{_JRN}/AddCosignature": _rule(A, P, AUD, REG),
    # GS1 EPCIS 2.0 (docs/epcis.md; gRPC and the REST binding: GET /events, POST /capture). An
    # export is a read of batch histories, confined like SubscribeEvents; a capture may be sent by
    # every role that may write some fact, and each of its events is then authorized as the
    # command it becomes (registry.security.grants.command_authorizer)
    f"{_EPC}/ExportEpcis": _rule(READ_ALL, P, confine=Confine.EXPORT),
    f"{_EPC}/CaptureEpcis": _rule(A, CO, LOG, P, SO, confine=Confine.CAPTURE),
    # GPU location attestation (docs/locations.md): a partner or site operator registers and revokes
    # the agents at its own sites, and its agents' check-ins reach the registry with its credential
    # (each check-in is also signed by the agent's own key); a partner reads its own serials' locations
    f"{_LOC}/RegisterHostAgent": _rule(A, P, SO, confine=Confine.AGENT_SITE),
    f"{_LOC}/RevokeHostAgent": _rule(A, CO, P, SO, confine=Confine.AGENT),
    f"{_LOC}/SubmitLocationAttestation": _rule(A, P, SO, confine=Confine.AGENT),
    f"{_LOC}/GetSerialLocation": _rule(READ_ALL, P, confine=Confine.SERIAL),
    # infrastructure
    f"{_HEALTH}/Check": _rule(ALL_ROLES, public=True),
    f"{_HEALTH}/Watch": _rule(ALL_ROLES, public=True),
    f"{_HEALTH}/List": _rule(ALL_ROLES, public=True),
    f"{_REFLECTION}/ServerReflectionInfo": _rule(ALL_ROLES),
}

#: method path without the leading slash ("package.Service/Method") -> its rule
MATRIX: Mapping[str, Rule] = _ROWS


def rule_for(method: str) -> Rule | None:
    """The rule of ``/package.Service/Method`` (as gRPC names it); None: not in the matrix,
    which the interceptor refuses for everyone."""
    return MATRIX.get(method.lstrip("/"))


def cell(rule: Rule, role: Role) -> str:
    """One cell of the documented matrix."""
    if role not in rule.roles:
        return "-"
    if rule.confine is Confine.CAPTURE:  # every role, partners and site operators confined per event
        return "per event"
    if role in (P, SO) and rule.confine is not Confine.NONE:
        return f"own ({rule.confine.value})"
    return "yes"


def matrix_markdown(methods: Iterable[str] | None = None) -> str:
    """The matrix as the markdown table docs/security.md carries."""
    roles = list(Role)
    lines = [
        "| method | " + " | ".join(r.value for r in roles) + " |",
        "| --- | " + " | ".join("---" for _ in roles) + " |",
    ]
    for method in methods if methods is not None else MATRIX:
        rule = MATRIX[method]
        name = method.split(".")[-1]
        if rule.public:
            name += " (no credentials needed)"
        lines.append(f"| `{name}` | " + " | ".join(cell(rule, r) for r in roles) + " |")
    return "\n".join(lines) + "\n"
