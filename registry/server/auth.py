"""Authentication and authorization of every RPC, in one interceptor.

:class:`AuthInterceptor` wraps each method's handler. Before the servicer runs it

1. authenticates the caller (:class:`Authenticator`): the client certificate of a mutual-TLS
   connection, else an ``authorization: Bearer <token>`` header, else (only in development mode)
   the development identity; a credential that fails is UNAUTHENTICATED;
2. looks the method up in the matrix (:mod:`registry.security.policy`): a role not in the row,
   or a method not in the matrix, is PERMISSION_DENIED;
3. records the principal as the actor of what the call writes (:mod:`registry.server.actor`);
4. confines a partner or site operator to what is theirs (:class:`registry.security.scope.Scope`):
   another party's batch, site or finding is NOT_FOUND exactly as a missing one; lists,
   aggregates and subscriptions keep only the party's own rows and events.

Every refusal is logged as one structured record (principal, method, reason; never a token or
key) and counted in :attr:`AuthInterceptor.denials`. Servicers never check roles.

One concept: the gate every call passes; authentication, the matrix, confinement and the
per-principal limits act on the same call in one order, so they are read together here.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import ipaddress
import logging
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import grpc
from google.rpc import error_details_pb2

from registry.api.v1 import commands_pb2, compliance_pb2, events_pb2, queries_pb2, reports_pb2
from registry.domain.errors import InvalidField, NotFound
from registry.observability.handler_cache import WrappingInterceptor
from registry.security.certs import principal_of_certificate
from registry.security.grants import Grants, set_grants
from registry.security.policy import Confine, Rule, rule_for
from registry.security.principal import PARTY_ROLES, CredentialError, Principal, Role
from registry.security.scope import Scope, ScopeIndex
from registry.security.tokens import RevocationList, TokenVerifier
from registry.server.actor import actor_from_metadata, set_actor
from registry.server.concurrency import Blocking
from registry.server.convert import confine_recipient
from registry.server.errors import ERROR_DOMAIN, rich_status, status_for
from registry.server.stream_rendering import Prebuilt

log = logging.getLogger("gpureg.access")

DEVELOPMENT = "development"
#: reports a partner gets as its own, scoped by the servicer to the party its call acts for
#: (``Grants.party``): the compliance report (its batches, their findings, its share of each
#: authorization); the ownership and custody reports are filtered to the partner's party instead
SCOPED_FOR_PARTNERS = frozenset({reports_pb2.REPORT_KIND_COMPLIANCE})
#: server streams that follow the log: limited per principal, dropped when stalled
SUBSCRIPTIONS = frozenset({"registry.api.v1.EventService/SubscribeEvents"})


def is_loopback(listen: str) -> bool:
    """Whether ``host:port`` listens on a loopback address only."""
    host = listen.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Authenticator:
    """Turns a call's transport identity and headers into a :class:`Principal`."""

    development: bool
    default_actor: str = "anonymous"
    tokens: TokenVerifier | None = None
    revocations: RevocationList | None = None

    @functools.cached_property
    def _development(self) -> Principal:
        """The development identity, made once (a frozen value: every call may share it)."""
        return Principal(subject=self.default_actor, role=Role.ADMIN, via=DEVELOPMENT)

    def authenticate(self, metadata: Any, auth_context: Any) -> Principal | None:
        """The caller; None when it presented no credential; CredentialError when one fails."""
        pem = (auth_context or {}).get("x509_pem_cert")
        if pem:
            principal, serial = principal_of_certificate(bytes(next(iter(pem))))
            if self.revocations is not None and self.revocations.revoked(serial):
                raise CredentialError(f"client certificate {serial} is revoked")
            return principal
        token = bearer_token(metadata)
        if token is not None:
            if self.tokens is None:
                raise CredentialError("this server takes no bearer tokens (start it with --token-keys)")
            return self.tokens.verify(token)
        if self.development:
            return self._development
        return None


def bearer_token(metadata: Any) -> str | None:
    for key, value in metadata or ():
        if key == "authorization":
            text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
            scheme, _, token = text.strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise CredentialError("the authorization header must be 'Bearer <token>'")
            return token.strip()
    return None


