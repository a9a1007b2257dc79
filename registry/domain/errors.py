"""The registry's exception tree.

Every error the registry raises on purpose derives from :class:`RegistryError`, so a caller can
catch one type. The interface layer (gRPC) maps each subclass to one status code in a single
table; nothing else decides how an error looks on the wire.

    RegistryError
    ├── DomainError                 a command broke a business rule; nothing was written
    │   ├── InvalidField            a value is malformed or out of range (names the field and rule)
    │   ├── IllegalTransition       the aggregate's state does not allow this step now
    │   ├── InvariantViolation      a quantity or uniqueness rule would break
    │   │   └── SerialAlreadyRegistered
    │   └── ComplianceRefusal       the registry's own export-control decision says no
    ├── NotFound                    an id names nothing
    ├── AlreadyExists               a create command names an id that is taken
    ├── ConcurrencyConflict         expected_version did not match, or a concurrent writer won
    ├── IdempotencyKeyReused        a request_id was reused for a different command
    ├── ReadModelBehind             a read model did not reach the asked log position in time
    └── ReadModelRebuilding         the read model in use is of another version than this server's
                                    code (an upgrade's rebuild has not switched over yet)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class RegistryError(Exception):
    """Base of every error the registry raises on purpose."""


class DomainError(RegistryError):
    """A command was refused by a business rule. Nothing was written."""


class InvalidField(DomainError):
    """A field's value breaks a validation rule.

    ``violations`` holds (field path, rule) pairs so interfaces can report each one.
    """

    def __init__(self, violations: Sequence[tuple[str, str]]) -> None:
        self.violations: list[tuple[str, str]] = list(violations)
        text = "; ".join(f"{field}: {rule}" for field, rule in self.violations)
        super().__init__(f"invalid input: {text}")

    @classmethod
    def one(cls, field: str, rule: str) -> InvalidField:
        return cls([(field, rule)])

    def under(self, prefix: str) -> InvalidField:
        """The same violations for fields nested under ``prefix`` (``placements[2].serials``)."""
        return InvalidField([(f"{prefix}.{field}", rule) for field, rule in self.violations])


class IllegalTransition(DomainError):
    """The step is not allowed in the aggregate's current state.

    The message names the current state and the allowed next steps.
    """

    def __init__(self, action: str, state: str, allowed: Sequence[str], reason: str = "") -> None:
        self.action = action
        self.state = state
        self.allowed = list(allowed)
        self.reason = reason
        why = f" ({reason})" if reason else ""
        allowed_text = ", ".join(self.allowed) if self.allowed else "none"
        super().__init__(
            f"cannot {action} in state {state}{why}; allowed next steps: {allowed_text}"
        )


class InvariantViolation(DomainError):
    """A quantity or uniqueness invariant would break."""

    def __init__(self, rule: str, detail: str) -> None:
        self.rule = rule
        self.detail = detail
        super().__init__(f"{rule}: {detail}")


class SerialAlreadyRegistered(InvariantViolation):
    """A GPU serial belongs to at most one batch in the whole registry."""

    def __init__(self, serials: Sequence[str]) -> None:
        self.serials = list(serials)
        shown = ", ".join(self.serials[:10]) + (" …" if len(self.serials) > 10 else "")
        super().__init__(
            "serial-unique", f"serial(s) already registered to another batch: {shown}"
        )


class ComplianceRefusal(DomainError):
    """An export-control decision owned by the registry refused the command.

    ``rule`` is a stable id (e.g. ``headquarters-rule``); ``citation`` names the regulation it
    comes from (given, or else the catalogue's, ``registry.domain.compliance_rules.RULES``);
    ``facts`` are the facts that decided it, as strings (party ids, dates, figures).
    """

    def __init__(
        self, rule: str, detail: str, citation: str = "", facts: Mapping[str, str] | None = None
    ) -> None:
        if not citation:
            from registry.domain.compliance_rules import RULES  # the catalogue imports nothing back

            info = RULES.get(rule)
            citation = info.citation if info is not None else ""
        self.rule = rule
        self.detail = detail
        self.citation = citation
        self.facts: dict[str, str] = {str(k): str(v) for k, v in (facts or {}).items()}
        cited = f" ({citation})" if citation else ""
        super().__init__(f"refused by rule {rule}{cited}: {detail}")


class NotFound(RegistryError):
    """An id does not name an existing aggregate of the expected kind."""

    def __init__(self, kind: str, ident: object) -> None:
        self.kind = kind
        self.ident = ident
        super().__init__(f"{kind} {ident} not found")


class AlreadyExists(RegistryError):
    """A create command names an id that already exists."""

    def __init__(self, kind: str, ident: object) -> None:
        self.kind = kind
        self.ident = ident
        super().__init__(f"{kind} {ident} already exists")


class ConcurrencyConflict(RegistryError):
    """The aggregate changed since the caller read it (or a concurrent writer won)."""

    def __init__(self, ident: object, expected: int | None, actual: int | None) -> None:
        self.ident = ident
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"version conflict on {ident}: expected version {expected}, current {actual}"
        )


class IdempotencyKeyReused(RegistryError):
    """A request_id was already used for a different command or payload."""

    def __init__(self, request_id: str, original_command: str) -> None:
        self.request_id = request_id
        self.original_command = original_command
        super().__init__(
            f"request_id {request_id!r} was already used for a different "
            f"{original_command} command"
        )


class ReadModelBehind(RegistryError):
    """A query asked to read its writes (``min_position``), and the read model did not reach that
    log position before the call's deadline. Retrying later will succeed."""

    def __init__(self, position: int, reached: dict[str, int]) -> None:
        self.position = position
        self.reached = dict(reached)
        behind = ", ".join(f"{name} at {at}" for name, at in sorted(reached.items()) if at < position)
        super().__init__(f"read model not yet at log position {position} ({behind or 'catching up'})")


class ReadModelRebuilding(RegistryError):
    """The active generation of a read model was built by another version of its projection than
    the one this server runs: an upgrade changed the read model, and its rebuild (by the
    projection workers) has not switched over yet. The query cannot read the old tables with the
    new code, so it is refused rather than answered wrongly; retrying shortly will succeed."""

    def __init__(self, projection: str, active_version: int, code_version: int) -> None:
        self.projection = projection
        self.active_version = active_version
        self.code_version = code_version
        super().__init__(
            f"read model {projection} is being rebuilt: the one in use is version {active_version}, "
            f"this server reads version {code_version}; retry shortly"
        )
