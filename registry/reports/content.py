"""The canonical content of a report and its digest.

The **content** of a report is one JSON value, written in canonical form:

- objects with their keys sorted, arrays in document order, no insignificant whitespace
  (``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``), UTF-8;
- ints as JSON numbers; Decimals, datetimes (ISO-8601 UTC with ``Z``) and UUIDs as strings (see
  :mod:`registry.reports.formatting`); no floats anywhere.

Its shape::

    {"as_of": {"occurred_by": T|null, "recorded_by": T},
     "format": "gpureg-report/1",
     "inputs": [{"name": ..., "type": "text|int|decimal|datetime|uuid|text[]|null", "value": ...}, ...],
     "kind": ..., "sections": [SECTION, ...], "subtitle": ...|null, "title": ...}
    SECTION = {"blocks": [BLOCK, ...], "heading": ..., "new_page": bool, "type": "section"}
    BLOCK   = SECTION
            | {"text": ..., "type": "paragraph"}
            | {"items": [{"label", "type", "unit", "value"}, ...], "title": ..., "type": "summary"}
            | {"columns": [{"key", "title", "total", "type", "unit"}, ...], "note": ..., "rows": [[cell, ...], ...],
               "title": ..., "totals": [cell, ...]|null, "type": "table"}
            | {"categories": [...], "data_table": bool, "kind": "bar|stacked_bar|line",
               "series": [{"name", "values": [...]}, ...], "title", "type": "chart", "unit", "x_title", "y_title"}

The **digest** of a report is the SHA-256 of those UTF-8 bytes, in lowercase hex; every format shows it
as ``sha256:<hex>``. The JSON format's file is ``{"digest": ..., "digest_algorithm": "sha256",
"report": CONTENT}`` in the same canonical form, so anyone can check a JSON report with
``hashlib.sha256(json.dumps(doc["report"], sort_keys=True, separators=(",", ":"),
ensure_ascii=False).encode()).hexdigest() == doc["digest"]``. The digest covers what the report
says, not how a format lays it out; whether a *file* is exactly what the registry produces is what
:func:`registry.reports.verify` checks, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from registry.reports.formatting import (
    EXACT,
    canonical_json_value,
    input_from_json,
    input_to_json,
    iso_utc,
    json_encoders,
    parse_iso_utc,
    type_name,
)
from registry.reports.model import (
    FORMAT_VERSION,
    AsOf,
    Cell,
    Chart,
    ColumnType,
    Paragraph,
    Report,
    ReportRequest,
    Section,
    Summary,
    Table,
)

Write = Callable[[str], object]

DIGEST_ALGORITHM = "sha256"
CHUNK = 1 << 14  # characters buffered before a write (small: the parts list costs ~3x the text)


def dumps(value: Any) -> str:
    """Canonical JSON text of a small value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class TextSink:
    """Collects text and hands it on as UTF-8 bytes in chunks of about 16 KiB (flat memory)."""

    def __init__(self, target: Callable[[bytes], object]) -> None:
        self._target = target
        self._parts: list[str] = []
        self._size = 0

    def write(self, text: str) -> None:
        self._parts.append(text)
        self._size += len(text)
        if self._size >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if self._parts:
            self._target("".join(self._parts).encode("utf-8"))
            self._parts.clear()
            self._size = 0


class TableTotals:
    """Sums a table's totalled columns as its rows stream past; exact for Decimals."""

    def __init__(self, table: Table) -> None:
        self._table = table
        self._sums: list[Any] = [
            (0 if c.type is ColumnType.INT else Decimal(0)) if c.total else None for c in table.columns
        ]
        self._ints = tuple(i for i, c in enumerate(table.columns) if c.total and c.type is ColumnType.INT)
        self._seen = [c.empty is None for c in table.columns]  # a column with `empty` totals only what it has
        self._decimals = tuple(i for i, c in enumerate(table.columns) if c.total and c.type is ColumnType.DECIMAL)

    def add(self, row: tuple[Any, ...]) -> None:
        """Adds a checked row (its totalled cells are ints, Decimals or None)."""
        sums = self._sums
        seen = self._seen
        for i in self._ints:
            value = row[i]
            if value is not None:
                sums[i] += value
                seen[i] = True
        for i in self._decimals:
            value = row[i]
            if value is not None:
                sums[i] = EXACT.add(sums[i], value)
                seen[i] = True

    def row(self) -> tuple[Cell, ...] | None:
        if not self._table.has_totals:
            return None
        out: list[Cell] = [v if seen else None for v, seen in zip(self._sums, self._seen, strict=True)]
        if not self._table.columns[0].total:
            out[0] = self._table.total_label
        return tuple(out)


def as_of_json(as_of: AsOf) -> dict[str, str | None]:
    return {
        "occurred_by": None if as_of.occurred_by is None else iso_utc(as_of.occurred_by),
        "recorded_by": iso_utc(as_of.recorded_by),
    }


def inputs_json(request: ReportRequest) -> list[dict[str, Any]]:
    return [{"name": n, "type": type_name(v), "value": input_to_json(v)} for n, v in request.inputs]


