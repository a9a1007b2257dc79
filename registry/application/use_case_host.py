"""What the compliance use-case mixins (screening, findings) use of the registry they are mixed
into, said once for the type checker. At run time the base is ``object``: the ``Registry`` (the
command executor plus ``ComplianceMixin``) provides every member."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime
    from typing import Any
    from uuid import UUID

    from eventsourcing.application import Application

    from registry.application import commands as c
    from registry.application.compliance import _ComplianceSettings
    from registry.application.results import CommandResult
    from registry.domain.base import Context, RegistryAggregate
    from registry.domain.reference import Party

    class ComplianceUseCaseHost(Application[UUID]):
        _clock: Callable[[], datetime]

        @property
        def _compliance(self) -> _ComplianceSettings: ...
        @property
        def screening_threshold(self) -> float: ...
        def _load(self, kind: str, ident: UUID) -> Any: ...
        def _exists(self, ident: UUID) -> bool: ...
        def _try(self, ident: UUID, cls: type[RegistryAggregate]) -> Any: ...
        def _all_parties(self) -> list[Party]: ...
        def _change(self, command: str, actor: str, cmd: c.Command, kind: str, ident: UUID,
                    decide: Callable[[Any], Sequence[RegistryAggregate]],
                    references: Sequence[tuple[str, UUID | None, str]] = (),
                    shared: Sequence[UUID] = ()) -> CommandResult: ...
        def _run(self, command: str, actor: str, cmd: c.Command, target: UUID | None,
                 decide: Callable[[Any], Sequence[RegistryAggregate]],
                 references: Sequence[tuple[str, UUID | None, str]] = ()) -> CommandResult: ...
        def _create(self, command: str, actor: str, cmd: c.Command, kind: str, ident: UUID | None,
                    make: Callable[[Context, UUID], RegistryAggregate | Sequence[RegistryAggregate]],
                    references: Sequence[tuple[str, UUID | None, str]] = ()) -> CommandResult: ...
else:
    ComplianceUseCaseHost = object
