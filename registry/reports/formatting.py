"""How values are written: canonically (JSON, CSV, the digest) and for people (HTML, PDF, charts).

Canonical forms: an int as its digits; a Decimal in plain positional notation with the scale it was
given (``Decimal("1E+3")`` -> ``"1000"``, ``Decimal("2.50")`` -> ``"2.50"``); a datetime in UTC as
ISO-8601 with a ``Z`` (``2025-03-01T09:00:00Z``, microseconds only when not zero); a UUID in its
lowercase hyphenated form. Display forms add thousands separators and print times as
``2025-03-01 09:00 UTC``. Nothing depends on the locale, the time zone or the platform.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Context, Decimal
from html import escape
from json.encoder import encode_basestring
from operator import call
from typing import Any
from uuid import UUID

from registry.reports.model import Cell, ColumnType, InputValue

EXACT = Context(prec=200)
"""Decimal context for sums: wide enough that totals never round, independent of the thread's context."""

EMPTY_DISPLAY = "\u2014"  # em dash for an empty cell in HTML and PDF


def exact_sum(values: Iterable[int | Decimal]) -> int | Decimal:
    """Sum of ints and Decimals, exact whatever the thread's decimal context (an int if all are ints)."""
    total: int | Decimal = 0
    for value in values:
        if isinstance(total, int) and isinstance(value, int):
            total += value
        else:
            total = EXACT.add(Decimal(total), Decimal(value))
    return total


def iso_utc(value: datetime) -> str:
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds" if value.microsecond else "seconds")[:-6] + "Z"


def parse_iso_utc(text: str) -> datetime:
    if not text.endswith("Z"):
        raise ValueError(f"not a UTC time ending in Z: {text!r}")
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)


def decimal_text(value: Decimal) -> str:
    return format(value, "f")


