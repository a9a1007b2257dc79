"""EAR country groups (15 CFR 740 Supplement No. 1) as versioned reference data.

DATA A USER CAN CORRECT. The memberships below were written down from the public Supplement No. 1
to Part 740 as it stood in 2025, to the best of the authors' knowledge; they were not fetched from
the regulator and may be out of date. A correction is a new :class:`CountryGroups` version with a
later ``effective_from`` (or a replacement with the same id), never an edit of past decisions: a
decision records the version id it used.

Only the groups the advanced-computing rules read are kept: D:1, D:4, D:5, A:5, A:6, and Macau,
which the rules name on its own. Countries are ISO 3166-1 alpha-2 codes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

from registry.domain.errors import ComplianceRefusal

D1 = "D:1"
D4 = "D:4"
D5 = "D:5"
A5 = "A:5"
A6 = "A:6"
MACAU = "Macau"
GROUPS = (D1, D4, D5, A5, A6, MACAU)


@dataclass(frozen=True)
class CountryGroups:
    """One version of the country-group memberships."""

    version_id: str
    effective_from: datetime
    source: str
    members: Mapping[str, frozenset[str]]
    # Destinations the EAR treats as another (Hong Kong has been treated as China since 2020).
    treated_as: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = sorted(set(self.members) - set(GROUPS))
        if unknown:
            raise ValueError(f"unknown country groups {unknown}; known: {list(GROUPS)}")

    def effective_country(self, country: str) -> str:
        return self.treated_as.get(country, country)

    def groups_of(self, country: str) -> list[str]:
        """The groups a destination belongs to (after ``treated_as``), in :data:`GROUPS` order."""
        c = self.effective_country(country)
        return [g for g in GROUPS if c in self.members.get(g, frozenset())]

    def is_in(self, country: str, group: str) -> bool:
        return self.effective_country(country) in self.members.get(group, frozenset())

    def d5_or_macau(self, country: str) -> bool:
        """The headquarters rule's test: a D:5 country or Macau."""
        return self.is_in(country, D5) or self.is_in(country, MACAU)


def _set(codes: str) -> frozenset[str]:
    return frozenset(codes.split())


# Supplement No. 1 to Part 740 as of 2025 (best knowledge; see the module docstring). It is used
# from the start of the advanced-computing rules (17 Nov 2023): memberships that changed since
# then (Nicaragua, 2024) are a known simplification, to be corrected by adding earlier versions.
EAR_2025 = CountryGroups(
    version_id="ear-740-supp1-2025",
    effective_from=datetime(2023, 11, 17, tzinfo=UTC),
    source="15 CFR 740 Supplement No. 1 (Country Groups), as published in 2025; transcribed, verify",
    members=MappingProxyType(
        {
            # D:1 national security
            D1: _set(
                "AM AZ BY MM KH CN GE IR IQ KZ KP KG LA LY MO MD MN NI RU TJ TM UA UZ VE VN YE"
            ),
            # D:4 missile technology
            D4: _set("BH CN EG IR IQ IL JO KP KW LB LY MO NI OM PK QA RU SA SY AE YE"),
            # D:5 U.S. arms embargoed countries (22 CFR 126.1)
            D5: _set(
                "AF BY MM KH CF CN CD CU CY ER HT IR IQ KP LB LY NI RU SO SS SD SY VE ZW"
            ),
            # A:5 and A:6: close partners; a destination also in A:5 or A:6 is carved out
            A5: _set(
                "AR AU AT BE BG CA HR CZ DK EE FI FR DE GR HU IS IN IE IT JP LV LT LU NL NZ NO "
                "PL PT RO SK SI KR ES SE CH TR GB"
            ),
            A6: _set("AL IL MT SG ZA TW"),
            MACAU: _set("MO"),
        }
    ),
    treated_as=MappingProxyType({"HK": "CN"}),
    notes=(
        "Nicaragua's D-group memberships follow the 2024 rule as understood; verify.",
        "Cyprus is listed in D:5 with a footnote in the supplement; verify its current status.",
        "Hong Kong is not a separate destination since 2020: treated as China.",
    ),
)


class CountryGroupRegistry:
    """Versions by effective date; :meth:`in_force` picks the latest that has started."""

    def __init__(self, versions: Iterable[CountryGroups]) -> None:
        ordered = sorted(versions, key=lambda v: v.effective_from)
        if not ordered:
            raise ValueError("at least one country-group version")
        ids = [v.version_id for v in ordered]
        if len(set(ids)) != len(ids):
            raise ValueError(f"version ids must be unique: {ids}")
        self._versions = tuple(ordered)

    @property
    def versions(self) -> tuple[CountryGroups, ...]:
        return self._versions

    def in_force(self, at: datetime) -> CountryGroups:
        current: CountryGroups | None = None
        for v in self._versions:
            if v.effective_from <= at:
                current = v
        if current is None:
            raise ComplianceRefusal(
                "country-groups-version",
                f"no country-group data in force at {at.isoformat()}",
                facts={"at": at.isoformat(), "earliest": self._versions[0].effective_from.isoformat()},
            )
        return current

    def with_version(self, version: CountryGroups) -> CountryGroupRegistry:
        return CountryGroupRegistry(
            [v for v in self._versions if v.version_id != version.version_id] + [version]
        )


DEFAULT_COUNTRY_GROUPS = CountryGroupRegistry([EAR_2025])