def request_json(request: ReportRequest) -> dict[str, Any]:
    """The machine-readable inputs every format embeds (the same keys as the content's header)."""
    return {
        "as_of": as_of_json(request.as_of),
        "format": FORMAT_VERSION,
        "inputs": inputs_json(request),
        "kind": request.kind,
    }


class UnreadableInputs(ValueError):
    """A file's recorded inputs are missing or malformed."""


def request_from_json(data: object) -> ReportRequest:
    """Reads back :func:`request_json` (or a JSON report's content); raises UnreadableInputs."""
    try:
        if not isinstance(data, dict):
            raise UnreadableInputs("the recorded inputs are not a JSON object")
        if data.get("format") != FORMAT_VERSION:
            raise UnreadableInputs(f"unknown report format {data.get('format')!r} (expected {FORMAT_VERSION!r})")
        as_of = data["as_of"]
        occurred = as_of["occurred_by"]
        inputs = []
        for item in data["inputs"]:
            inputs.append((item["name"], input_from_json(item["type"], item["value"])))
        return ReportRequest(
            kind=data["kind"],
            as_of=AsOf(
                recorded_by=parse_iso_utc(as_of["recorded_by"]),
                occurred_by=None if occurred is None else parse_iso_utc(occurred),
            ),
            inputs=tuple(inputs),
        )
    except UnreadableInputs:
        raise
    except (KeyError, TypeError, ValueError, ArithmeticError) as e:
        raise UnreadableInputs(f"the recorded inputs cannot be read: {e!r}") from e


def _cells(row: tuple[Cell, ...]) -> list[str | int | None]:
    return [canonical_json_value(v) for v in row]


def summary_json(block: Summary) -> dict[str, Any]:
    return {
        "items": [
            {
                "label": item.label,
                "type": type_name(item.value),
                "unit": item.unit,
                "value": canonical_json_value(item.value),
            }
            for item in block.items
        ],
        "title": block.title,
        "type": "summary",
    }


def chart_json(block: Chart) -> dict[str, Any]:
    return {
        "categories": list(block.categories),
        "data_table": block.data_table,
        "kind": block.kind.value,
        "series": [{"name": s.name, "values": [canonical_json_value(v) for v in s.values]} for s in block.series],
        "title": block.title,
        "type": "chart",
        "unit": block.unit,
        "x_title": block.x_title,
        "y_title": block.y_title,
    }


def columns_json(block: Table) -> list[dict[str, Any]]:
    """The columns; ``empty`` only where a column sets it (so reports without it keep their digests)."""
    return [
        {"key": c.key, "title": c.title, "total": c.total, "type": c.type.value, "unit": c.unit}
        | ({"empty": c.empty} if c.empty is not None else {})
        for c in block.columns
    ]


def _write_table(block: Table, w: Write) -> None:
    w('{"columns":' + dumps(columns_json(block)) + ',"note":' + dumps(block.note) + ',"rows":[')
    totals = TableTotals(block)
    encode = json_encoders(c.type for c in block.columns).encode
    add = totals.add
    first = True
    for row in block.iter_rows():
        add(row)
        w(("[" if first else ",[") + ",".join(encode(row)) + "]")
        first = False
    total_row = totals.row()
    w(
        '],"title":'
        + dumps(block.title)
        + ',"totals":'
        + dumps(None if total_row is None else _cells(total_row))
        + ',"type":"table"}'
    )


def _write_section(section: Section, w: Write) -> None:
    w('{"blocks":[')
    for i, block in enumerate(section.iter_blocks()):
        if i:
            w(",")
        if isinstance(block, Table):
            _write_table(block, w)
        elif isinstance(block, Section):
            _write_section(block, w)
        elif isinstance(block, Paragraph):
            w(dumps({"text": block.text, "type": "paragraph"}))
        elif isinstance(block, Summary):
            w(dumps(summary_json(block)))
        else:
            w(dumps(chart_json(block)))
    w('],"heading":' + dumps(section.heading) + ',"new_page":' + dumps(section.new_page) + ',"type":"section"}')


def write_content(report: Report, w: Write) -> None:
    """Streams the report's canonical content JSON (see the module docstring) to ``w``."""
    header = request_json(report.request)
    w(
        '{"as_of":'
        + dumps(header["as_of"])
        + ',"format":'
        + dumps(FORMAT_VERSION)
        + ',"inputs":'
        + dumps(header["inputs"])
        + ',"kind":'
        + dumps(report.kind)
        + ',"sections":['
    )
    for i, section in enumerate(report.iter_sections()):
        if i:
            w(",")
        _write_section(section, w)
    w('],"subtitle":' + dumps(report.subtitle) + ',"title":' + dumps(report.title) + "}")


def content_digest(report: Report) -> str:
    """SHA-256 (lowercase hex) of the report's canonical content; reads the report once, flat memory."""
    hasher = hashlib.sha256()
    sink = TextSink(hasher.update)
    write_content(report, sink.write)
    sink.flush()
    return hasher.hexdigest()
