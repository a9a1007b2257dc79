"""The CSV format: one RFC 4180 file (CRLF line ends, fields quoted when needed, quotes doubled).

Every record starts with a field naming what it is, so one file can hold all of a report's tables::

    report,gpureg-report/1,KIND,TITLE
    as_of,RECORDED_BY,OCCURRED_BY            (ISO-8601 UTC; OCCURRED_BY empty when not limited)
    input,NAME,TYPE,VALUE                    (one per input, in order; text[] values as a JSON array)
    table,SECTION PATH,TABLE TITLE           (before each table, chart's data and summary)
    header,COLUMN TITLE (UNIT),...
    row,CELL,...                             (canonical values: 1234.50, 2025-03-01T09:00:00Z)
    total,CELL,...                           (when the table has totals)
    digest,sha256,HEX                        (last record: the report's content digest)

Summaries are written as a table with the header ``label,value,unit``; a chart's numbers (when the
chart has ``data_table``) as a table with one column per series (and a Total for stacked bars).
Paragraphs are not written.
"""

from __future__ import annotations

import csv
from collections.abc import Callable

from registry.reports.content import TableTotals, TextSink, dumps
from registry.reports.formatting import canonical_text, csv_encoders, exact_sum, iso_utc, type_name
from registry.reports.model import FORMAT_VERSION, Chart, ChartKind, Column, InputValue, Report, Section, Summary, Table

PATH_SEPARATOR = " > "


def _input_text(value: InputValue) -> str:
    if isinstance(value, tuple):
        return dumps(list(value))
    return canonical_text(value)


def _title(column: Column) -> str:
    return f"{column.title} ({column.unit})" if column.unit else column.title


class _Csv:
    def __init__(self, sink: TextSink) -> None:
        self._writer = csv.writer(sink, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)

        self.writerow = self._writer.writerow

    def record(self, kind: str, *fields: str) -> None:
        self.writerow((kind, *fields))


def _write_table(table: Table, path: str, out: _Csv) -> None:
    out.record("table", path, table.title)
    out.record("header", *(_title(c) for c in table.columns))
    totals = TableTotals(table)
    encode = csv_encoders(c.type for c in table.columns).encode
    writerow = out.writerow
    add = totals.add
    for row in table.iter_rows():
        add(row)
        writerow(("row", *encode(row)))
    total_row = totals.row()
    if total_row is not None:
        out.record("total", *(canonical_text(v) for v in total_row))


def _write_summary(summary: Summary, path: str, out: _Csv) -> None:
    out.record("table", path, summary.title)
    out.record("header", "label", "value", "unit")
    for item in summary.items:
        out.record("row", item.label, canonical_text(item.value), item.unit or "")


def _write_chart(chart: Chart, path: str, out: _Csv) -> None:
    out.record("table", path, chart.title)
    unit = f" ({chart.unit})" if chart.unit else ""
    stacked = chart.kind is ChartKind.STACKED_BAR
    out.record(
        "header",
        chart.x_title or "Category",
        *(s.name + unit for s in chart.series),
        *(["Total" + unit] if stacked else []),
    )
    for i, category in enumerate(chart.categories):
        values = [s.values[i] for s in chart.series]
        extra = [canonical_text(exact_sum(values))] if stacked else []
        out.record("row", category, *(canonical_text(v) for v in values), *extra)


def _write_section(section: Section, path: str, out: _Csv) -> None:
    sub = 0
    for block in section.iter_blocks():
        if isinstance(block, Section):
            sub += 1
            number = path.rsplit(PATH_SEPARATOR, 1)[-1].split(" ", 1)[0]
            _write_section(block, f"{path}{PATH_SEPARATOR}{number}.{sub} {block.heading}", out)
        elif isinstance(block, Table):
            _write_table(block, path, out)
        elif isinstance(block, Summary):
            _write_summary(block, path, out)
        elif isinstance(block, Chart) and block.data_table:
            _write_chart(block, path, out)


def write_csv(report: Report, digest: str, target: Callable[[bytes], object]) -> None:
    sink = TextSink(target)
    out = _Csv(sink)
    out.record("report", FORMAT_VERSION, report.kind, report.title)
    occurred = report.as_of.occurred_by
    out.record("as_of", iso_utc(report.as_of.recorded_by), "" if occurred is None else iso_utc(occurred))
    for name, value in report.inputs:
        out.record("input", name, type_name(value), _input_text(value))
    for i, section in enumerate(report.iter_sections(), start=1):
        _write_section(section, f"{i} {section.heading}", out)
    out.record("digest", "sha256", digest)
    sink.flush()
