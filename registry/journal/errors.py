"""The one error the journal raises through the application."""

from __future__ import annotations

from registry.domain.errors import RegistryError


class JournalBroken(RegistryError):
    """The journal does not match the event log: the store is read-only until it is repaired."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(
            f"the registry is read-only: its journal check failed ({detail}); "
            "run `gpureg journal verify` and restore the store from a verified copy"
        )
