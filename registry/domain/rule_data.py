"""The configured compliance rule data (rulesets and country groups), recorded in the log.

The command side and the compliance projection must judge by the same rule data. The command side
holds it in memory (``Registry.configure_compliance``); the projection can only read the log. So a
configuration that differs from the one recorded is written as a ``ComplianceRuleData.Configured``
event (who, when, why, and the whole data as plain values), and both sides read it: the registry
on start (its configured data when none is recorded), the projection as of each event's position.
Within one configuration, the ruleset and country-group version in force at an event's business
time (``occurred_at``) apply, as for a decision.

Pure code: serialisation of :class:`Ruleset` and :class:`CountryGroups` to plain values and back,
and the singleton aggregate that records them.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from registry.domain.base import Context, RegistryAggregate
from registry.domain.classification import DEFAULT_RULESETS, Ruleset, RulesetRegistry
from registry.domain.country_groups import DEFAULT_COUNTRY_GROUPS, CountryGroupRegistry, CountryGroups
from registry.domain.errors import InvalidField

_RULE_DATA_ID = uuid5(NAMESPACE_URL, "urn:gpureg:compliance-rule-data")


def ruleset_to_data(ruleset: Ruleset) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(ruleset):
        value = getattr(ruleset, f.name)
        if isinstance(value, Decimal):
            out[f.name] = str(value)
        elif isinstance(value, datetime):
            out[f.name] = value.isoformat()
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        else:
            out[f.name] = value
    return out


def ruleset_from_data(data: dict[str, Any]) -> Ruleset:
    defaults = {f.name: f.default for f in dataclasses.fields(Ruleset)}
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        if name not in defaults:
            continue  # a field a later version added: ignored by this one
        default = defaults[name]
        if name == "effective_from":
            kwargs[name] = datetime.fromisoformat(value)
        elif isinstance(default, Decimal):
            kwargs[name] = Decimal(str(value))
        elif isinstance(default, tuple):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return Ruleset(**kwargs)


def country_groups_to_data(groups: CountryGroups) -> dict[str, Any]:
    return {
        "version_id": groups.version_id,
        "effective_from": groups.effective_from.isoformat(),
        "source": groups.source,
        "members": {g: sorted(m) for g, m in sorted(groups.members.items())},
        "treated_as": dict(sorted(groups.treated_as.items())),
        "notes": list(groups.notes),
    }


def country_groups_from_data(data: dict[str, Any]) -> CountryGroups:
    return CountryGroups(
        version_id=str(data["version_id"]),
        effective_from=datetime.fromisoformat(data["effective_from"]),
        source=str(data.get("source", "")),
        members=MappingProxyType({g: frozenset(m) for g, m in dict(data["members"]).items()}),
        treated_as=MappingProxyType(dict(data.get("treated_as", {}))),
        notes=tuple(data.get("notes", ())),
    )


@dataclass(frozen=True)
class RuleData:
    """One configuration: every ruleset and every country-group version, by effective date."""

    rulesets: RulesetRegistry
    country_groups: CountryGroupRegistry

    def to_data(self) -> dict[str, Any]:
        return {
            "rulesets": [ruleset_to_data(r) for r in self.rulesets.rulesets],
            "country_groups": [country_groups_to_data(g) for g in self.country_groups.versions],
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> RuleData:
        return _parse(json.dumps(data, sort_keys=True))

    def fingerprint(self) -> str:
        return json.dumps(self.to_data(), sort_keys=True)


@lru_cache(maxsize=16)
def _parse(canonical: str) -> RuleData:
    data = json.loads(canonical)
    return RuleData(
        RulesetRegistry([ruleset_from_data(r) for r in data["rulesets"]]),
        CountryGroupRegistry([country_groups_from_data(g) for g in data["country_groups"]]),
    )


DEFAULT_RULE_DATA = RuleData(DEFAULT_RULESETS, DEFAULT_COUNTRY_GROUPS)


class ComplianceRuleData(RegistryAggregate):
    """The registry-wide record of the configured rule data (one aggregate, a derived id)."""

    class Started(RegistryAggregate.Created):
        def apply(self, aggregate: Any) -> None:
            aggregate.data = None

    class Configured(RegistryAggregate.Event):
        data: dict[str, Any]
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.data = self.data

    if TYPE_CHECKING:
        data: dict[str, Any] | None

    @staticmethod
    def id_for() -> UUID:
        return _RULE_DATA_ID

    @classmethod
    def start(cls, ctx: Context) -> ComplianceRuleData:
        return cls._create(cls.Started, id=_RULE_DATA_ID, **ctx.event_kwargs())

    @property
    def current(self) -> RuleData | None:
        return RuleData.from_data(self.data) if self.data is not None else None

    def configure(self, ctx: Context, rule_data: RuleData, reason: str) -> bool:
        """Record ``rule_data`` unless it is the one recorded already; True when recorded."""
        if not reason.strip():
            raise InvalidField.one("reason", "a change of rule data needs a reason")
        current = self.current
        if current is not None and current.fingerprint() == rule_data.fingerprint():
            return False
        self.trigger_event(self.Configured, data=rule_data.to_data(), reason=reason, **ctx.event_kwargs())
        return True


__all__ = [
    "DEFAULT_RULE_DATA",
    "ComplianceRuleData",
    "RuleData",
    "country_groups_from_data",
    "country_groups_to_data",
    "ruleset_from_data",
    "ruleset_to_data",
]
