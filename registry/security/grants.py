"""What one authenticated call may do beyond its method's row: which batches' events it may read
and which registry commands it may issue through a document (an EPCIS capture).

The auth layer (gRPC's :class:`registry.server.auth.AuthInterceptor`, and the EPCIS REST binding
through the same interceptor) builds a :class:`Grants` from the principal and its
:class:`registry.security.scope.Scope` and sets it for the call; the EPCIS servicer and the REST
handlers only pass it on. The rules are the matrix's (:mod:`registry.security.policy`): a captured
event that becomes ``Receive`` is allowed exactly when calling ``CommandService/Receive`` with that
batch and site would be, so a partner may capture receipts only of its own batches and a site
operator only at its own sites.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from uuid import UUID

from registry.security.policy import HOLD_READERS, Confine, rule_for
from registry.security.principal import Principal, Role
from registry.security.scope import Scope

COMMAND_SERVICE = "registry.api.v1.CommandService"

#: ``authorize(command, batch_id, site_id)``: None when allowed, else the refusal's (field, rule).
#: ``command`` is the registry method (``receive``) or the RPC name (``Receive``).
Authorize = Callable[[str, UUID | None, UUID | None], tuple[str, str] | None]


def rpc_name(command: str) -> str:
    """``return_for_rma`` -> ``ReturnForRma`` (the CommandService method of a registry method)."""
    return command if "_" not in command and command[:1].isupper() else "".join(
        part.capitalize() for part in command.split("_"))


def command_authorizer(principal: Principal, scope: Scope | None) -> Authorize:
    """The matrix's answer for each command a document asks of the registry on ``principal``'s
    behalf. ``scope`` is the principal's party view (None for roles that are not confined)."""

    def authorize(command: str, batch_id: UUID | None, site_id: UUID | None) -> tuple[str, str] | None:
        name = rpc_name(command)
        rule = rule_for(f"{COMMAND_SERVICE}/{name}")
        if rule is None or principal.role not in rule.roles:
            return name, (f"rule access-matrix: role {principal.role.value} may not {name} "
                          "(docs/security.md, the role x method matrix)")
        if scope is None or rule.confine is Confine.NONE:
            return None
        confine = rule.confine
        if confine is Confine.BATCH_OR_SITE:
            confine = Confine.BATCH if principal.role is Role.PARTNER else Confine.SITE
        if confine is Confine.BATCH:
            # another party's batch is answered exactly as a batch that does not exist
            if batch_id is None or not scope.sees_batch(batch_id):
                return "gpureg:batchID", f"rule reference-exists: batch {batch_id} not found"
        elif confine is Confine.SITE:
            if site_id is None:
                return "bizLocation.id", "rule site-named: a site operator's event names the site (bizLocation)"
            if not scope.sees_site(site_id):
                return "bizLocation.id", f"rule reference-exists: site {site_id} not found"
        return None

    return authorize


def allow_all(command: str, batch_id: UUID | None, site_id: UUID | None) -> tuple[str, str] | None:
    """Unrestricted: the registry's own tools (the CLI on the store, the bench, tests)."""
    return None


@dataclass(frozen=True)
class Reach:
    """A confined caller's ``visible(batch_id)``, naming the caller (``subject``): an EPCIS export
    shows it the events it captured itself as captured, any other party's as the registry records
    them (registry.epcis.sources.captured_by)."""

    sees: Callable[[UUID], bool]
    subject: str | None
    #: the caller's party view: its own party or a subsidiary (an onward movement's recipient is
    #: exported only then); None: every party
    sees_party: Callable[[UUID], bool] | None = None

    def __call__(self, batch_id: UUID) -> bool:
        return self.sees(batch_id)


@dataclass(frozen=True)
class Grants:
    """One call's reach: ``visible(batch_id)`` for what it may read (None: everything), ``authorize``
    for the commands it may issue, ``party``, the party a partner's or site operator's call acts
    for (a partner's compliance report is scoped to it), ``legal_holds``, whether it may see legal
    holds (:data:`registry.security.policy.HOLD_READERS`), ``subject``, the caller's own subject
    (what it sent is recorded under it as the actor), ``attests``, which units its host agents
    may attest, and ``sees_party``, whether a party is the confined caller's own or a subsidiary
    (None: unconfined, every party): an onward movement's recipient is shown to a confined caller
    only then."""

    authorize: Authorize
    visible: Callable[[UUID], bool] | None = None
    party: UUID | None = None  # the party a confined call acts for (its scope's); None: unconfined
    legal_holds: bool = True
    subject: str | None = None
    #: ``attests(batch_id, serial)``: whether the call's host agents may attest that unit (None:
    #: any registered unit); a confined caller's agents attest only units of its own (Scope.may_attest)
    attests: Callable[[UUID, str], bool] | None = None
    sees_party: Callable[[UUID], bool] | None = None

    @classmethod
    def of(cls, principal: Principal, scope: Scope | None) -> Grants:
        return cls(command_authorizer(principal, scope),
                   Reach(scope.sees_batch, principal.subject, scope.sees_party) if scope is not None else None,
                   scope.party_id if scope is not None else None, principal.role in HOLD_READERS,
                   principal.subject, scope.may_attest if scope is not None else None,
                   scope.sees_party if scope is not None else None)


UNRESTRICTED = Grants(allow_all)

_grants: ContextVar[Grants | None] = ContextVar("gpureg_grants", default=None)


def set_grants(grants: Grants) -> None:
    """Record the reach of the call being served (set by the auth layer with the actor)."""
    _grants.set(grants)


def current_grants() -> Grants:
    """The reach of the call being served; RuntimeError outside one (never a silent allow)."""
    grants = _grants.get()
    if grants is None:
        raise RuntimeError("current_grants() called outside a call admitted by the auth layer")
    return grants