def canonical_json_value(value: Cell) -> str | int | None:
    """A cell as it appears in the canonical JSON: int stays a number, everything else a string."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise TypeError("bool is not a report value")
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a report value")


def canonical_text(value: Cell) -> str:
    """A cell as CSV text: the canonical form, "" for None."""
    out = canonical_json_value(value)
    return "" if out is None else str(out)


def display_number(value: int | Decimal) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    return format(value, ",f")


def display_datetime(value: datetime) -> str:
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    if value.second:
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return value.strftime("%Y-%m-%d %H:%M UTC")


def display_cell(value: Cell) -> str:
    """A cell as people read it (HTML, PDF): separators in numbers, times in UTC, a dash for empty."""
    if value is None:
        return EMPTY_DISPLAY
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal):
        return display_number(value)
    if isinstance(value, datetime):
        return display_datetime(value)
    return str(value)


def display_input(value: InputValue) -> str:
    if isinstance(value, tuple):
        return ", ".join(value) if value else EMPTY_DISPLAY
    return display_cell(value)


def type_name(value: InputValue) -> str:
    """The type tag an input is recorded with (so it can be read back typed)."""
    if value is None:
        return "null"
    if isinstance(value, tuple):
        return "text[]"
    if isinstance(value, str):
        return ColumnType.TEXT.value
    if isinstance(value, bool):
        raise TypeError("bool is not a report value")
    if isinstance(value, int):
        return ColumnType.INT.value
    if isinstance(value, Decimal):
        return ColumnType.DECIMAL.value
    if isinstance(value, datetime):
        return ColumnType.DATETIME.value
    if isinstance(value, UUID):
        return ColumnType.UUID.value
    raise TypeError(f"{type(value).__name__} is not a report value")


def input_to_json(value: InputValue) -> str | int | list[str] | None:
    if isinstance(value, tuple):
        return list(value)
    return canonical_json_value(value)


def input_from_json(type_tag: str, value: object) -> InputValue:
    """Reads back an input written by :func:`input_to_json` with its :func:`type_name` tag."""
    if type_tag == "null":
        if value is not None:
            raise ValueError("a null input must have the value null")
        return None
    if type_tag == "text[]":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("a text[] input must be a list of strings")
        return tuple(value)
    if type_tag == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("an int input must be a JSON integer")
        return value
    if not isinstance(value, str):
        raise ValueError(f"a {type_tag} input must be a JSON string")
    if type_tag == "text":
        return value
    if type_tag == "decimal":
        return Decimal(value)
    if type_tag == "datetime":
        return parse_iso_utc(value)
    if type_tag == "uuid":
        return UUID(value)
    raise ValueError(f"unknown input type {type_tag!r}")


CellEncoder = Callable[[Any], str]


@dataclass(frozen=True)
class Encoders:
    """Per-column cell encoders for one format: ``fast`` for rows without empty cells (C-level
    formatters where possible), ``full`` for rows with some (they write the format's empty value)."""

    fast: tuple[CellEncoder, ...]
    full: tuple[CellEncoder, ...]

    def encode(self, row: tuple[Cell, ...]) -> map[str]:
        return map(call, self.full if None in row else self.fast, row)


def _none_or(empty: str, encode: CellEncoder) -> CellEncoder:
    def encoder(value: Cell) -> str:
        return empty if value is None else encode(value)

    return encoder


_JSON_CELL: dict[ColumnType, CellEncoder] = {
    ColumnType.TEXT: encode_basestring,
    ColumnType.INT: int.__repr__,
    ColumnType.DECIMAL: '"{:f}"'.format,
    ColumnType.DATETIME: lambda v: '"' + iso_utc(v) + '"',
    ColumnType.UUID: '"{}"'.format,
}
_CSV_CELL: dict[ColumnType, CellEncoder] = {
    ColumnType.TEXT: str,
    ColumnType.INT: int.__repr__,
    ColumnType.DECIMAL: "{:f}".format,
    ColumnType.DATETIME: iso_utc,
    ColumnType.UUID: str,
}
_DISPLAY_CELL: dict[ColumnType, CellEncoder] = {
    ColumnType.TEXT: str,
    ColumnType.INT: "{:,}".format,
    ColumnType.DECIMAL: "{:,f}".format,
    ColumnType.DATETIME: display_datetime,
    ColumnType.UUID: str,
}
_HTML_CELL: dict[ColumnType, CellEncoder] = {**_DISPLAY_CELL, ColumnType.TEXT: lambda v: escape(v, quote=True)}


def _encoders(
    table: dict[ColumnType, CellEncoder], empty: str, kinds: Iterable[ColumnType], empties: Iterable[str | None] = ()
) -> Encoders:
    fast = tuple(table[k] for k in kinds)
    own = list(empties) or [None] * len(fast)
    return Encoders(fast, tuple(_none_or(e if e is not None else empty, f) for f, e in zip(fast, own, strict=True)))


def json_encoders(kinds: Iterable[ColumnType]) -> Encoders:
    """Canonical JSON text of checked cells (what ``dumps(canonical_json_value(v))`` gives)."""
    return _encoders(_JSON_CELL, "null", kinds)


def csv_encoders(kinds: Iterable[ColumnType]) -> Encoders:
    """CSV text of checked cells (what :func:`canonical_text` gives)."""
    return _encoders(_CSV_CELL, "", kinds)


def display_encoders(kinds: Iterable[ColumnType], empties: Iterable[str | None] = ()) -> Encoders:
    """Display text of checked cells (what :func:`display_cell` gives): the PDF's cells; ``empties``:
    per column, the text of an empty cell when not the dash."""
    return _encoders(_DISPLAY_CELL, EMPTY_DISPLAY, kinds, empties)


def html_encoders(kinds: Iterable[ColumnType], empties: Iterable[str | None] = ()) -> Encoders:
    """Display text of checked cells, HTML-escaped (what ``escape(display_cell(v))`` gives)."""
    return _encoders(_HTML_CELL, EMPTY_DISPLAY, kinds, [None if e is None else escape(e) for e in empties])
