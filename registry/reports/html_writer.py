"""The HTML format: one self-contained, printable page (embedded CSS, charts as inline SVG).

Written incrementally to a binary stream: table rows go out as they are read. The same HTML is what
WeasyPrint laid out for the PDF before the PDF had a writer of its own (``pdf_writer``; ``make bench``
still measures it as the baseline), so its ``@page`` rules (running header, digest and page numbers in
the margins) live here too; browsers ignore them on screen.

Machine-readable parts: ``<meta name="report-digest" content="sha256:...">``, the keywords meta
(``sha256:..., gpureg-report/1, KIND``; it becomes the PDF's Keywords), ``dcterms.created`` and
``dcterms.modified`` (the recorded-by time) and ``<script type="application/json"
id="report-inputs">`` holding :func:`~registry.reports.content.request_json` with ``<``, ``>`` and ``&``
escaped as ``\\u003c``, ``\\u003e``, ``\\u0026``.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from registry.reports.charts import FONT, render_chart_svg
from registry.reports.content import TableTotals, TextSink, dumps, request_json
from registry.reports.formatting import (
    display_cell,
    display_datetime,
    display_input,
    display_number,
    exact_sum,
    html_encoders,
    iso_utc,
)
from registry.reports.model import (
    FORMAT_VERSION,
    Chart,
    ChartKind,
    Column,
    ColumnType,
    Paragraph,
    Report,
    Section,
    Summary,
    Table,
)

INPUTS_SCRIPT_OPEN = '<script type="application/json" id="report-inputs">'
DIGEST_META_OPEN = '<meta name="report-digest" content="sha256:'

Write = Callable[[str], object]


def _e(text: str) -> str:
    return escape(text, quote=True)


def _css_string(text: str) -> str:
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\A ").replace("<", "\\3C ")
    return f'"{out}"'


def _script_json(value: object) -> str:
    return dumps(value).replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


STYLE = """
:root { --ink: #1a1a1a; --muted: #555; --accent: #1f4e79; --rule: #c9ced6; --band: #f4f6f9; --head: #e8edf4; }
* { box-sizing: border-box; }
html { background: #fff; }
body { font-family: FONT; color: var(--ink); font-size: 13px; line-height: 1.45;
  max-width: 1040px; margin: 0 auto; padding: 28px 32px 40px; }
.report-head { border-bottom: 3px solid var(--accent); padding-bottom: 14px; margin-bottom: 18px; }
.kind { text-transform: uppercase; letter-spacing: 0.08em; font-size: 11px; color: var(--accent); font-weight: bold; }
h1 { font-size: 24px; margin: 2px 0 4px; line-height: 1.2; }
.subtitle { color: var(--muted); margin: 0 0 12px; }
h2 { font-size: 17px; color: var(--accent); border-bottom: 1px solid var(--rule); padding-bottom: 3px;
  margin: 26px 0 10px; break-after: avoid; }
h3 { font-size: 14.5px; margin: 20px 0 8px; break-after: avoid; }
h4, h5, h6 { font-size: 13px; margin: 16px 0 6px; break-after: avoid; }
p { margin: 6px 0 10px; }
.num-prefix { color: var(--muted); font-weight: normal; margin-right: 0.4em; }
table { border-collapse: collapse; }
table.inputs { font-size: 12px; margin-top: 4px; }
table.inputs th { text-align: left; font-weight: normal; color: var(--muted); padding: 2px 18px 2px 0;
  vertical-align: top; white-space: nowrap; }
table.inputs td { padding: 2px 0; }
.mono, table.inputs td.mono { font-family: 'DejaVu Sans Mono', monospace; font-size: 11.5px; word-break: break-all; }
table.data { width: 100%; font-size: 12px; margin: 4px 0 14px; }
.table-title { font-weight: bold; font-size: 13px; margin: 10px 0 5px; break-after: avoid; }
table.data th { background: var(--head); text-align: left; font-weight: bold; padding: 5px 8px;
  border-bottom: 1.5px solid var(--accent); vertical-align: bottom; }
table.data td { padding: 4px 8px; border-bottom: 1px solid #e3e6ea; vertical-align: top; }
table.data tbody tr:nth-child(even) td { background: var(--band); }
table.data .num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
table.data td.uuid { font-family: 'DejaVu Sans Mono', monospace; font-size: 10.5px; }
table.data td.dt { white-space: nowrap; }
table.data tbody.total td { font-weight: bold; border-top: 1.5px solid var(--ink); border-bottom: 3px double var(--ink);
  background: #fff; }
table.data thead { display: table-header-group; }
table.data tr { break-inside: avoid; }
.unit { color: var(--muted); font-weight: normal; font-size: 0.9em; }
.note { color: var(--muted); font-size: 11.5px; margin: -8px 0 14px; }
.summary { margin: 6px 0 16px; break-inside: avoid; }
.summary h4 { margin: 0 0 6px; }
.tiles { display: flex; flex-wrap: wrap; column-gap: 2%; row-gap: 8px; }
.tile { border: 1px solid var(--rule); border-left: 4px solid var(--accent); padding: 7px 10px 8px;
  flex: 0 0 23.5%; background: #fff; }
.tile .label { color: var(--muted); font-size: 11.5px; }
.tile .value { font-size: 19px; font-weight: bold; font-variant-numeric: tabular-nums; margin-top: 2px;
  white-space: nowrap; }
figure.chart { margin: 8px 0 18px; break-inside: avoid; }
figure.chart figcaption { font-weight: bold; font-size: 13px; margin-bottom: 4px; break-after: avoid; }
figure.chart svg { display: block; width: 100%; max-width: 840px; height: auto; }
figure.chart table.data { margin-top: 8px; width: auto; min-width: 60%; }
section.new-page { break-before: page; }
.integrity { margin-top: 30px; border-top: 3px solid var(--accent); padding-top: 10px; font-size: 12px;
  break-inside: avoid; }
.integrity h2 { border: 0; margin: 0 0 6px; padding: 0; font-size: 14px; }
.integrity code { font-family: 'DejaVu Sans Mono', monospace; font-size: 11.5px; white-space: nowrap; }
.integrity code.digest { white-space: normal; word-break: break-all; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 9pt; }
  h1 { font-size: 18pt; }
  h2 { font-size: 13pt; }
  h3 { font-size: 11pt; }
  table.data, table.inputs { font-size: 8pt; }
  .table-title, figure.chart figcaption { font-size: 9pt; }
  .tile .value { font-size: 13pt; }
  .tile .label, .note, .integrity { font-size: 8pt; }
  .mono, table.inputs td.mono, .integrity code { font-size: 7.5pt; }
  figure.chart svg { max-width: 100%; }
  /* A wide table must fit the page: padding shrinks, words hyphenate, long tokens (serials, ids)
     break where they must, times wrap between date and time in a column of their own width. */
  table.data th, table.data td { padding: 3px 4px; overflow-wrap: break-word; }
  table.data td { hyphens: auto; }
  table.data td.dt { width: 10%; white-space: normal; }
}
""".replace("FONT", FONT)


def _page_css(report: Report, digest: str) -> str:
    recorded = "As recorded by " + display_datetime(report.as_of.recorded_by)
    return (
        "@page { size: A4; margin: 18mm 15mm 20mm 15mm;\n"
        f"  @top-left {{ content: {_css_string(report.title)}; font: 7.5pt {FONT}; color: #555; }}\n"
        f"  @top-right {{ content: {_css_string(recorded)}; font: 7.5pt {FONT}; color: #555; }}\n"
        f"  @bottom-left {{ content: {_css_string('SHA-256 ' + digest)}; "
        "font: 6.5pt 'DejaVu Sans Mono', monospace; color: #555; }\n"
        '  @bottom-right { content: "Page " counter(page) " of " counter(pages); '
        f"font: 7.5pt {FONT}; color: #555; }}\n"
        "}\n"
    )


NUM = ' class="num"'
_CELL_CLASS = {
    ColumnType.INT: ' class="num"',
    ColumnType.DECIMAL: ' class="num"',
    ColumnType.UUID: ' class="uuid"',
    ColumnType.DATETIME: ' class="dt"',
    ColumnType.TEXT: "",
}


def _num_class(column: Column) -> str:
    return _CELL_CLASS[column.type]


def _column_head(column: Column) -> str:
    unit = f' <span class="unit">({_e(column.unit)})</span>' if column.unit else ""
    cls = ' class="num"' if column.type.numeric else ""
    return f"<th{cls}>{_e(column.title)}{unit}</th>"


def _write_table(table: Table, w: Write) -> None:
    w(f'<div class="table-title">{_e(table.title)}</div>\n<table class="data"><thead><tr>')
    w("".join(_column_head(c) for c in table.columns))
    w("</tr></thead><tbody>\n")
    totals = TableTotals(table)
    template = "<tr>" + "".join(f"<td{_num_class(c)}>%s</td>" for c in table.columns) + "</tr>\n"
    encode = html_encoders((c.type for c in table.columns), [c.empty for c in table.columns]).encode
    add = totals.add
    for row in table.iter_rows():
        add(row)
        w(template % tuple(encode(row)))
    w("</tbody>")
    total_row = totals.row()
    if total_row is not None:
        # A second tbody, not a tfoot: print engines repeat a tfoot on every page of a long table.
        cells = "".join(
            f"<td{NUM if c.total else ''}>{_e((c.empty or '') if v is None else display_cell(v))}</td>"
            for c, v in zip(table.columns, total_row, strict=True)
        )
        w(f'<tbody class="total"><tr>{cells}</tr></tbody>')
    w("</table>\n")
    if table.note:
        w(f'<p class="note">{_e(table.note)}</p>\n')


def _write_summary(summary: Summary, w: Write) -> None:
    w(f'<div class="summary"><h4>{_e(summary.title)}</h4><div class="tiles">')
    for item in summary.items:
        unit = f' <span class="unit">{_e(item.unit)}</span>' if item.unit else ""
        w(
            f'<div class="tile"><div class="label">{_e(item.label)}</div>'
            f'<div class="value">{_e(display_cell(item.value))}{unit}</div></div>'
        )
    w("</div></div>\n")


def _chart_data_table(chart: Chart) -> str:
    unit = f' <span class="unit">({_e(chart.unit)})</span>' if chart.unit else ""
    head = f"<th>{_e(chart.x_title or 'Category')}</th>" + "".join(
        f'<th class="num">{_e(s.name)}{unit}</th>' for s in chart.series
    )
    stacked = chart.kind is ChartKind.STACKED_BAR
    if stacked:
        head += f'<th class="num">Total{unit}</th>'
    rows = []
    for i, category in enumerate(chart.categories):
        values = [s.values[i] for s in chart.series]
        cells = "".join(f'<td class="num">{_e(display_number(v))}</td>' for v in values)
        if stacked:
            cells += f'<td class="num">{_e(display_number(exact_sum(values)))}</td>'
        rows.append(f"<tr><td>{_e(category)}</td>{cells}</tr>")
    return f'<table class="data chart-data"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _write_chart(chart: Chart, w: Write) -> None:
    w(f'<figure class="chart"><figcaption>{_e(chart.title)}</figcaption>')
    w(render_chart_svg(chart))
    if chart.data_table:
        w(_chart_data_table(chart))
    w("</figure>\n")


def _write_section(section: Section, w: Write, number: str, depth: int) -> None:
    cls = f"level-{depth}" + (" new-page" if section.new_page else "")
    level = min(depth + 1, 6)
    w(f'<section class="{cls}"><h{level}><span class="num-prefix">{number}</span>{_e(section.heading)}</h{level}>\n')
    sub = 0
    for block in section.iter_blocks():
        if isinstance(block, Section):
            sub += 1
            _write_section(block, w, f"{number}.{sub}", depth + 1)
        elif isinstance(block, Table):
            _write_table(block, w)
        elif isinstance(block, Paragraph):
            w(f"<p>{_e(block.text)}</p>\n")
        elif isinstance(block, Summary):
            _write_summary(block, w)
        else:
            _write_chart(block, w)
    w("</section>\n")


def _write_head(report: Report, digest: str, w: Write) -> None:
    created = iso_utc(report.as_of.recorded_by.replace(microsecond=0))
    keywords = f"sha256:{digest}, {FORMAT_VERSION}, {report.kind}"
    w(
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(report.title)}</title>\n"
        f'<meta name="generator" content="{FORMAT_VERSION}">\n'
        f'<meta name="dcterms.created" content="{created}">\n'
        f'<meta name="dcterms.modified" content="{created}">\n'
        f'<meta name="keywords" content="{_e(keywords)}">\n'
        f'{DIGEST_META_OPEN}{digest}">\n'
    )
    if report.subtitle:
        w(f'<meta name="description" content="{_e(report.subtitle)}">\n')
    w(f"<style>\n{_page_css(report, digest)}{STYLE}</style>\n")
    w(f"{INPUTS_SCRIPT_OPEN}{_script_json(request_json(report.request))}</script>\n</head>\n")


def _write_header(report: Report, digest: str, w: Write) -> None:
    w('<body>\n<header class="report-head">\n')
    w(f'<div class="kind">{_e(report.kind)} report</div>\n<h1>{_e(report.title)}</h1>\n')
    if report.subtitle:
        w(f'<p class="subtitle">{_e(report.subtitle)}</p>\n')
    rows = [
        ("As recorded by", display_datetime(report.as_of.recorded_by), False),
        (
            "As occurred by",
            "no limit" if report.as_of.occurred_by is None else display_datetime(report.as_of.occurred_by),
            False,
        ),
    ]
    rows += [(name, display_input(value), isinstance(value, str) and len(value) >= 32) for name, value in report.inputs]
    rows.append(("Content digest (SHA-256)", digest, True))
    w('<table class="inputs"><tbody>\n')
    for name, value, mono in rows:
        cls = ' class="mono"' if mono else ""
        w(f"<tr><th>{_e(name)}</th><td{cls}>{_e(value)}</td></tr>\n")
    w("</tbody></table>\n</header>\n<main>\n")


def _write_footer(report: Report, digest: str, w: Write) -> None:
    w(
        '</main>\n<footer class="integrity">\n<h2>Integrity</h2>\n'
        f"<p>Content digest: SHA-256 of the report's canonical JSON content (format {FORMAT_VERSION})<br>"
        f'<code id="report-digest" class="digest">sha256:{digest}</code></p>\n'
        "<p>This report states every input it was generated from and contains no time of printing: "
        "the same registry, inputs and format give the same bytes. "
        "<code>gpureg report verify FILE</code> regenerates it from the registry and compares.</p>\n"
        "</footer>\n</body>\n</html>\n"
    )


def write_html(report: Report, digest: str, target: Callable[[bytes], object]) -> None:
    sink = TextSink(target)
    w = sink.write
    _write_head(report, digest, w)
    _write_header(report, digest, w)
    for i, section in enumerate(report.iter_sections(), start=1):
        _write_section(section, w, str(i), 1)
    _write_footer(report, digest, w)
    sink.flush()