class Denied(Exception):
    """A refused call: the status code and the reason logged and sent."""

    def __init__(self, code: grpc.StatusCode, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except (ValueError, TypeError, AttributeError):
        return None


@dataclass(frozen=True)
class Limits:
    """Per-principal limits (Settings: max_subscriptions_per_principal, subscriber_stall_seconds,
    rate_limit_per_second)."""

    subscriptions: int = 16
    stall_seconds: float = 30.0
    rate_per_second: float = 0.0  # 0: no limit


class _Bucket:
    """A token bucket: ``rate`` calls a second, bursts of two seconds' worth."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.tokens = 2 * rate
        self.at = now

    def take(self, now: float) -> bool:
        self.tokens = min(2 * self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def _position(message: Any) -> int:
    """The greatest log position a SubscribeEvents message accounts for (0 if none)."""
    if type(message) is Prebuilt:
        return message.last
    if message.HasField("checkpoint"):
        return int(message.checkpoint.position)
    events = message.events.events
    return int(events[-1].position) if events else 0


def _confined(principal: Principal, rule: Rule) -> bool:
    """Whether ``principal``'s calls of a method with ``rule`` are confined to its own party's
    batches or sites (a partner or site operator, on a method that confines)."""
    return principal.role in PARTY_ROLES and rule.confine is not Confine.NONE


class AuthInterceptor(WrappingInterceptor):
    """See the module docstring."""

    def __init__(
        self, authenticator: Authenticator, index: ScopeIndex, blocking: Blocking, limits: Limits | None = None,
        certificates: bool = True,
    ) -> None:
        super().__init__()
        self._auth = authenticator
        #: whether a call can carry a client certificate (False on a plaintext server: its calls'
        #: auth context never holds one, so it is not read)
        self._certificates = certificates
        #: the Grants of an unconfined principal (they depend on the principal alone), made once
        self._unconfined: dict[Principal, Grants] = {}
        self._index = index
        self._blocking = blocking
        self.limits = limits or Limits()
        #: refusals by (status code name, reason)
        self.denials: Counter[tuple[str, str]] = Counter()
        #: open subscriptions per principal subject
        self.subscriptions: Counter[str] = Counter()
        #: subscriptions that ended early: (principal subject, position written up to, "stalled" by
        #: the stall timeout or "cancelled" by gRPC)
        self.dropped: deque[tuple[str, int, str]] = deque(maxlen=100)
        self._buckets: dict[str, _Bucket] = {}

    def _rate_limited(self, principal: Principal) -> bool:
        if self.limits.rate_per_second <= 0:
            return False
        now = time.monotonic()
        bucket = self._buckets.get(principal.subject)
        if bucket is None:
            if len(self._buckets) > 100_000:  # bounded: forget idle principals
                self._buckets.clear()
            bucket = self._buckets[principal.subject] = _Bucket(self.limits.rate_per_second, now)
        return not bucket.take(now)

    # ------------------------------------------------------------------ the decision
    async def _admit(self, method: str, metadata: Any, auth_context: Any) -> tuple[Principal | None, Rule]:
        return self._decide(method, rule_for(method), metadata, auth_context)

    def _decide(
        self, method: str, rule: Rule | None, metadata: Any, auth_context: Any
    ) -> tuple[Principal | None, Rule]:
        """Authenticate and look the role up in ``rule`` (the method's row, None if it has
        none): the principal (None for a public method called without a credential) and the
        rule, or :class:`Denied`."""
        try:
            principal = self._auth.authenticate(metadata, auth_context)
        except CredentialError as e:
            if rule is not None and rule.public:
                return None, rule
            raise Denied(grpc.StatusCode.UNAUTHENTICATED, "BAD_CREDENTIAL", str(e)) from None
        if rule is None:
            if principal is None:
                raise Denied(grpc.StatusCode.UNAUTHENTICATED, "NO_CREDENTIAL", "this call needs a credential")
            raise Denied(grpc.StatusCode.PERMISSION_DENIED, "NOT_IN_MATRIX", f"{method} is not in the access matrix")
        if rule.public:
            return principal, rule
        if principal is None:
            raise Denied(grpc.StatusCode.UNAUTHENTICATED, "NO_CREDENTIAL",
                         "this call needs a client certificate or an 'authorization: Bearer' token")
        if principal.role not in rule.roles:
            raise Denied(grpc.StatusCode.PERMISSION_DENIED, "ROLE_NOT_ALLOWED",
                         f"role {principal.role.value} may not call {method.rsplit('/', 1)[-1]}")
        if self._rate_limited(principal):
            raise Denied(grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED",
                         f"more than {self.limits.rate_per_second:g} calls a second; retry with backoff")
        return principal, rule

    def _grants(self, principal: Principal, scope: Scope | None) -> Grants:
        if scope is not None:
            return Grants.of(principal, scope)
        grants = self._unconfined.get(principal)
        if grants is None:
            if len(self._unconfined) > 10_000:  # bounded: forget principals seen once
                self._unconfined.clear()
            grants = self._unconfined[principal] = Grants.of(principal, None)
        return grants

    def _deny(self, denied: Denied, method: str, principal: Principal | None, peer: str) -> grpc.Status:
        self._log_denial(denied, method, principal, peer)
        return rich_status(denied.code, str(denied),
                           [error_details_pb2.ErrorInfo(reason=denied.reason, domain=ERROR_DOMAIN)])

    def _log_denial(self, denied: Denied, method: str, principal: Principal | None, peer: str) -> None:
        self.denials[(denied.code.name, denied.reason)] += 1
        who = principal.describe() if principal is not None else "(unauthenticated)"
        log.warning(
            "access denied: code=%s reason=%s method=%s principal=%s peer=%s detail=%s",
            denied.code.name, denied.reason, method, who, peer, denied,
            extra={"gpureg_access": {"code": denied.code.name, "reason": denied.reason, "method": method,
                                     "principal": who, "peer": peer, "detail": str(denied)}},
        )

    async def admit_outside_grpc(
        self, method: str, headers: list[tuple[str, str]], peer: str, request: Any = None
    ) -> tuple[Principal, str | InvalidField, Grants]:
        """The same decision for a call that arrives by another protocol (the EPCIS REST binding):
        ``headers`` as gRPC metadata (lower-case names), ``request`` an object carrying the fields
        the method's confinement reads (``batch_id``). Returns the principal, the actor to record
        and the call's :class:`Grants`; raises :class:`Denied` (logged and counted as for gRPC) or
        :class:`NotYours` (answer it as the missing resource it stands for)."""
        principal: Principal | None = None
        try:
            principal, rule = await self._admit(method, headers, None)
            if principal is None:  # a public method: nothing else is offered outside gRPC
                raise Denied(grpc.StatusCode.UNAUTHENTICATED, "NO_CREDENTIAL", "this call needs a credential")
            scope = await self._confine_request(principal, rule, request) if request is not None else None
        except Denied as denied:
            self._log_denial(denied, method, principal, peer)
            raise
        if principal.via == DEVELOPMENT:
            actor: str | InvalidField = actor_from_metadata(headers, principal.subject)
        else:
            actor = principal.actor
        return principal, actor, Grants.of(principal, scope)

    async def _scope(self, principal: Principal) -> Scope:
        assert principal.party_id is not None
        await self._blocking(self._index.refresh)
        return Scope.of(principal.party_id, self._index)

    async def _confine_request(self, principal: Principal, rule: Rule, request: Any) -> Scope | None:
        """Refuse a request that names another party's batch or site (as NOT_FOUND); return the
        scope for confining the answer, or None when the caller sees everything."""
        if not _confined(principal, rule):
            return None
        scope = await self._scope(principal)
        confine = rule.confine
        if confine is Confine.BATCH_OR_SITE:
            confine = Confine.BATCH if principal.role is Role.PARTNER else Confine.SITE
        if confine is Confine.BATCH or confine is Confine.EXPORT:
            batch_id = _uuid(getattr(request, "batch_id", ""))
            if batch_id is not None and not scope.sees_batch(batch_id):
                held = list(getattr(request, "serials", ()) or ()) if isinstance(request, _HOLDER_REQUESTS) else []
                # a unit transferred to the partner from another's batch: its holder reports what
                # becomes of it (every serial named must be held by the partner's family)
                holder = bool(held) and await self._blocking(scope.holds_units, batch_id, held)
                if not holder:
                    raise NotYours(NotFound("batch", batch_id))
        elif confine is Confine.PARTY:
            party_id = _uuid(getattr(request, "party_id", ""))
            if party_id is not None and not scope.sees_party(party_id):
                raise NotYours(NotFound("party", party_id))
        elif confine is Confine.SITE:
            site_id = _uuid(getattr(request, "site_id", ""))
            if site_id is None:
                raise NotYours(InvalidField.one("site_id", "a site operator names the site it acts at (a UUID)"))
            if not scope.sees_site(site_id):
                raise NotYours(NotFound("site", site_id))
        elif confine is Confine.AGENT_SITE:
            site_id = _uuid(getattr(request, "site_id", ""))
            if site_id is None or not scope.sees_site(site_id):
                raise NotYours(NotFound("site", site_id or getattr(request, "site_id", "")))
            partner_id = _uuid(getattr(request, "partner_id", ""))
            if partner_id is None or not scope.sees_party(partner_id):
                raise NotYours(NotFound("party", f"{getattr(request, 'partner_id', '')} (field partner_id)"))
        elif confine is Confine.AGENT:
            agent_id = _uuid(getattr(request, "agent_id", ""))
            if agent_id is None or not scope.sees_agent(agent_id):
                raise NotYours(NotFound("host_agent", agent_id or getattr(request, "agent_id", "")))
        elif confine is Confine.REPORT:
            named = getattr(request, "partner", "").strip()
            if not named:
                if getattr(request, "kind", None) not in SCOPED_FOR_PARTNERS:
                    request.partner = str(scope.party_id)
            elif _uuid(named) not in scope.family:
                raise Denied(grpc.StatusCode.PERMISSION_DENIED, "OTHER_PARTY",
                             "a partner's reports cover only its own party (partner = its party id)")
        return scope

    async def _confine_response(self, scope: Scope, rule: Rule, response: Any) -> Any:
        if rule.confine is Confine.ROWS:
            await self._know(scope, _batch_ids(response))
            _keep_own_rows(scope, response)
        elif rule.confine is Confine.SERIAL:
            location = response.location
            await self._know(scope, [location.batch_id])
            batch_id = _uuid(location.batch_id)
            if batch_id is None or not scope.sees_batch(batch_id):
                raise NotYours(NotFound("serial location", location.serial))
        elif rule.confine is Confine.FINDING:
            finding = response.finding
            await self._know(scope, [finding.batch_id])
            if not _finding_visible(scope, finding):
                raise NotYours(NotFound("finding", _uuid(finding.finding_id) or finding.finding_id))
        return response

    async def _know(self, scope: Scope, batch_ids: list[str]) -> None:
        ids = [u for u in (_uuid(b) for b in batch_ids) if u is not None]
        if scope.unknown(ids):
            await self._blocking(self._index.refresh)

    async def _own_events(
        self, scope: Scope, messages: AsyncIterator[events_pb2.SubscribeEventsResponse | Prebuilt]
    ) -> AsyncIterator[events_pb2.SubscribeEventsResponse]:
        async for sent in messages:
            # the servicer sends prebuilt responses to unconfined callers only; read one all the same
            message = sent.message() if isinstance(sent, Prebuilt) else sent
            if message.HasField("events"):
                events = message.events.events
                if events and scope.behind(events[-1].position):  # a batch ordered since: learn it
                    await self._blocking(self._index.refresh)
                own = [e for e in events if (b := _uuid(e.aggregate_id)) is not None and scope.sees_batch(b)]
                if not own:
                    continue
                for e in own:  # another party's receipt of units from an onward movement is not its to learn
                    confine_recipient(e, scope.sees_party)
                if len(own) != len(events):
                    kept = events_pb2.SubscribeEventsResponse()
                    kept.events.events.extend(own)
                    yield kept
                    continue
            yield message

    # ------------------------------------------------------------------ wrapping handlers

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        """``handler`` behind the gate, for ``method`` (whatever the call)."""
        this = self
        method_rule = rule_for(method)
        certificates = self._certificates

        async def admit(request: Any, context: Any) -> tuple[Principal | None, Rule, Scope | None]:
            principal: Principal | None = None
            try:
                metadata = context.invocation_metadata()
                principal, rule = this._decide(
                    method, method_rule, metadata, context.auth_context() if certificates else None)
                if principal is not None and principal.via == DEVELOPMENT:
                    set_actor(actor_from_metadata(metadata, principal.subject))
                else:
                    set_actor(principal.actor if principal is not None else "anonymous")
                scope = None
                if principal is not None and request is not None and _confined(principal, rule):
                    scope = await this._confine_request(principal, rule, request)
                if principal is not None:
                    set_grants(this._grants(principal, scope))
                return principal, rule, scope
            except Denied as denied:
                await context.abort_with_status(this._deny(denied, method, principal, context.peer()))
            except NotYours as hidden:
                await context.abort_with_status(status_for(hidden.error))
            raise AssertionError("abort returned")  # pragma: no cover

        async def finish(context: Any, scope: Scope | None, rule: Rule, response: Any) -> Any:
            if scope is None:
                return response
            try:
                return await this._confine_response(scope, rule, response)
            except NotYours as hidden:
                await context.abort_with_status(status_for(hidden.error))
            raise AssertionError("abort returned")  # pragma: no cover

        if handler.unary_unary is not None:
            unary = handler.unary_unary

            async def unary_unary(request: Any, context: Any) -> Any:
                _, rule, scope = await admit(request, context)
                response = await unary(request, context)
                return response if scope is None else await finish(context, scope, rule, response)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        if handler.unary_stream is not None and method.lstrip("/") in SUBSCRIPTIONS:
            subscription = handler.unary_stream

            async def subscribe(request: Any, context: Any) -> None:
                principal, rule, scope = await admit(request, context)
                await this._subscribe(method, principal, rule, scope, subscription(request, context), context)

            return grpc.unary_stream_rpc_method_handler(
                subscribe, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        if handler.unary_stream is not None and inspect.isasyncgenfunction(handler.unary_stream):
            streaming = handler.unary_stream

            async def unary_stream(request: Any, context: Any) -> AsyncIterator[Any]:
                _, rule, scope = await admit(request, context)
                messages = streaming(request, context)
                if scope is not None and rule.confine is Confine.EVENTS:
                    messages = this._own_events(scope, messages)
                async for message in messages:
                    yield message

            return grpc.unary_stream_rpc_method_handler(
                unary_stream, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        if handler.unary_stream is not None:
            writer = handler.unary_stream  # writes with context.write (health Watch)

            async def unary_stream_writer(request: Any, context: Any) -> Any:
                await admit(request, context)
                return await writer(request, context)

            return grpc.unary_stream_rpc_method_handler(
                unary_stream_writer, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        if handler.stream_stream is not None:
            both = handler.stream_stream  # reflection

            if inspect.isasyncgenfunction(both):
                async def stream_stream(requests: Any, context: Any) -> AsyncIterator[Any]:
                    await admit(None, context)
                    async for message in both(requests, context):
                        yield message
            else:
                async def stream_stream(requests: Any, context: Any) -> Any:  # type: ignore[misc]
                    await admit(None, context)
                    return await both(requests, context)

            return grpc.stream_stream_rpc_method_handler(
                stream_stream, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        return _refused_handler(handler)


    async def _subscribe(
        self, method: str, principal: Principal | None, rule: Rule, scope: Scope | None,
        messages: AsyncIterator[Any], context: Any,
    ) -> None:
        """Serve a subscription under the per-principal limits: at most ``limits.subscriptions``
        open at once, and each message written within ``limits.stall_seconds``. gRPC completes
        a write only when HTTP/2 flow control and the socket take it, so a subscriber that stops
        reading stops the stream reading ahead (one page at most); after the stall timeout it is
        ended with RESOURCE_EXHAUSTED, naming the position to resume after."""
        who = principal.subject if principal is not None else "anonymous"
        if self.subscriptions[who] >= self.limits.subscriptions:
            denied = Denied(grpc.StatusCode.RESOURCE_EXHAUSTED, "TOO_MANY_SUBSCRIPTIONS",
                            f"at most {self.limits.subscriptions} open subscriptions per principal")
            await context.abort_with_status(self._deny(denied, method, principal, context.peer()))
        if scope is not None and rule.confine is Confine.EVENTS:
            messages = self._own_events(scope, messages)
        self.subscriptions[who] += 1
        written = 0
        stalled = False
        try:
            async for message in messages:
                deadline = asyncio.timeout(self.limits.stall_seconds)
                try:
                    async with deadline:
                        await context.write(message)
                except (Exception, asyncio.CancelledError) as e:
                    # The timeout cancels the pending write; gRPC may report that as a
                    # CancelledError or its own error rather than TimeoutError.
                    if not deadline.expired():
                        raise  # the call was cancelled or failed, not stalled
                    log.debug("stalled write ended with %r", e)
                    stalled = True
                    break
                written = max(written, _position(message))
        except asyncio.CancelledError:
            # gRPC cancelled the call: the client cancelled, or its transport was closed (a peer
            # that stops reading also stops acknowledging HTTP/2 pings and settings)
            self.dropped.append((who, written, "cancelled"))
            raise
        finally:
            self.subscriptions[who] -= 1
            if not self.subscriptions[who]:
                del self.subscriptions[who]
            await messages.aclose()  # type: ignore[attr-defined]
        if stalled:
            self.denials[("RESOURCE_EXHAUSTED", "SUBSCRIBER_STALLED")] += 1
            self.dropped.append((who, written, "stalled"))
            log.warning("subscription dropped: principal=%s method=%s reason=SUBSCRIBER_STALLED resume_after=%d",
                        principal.describe() if principal else "(anonymous)", method, written,
                        extra={"gpureg_access": {"code": "RESOURCE_EXHAUSTED", "reason": "SUBSCRIBER_STALLED",
                                                 "method": method, "resume_after": written}})
            await context.abort_with_status(rich_status(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"the subscriber took no message for {self.limits.stall_seconds:g} s; resume with "
                f"after_position={written}",
                [error_details_pb2.ErrorInfo(reason="SUBSCRIBER_STALLED", domain=ERROR_DOMAIN,
                                             metadata={"after_position": str(written)})]))


class NotYours(Exception):
    """Another party's resource: answered exactly as a missing one (or a request that cannot be
    confined, answered as the bad input it is)."""

    def __init__(self, error: NotFound | InvalidField) -> None:
        super().__init__(str(error))
        self.error = error


def _refused_handler(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A stream-request method the server does not offer through the matrix (none today)."""

    async def refuse(requests: Any, context: Any) -> Any:
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, "this method is not in the access matrix")

    return grpc.stream_unary_rpc_method_handler(
        refuse, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer)


