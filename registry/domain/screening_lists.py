"""Restricted-party list snapshots as received: the entry type and the CSV parser (CSL layout).

Pure code; :class:`registry.domain.screening.ScreeningList` records a parsed snapshot.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from registry.domain.errors import InvalidField


# -------------------------------------------------------------------------- list entries
@dataclass(frozen=True)
class ListEntry:
    """One entry of a restricted-party list snapshot."""

    entry_id: str
    source_list: str  # the list inside the consolidated list, e.g. "Entity List (EL) - BIS"
    name: str
    alt_names: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Content hash: the same entry in a later snapshot has the same key."""
        canonical = json.dumps(
            [self.source_list, self.name, list(self.alt_names), list(self.addresses), list(self.countries)],
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "entry_id": self.entry_id,
            "source_list": self.source_list,
            "name": self.name,
            "alt_names": list(self.alt_names),
            "addresses": list(self.addresses),
            "countries": list(self.countries),
        }
        if self.extra:
            data["extra"] = dict(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ListEntry:
        return cls(
            entry_id=str(data["entry_id"]),
            source_list=str(data["source_list"]),
            name=str(data["name"]),
            alt_names=tuple(data.get("alt_names", ())),
            addresses=tuple(data.get("addresses", ())),
            countries=tuple(data.get("countries", ())),
            extra=dict(data.get("extra", {})),
        )


# Column names accepted for each field (compared case-insensitively, spaces as underscores).
# The US Consolidated Screening List CSV header is:
#   _id,source,entity_number,type,programs,name,title,addresses,federal_register_notice,
#   start_date,end_date,standard_order,license_requirement,license_policy,call_sign,vessel_type,
#   gross_tonnage,gross_registered_tonnage,vessel_flag,vessel_owner,remarks,source_list_url,
#   alt_names,citizenships,dates_of_birth,nationalities,places_of_birth,source_information_url,ids
# It has no countries column: countries come from the last part of each address ("..., CN").
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "entry_id": ("_id", "id", "entry_id", "entity_number"),
    "source_list": ("source", "source_list", "list"),
    "name": ("name",),
    "alt_names": ("alt_names", "alternate_names", "aliases"),
    "addresses": ("addresses", "address"),
    "countries": ("countries", "country"),
}
EXTRA_COLUMNS = (
    "entity_number", "type", "programs", "federal_register_notice", "start_date", "end_date",
    "license_requirement", "license_policy", "source_list_url", "remarks",
)
_COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class ParsedList:
    sha256: str
    columns: tuple[str, ...]
    entries: tuple[ListEntry, ...]
    skipped_rows: int


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(";") if part.strip())


def parse_screening_csv(content: bytes, default_source: str) -> ParsedList:
    """Parse a list snapshot in the CSL CSV layout (or any CSV with at least a ``name`` column).

    Multi-valued cells (alt_names, addresses, countries) are separated by ``;``. A row without a
    name is skipped and counted. Raises :class:`InvalidField` (field ``content``) when the file
    is not UTF-8 or has no ``name`` column; nothing is written then.
    """
    digest = hashlib.sha256(content).hexdigest()
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InvalidField.one(
            "content", f"must be UTF-8 encoded CSV ({e.reason} at byte {e.start})"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        raise InvalidField.one("content", "empty file: a CSV header with a 'name' column is required")
    columns = tuple(h.strip().lower().replace(" ", "_") for h in header)
    index: dict[str, int] = {}
    for target, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            if alias in columns:
                index[target] = columns.index(alias)
                break
    if "name" not in index:
        raise InvalidField.one(
            "content", f"the CSV header needs a 'name' column (CSL layout); found {list(columns)[:12]}"
        )
    extras = [(c, columns.index(c)) for c in EXTRA_COLUMNS if c in columns]
    entries: list[ListEntry] = []
    skipped = 0
    for row_number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(target: str, row: list[str] = row) -> str:
            i = index.get(target)
            return row[i].strip() if i is not None and i < len(row) else ""

        name = cell("name")
        if not name:
            skipped += 1
            continue
        addresses = _split(cell("addresses"))
        countries = [c.upper() for c in _split(cell("countries"))]
        for address in addresses:
            last = address.rsplit(",", 1)[-1].strip()
            if _COUNTRY_CODE.match(last) and last not in countries:
                countries.append(last)
        entries.append(
            ListEntry(
                entry_id=cell("entry_id") or f"row-{row_number}",
                source_list=cell("source_list") or default_source,
                name=name,
                alt_names=_split(cell("alt_names")),
                addresses=addresses,
                countries=tuple(countries),
                extra={c: row[i].strip() for c, i in extras if i < len(row) and row[i].strip()},
            )
        )
    return ParsedList(sha256=digest, columns=columns, entries=tuple(entries), skipped_rows=skipped)
