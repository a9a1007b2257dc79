"""Reading rendered reports back in tests: the HTML with the stdlib html.parser, CSV with csv, JSON."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any


@dataclass
class ParsedTable:
    title: str
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    total: list[str] | None = None


class ReportHtml(HTMLParser):
    """Collects tables (title, header, body rows, totals row), summary tiles and the digest."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[ParsedTable] = []
        self.tiles: dict[str, str] = {}
        self.meta: dict[str, str] = {}
        self.digest_text = ""
        self._stack: list[tuple[str, str]] = []
        self._text: list[str] = []
        self._pending_title: str | None = None
        self._row: list[str] | None = None
        self._in_total = False
        self._in_head = False
        self._tile_label: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        cls = a.get("class", "")
        if tag == "meta" and "name" in a:
            self.meta[a["name"]] = a.get("content", "")
            return
        if tag in ("meta", "br"):
            return
        self._stack.append((tag, cls))
        if tag == "table" and "data" in cls.split() and "chart-data" not in cls.split():
            self.tables.append(ParsedTable(self._pending_title or ""))
            self._pending_title = None
        elif tag == "thead":
            self._in_head = True
        elif tag == "tbody":
            self._in_total = "total" in cls.split()
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th", "div", "code"):
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if not self._stack:
            return
        open_tag, cls = self._stack.pop()
        text = "".join(self._text).strip()
        current = self.tables[-1] if self.tables else None
        if open_tag == "div" and cls == "table-title":
            self._pending_title = text
        elif open_tag == "div" and cls == "label":
            self._tile_label = text
        elif open_tag == "div" and cls == "value" and self._tile_label is not None:
            self.tiles[self._tile_label] = text
            self._tile_label = None
        elif open_tag == "code" and text.startswith("sha256:"):
            self.digest_text = text
        elif open_tag in ("td", "th") and self._row is not None:
            self._row.append(text)
        elif open_tag == "tr" and self._row is not None and current is not None and self._in_table("data"):
            if self._in_head:
                current.header = self._row
            elif self._in_total:
                current.total = self._row
            else:
                current.rows.append(self._row)
            self._row = None
        elif open_tag == "thead":
            self._in_head = False
        elif open_tag == "tbody":
            self._in_total = False

    def _in_table(self, cls: str) -> bool:
        return any(t == "table" and cls in c.split() and "chart-data" not in c.split() for t, c in self._stack)

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def table(self, title: str) -> ParsedTable:
        return next(t for t in self.tables if t.title == title)


def parse_html(data: bytes) -> ReportHtml:
    parser = ReportHtml()
    parser.feed(data.decode("utf-8"))
    parser.close()
    return parser


def display_number(text: str) -> Decimal:
    """A number as the HTML shows it (thousands separators, optional unit after a space)."""
    return Decimal(text.split(" ", maxsplit=1)[0].replace(",", ""))


@dataclass
class CsvTable:
    path: str
    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    total: list[str] | None = None


@dataclass
class ReportCsv:
    records: list[list[str]]
    tables: list[CsvTable]
    inputs: dict[str, tuple[str, str]]
    digest: str

    def table(self, title: str) -> CsvTable:
        return next(t for t in self.tables if t.title == title)


def parse_csv(data: bytes) -> ReportCsv:
    records = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    tables: list[CsvTable] = []
    inputs: dict[str, tuple[str, str]] = {}
    digest = ""
    for record in records:
        kind = record[0]
        if kind == "table":
            tables.append(CsvTable(record[1], record[2], []))
        elif kind == "header":
            tables[-1].header = record[1:]
        elif kind == "row":
            tables[-1].rows.append(record[1:])
        elif kind == "total":
            tables[-1].total = record[1:]
        elif kind == "input":
            inputs[record[1]] = (record[2], record[3])
        elif kind == "digest":
            digest = record[2]
    return ReportCsv(records, tables, inputs, digest)


def json_tables(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every table block of a parsed JSON report, by title (nested sections included)."""
    out: dict[str, dict[str, Any]] = {}

    def walk(blocks: list[dict[str, Any]]) -> None:
        for block in blocks:
            if block["type"] == "section":
                walk(block["blocks"])
            elif block["type"] == "table":
                out[block["title"]] = block

    walk(doc["report"]["sections"])
    return out


def json_summaries(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def walk(blocks: list[dict[str, Any]]) -> None:
        for block in blocks:
            if block["type"] == "section":
                walk(block["blocks"])
            elif block["type"] == "summary":
                for item in block["items"]:
                    out[item["label"]] = item["value"]

    walk(doc["report"]["sections"])
    return out


def parse_json(data: bytes) -> dict[str, Any]:
    doc = json.loads(data)
    assert isinstance(doc, dict)
    return doc