# ---------------------------------------------------------------------- answer filters
#: Reports a unit's holder makes about units it holds, even in a batch that is not its own (units
#: transferred to it): what becomes of them (RMA, loss, decommission) and their onward handover.
_HOLDER_REQUESTS = (
    commands_pb2.ReturnForRmaRequest, commands_pb2.ReportLostRequest, commands_pb2.DecommissionRequest,
    commands_pb2.AssignRequest, commands_pb2.TransferRequest,
)


def _batch_ids(response: Any) -> list[str]:
    if isinstance(response, queries_pb2.ListBatchesResponse):
        return [b.batch_id for b in response.batches]
    if isinstance(response, compliance_pb2.ListFindingsResponse):
        return [f.batch_id for f in response.findings]
    if isinstance(response, compliance_pb2.ListOverdueItemsResponse):
        return [i.batch_id for i in response.items]
    return []


def _finding_visible(scope: Scope, finding: compliance_pb2.Finding) -> bool:
    batch = _uuid(finding.batch_id)
    if batch is not None:
        return scope.sees_batch(batch)
    parties = [p for p in (_uuid(finding.partner_id), _uuid(finding.party_id)) if p is not None]
    return bool(parties) and all(scope.sees_party(p) for p in parties)


def _keep(rows: Any, keep: Callable[[Any], bool]) -> None:
    own = [r for r in rows if keep(r)]
    del rows[:]
    rows.extend(own)


def _keep_own_rows(scope: Scope, response: Any) -> None:
    """Keep only the party's rows, in place (every ROWS-confined response type is here)."""
    def batch(b: str) -> bool:
        u = _uuid(b)
        return u is not None and scope.sees_batch(u)

    if isinstance(response, queries_pb2.ListBatchesResponse):
        _keep(response.batches, lambda r: batch(r.batch_id))
    elif isinstance(response, queries_pb2.GetOwnershipResponse):
        _keep(response.partners, lambda r: (u := _uuid(r.partner_id)) is not None and scope.sees_party(u))
    elif isinstance(response, queries_pb2.GetSiteInventoryResponse):
        _keep(response.sites, lambda r: (u := _uuid(r.site_id)) is not None and scope.sees_site(u))
    elif isinstance(response, compliance_pb2.ListFindingsResponse):
        _keep(response.findings, lambda f: _finding_visible(scope, f))
    elif isinstance(response, compliance_pb2.ListOverdueItemsResponse):
        _keep(response.items, lambda i: batch(i.batch_id))
    else:  # a ROWS row whose answer has no filter here would leak: refuse instead
        raise TypeError(f"no row filter for {type(response).__name__}")
