"""The PDF format: laid out page by page with ReportLab's platypus, streaming the rows.

Why not the HTML through WeasyPrint (the previous writer): WeasyPrint lays out the whole document in
memory before writing a page; the full compliance report (1,505 pages) took 756 s and 3.6 GB. Here
the flowables are produced lazily from the report (:class:`_LazyFlowables`), and each table is a
:class:`_StreamTable` that reads its rows a page at a time from the row source: memory holds one page
of rows and the PDF objects written so far (compressed), whatever the number of rows.
``docs/reports.md`` has the side-by-side figures.

Layout rules (the issue's "nothing cut off"):

- A4 landscape pages, 12 mm side margins: every table has the full 273 mm.
- Column widths come from the content: one measuring pass over the rows finds, per column, the widest
  cell and the widest *unbreakable token* (an id, a serial range, a number, a rule id). A column is
  never narrower than its widest token, so identifiers are never broken; text wraps only at spaces
  and nothing is ever hyphenated. When the tokens alone do not fit at 7.5 pt, the table's font steps
  down (to 5 pt at the smallest); a table that still does not fit gets the page's width shared in
  proportion and wraps its longest tokens at character boundaries (never seen in the registry's
  reports; the text-extraction test would show it).
- The header row repeats on every page a table continues on; numbers are right-aligned in tabular
  figures of one font; the totals row is bold.
- Charts are drawn horizontally: category names (partners, sites) are on the vertical axis, each on
  its own line, so no name is truncated; the values are printed at the bars.

Reproducibility: ReportLab's invariant mode (no time stamp, no random subset names), the document
and attachment dates are the recorded-by time, the file identifier is the first 32 hex digits of the
digest, the recorded inputs are the embedded file ``report-inputs.json`` and the digest the info
entry ``/reportdigest`` and the Keywords: what ``gpureg report verify`` reads (with pypdf).

One concept: the PDF format of a report, from the layout rules to the file's bytes; the measuring,
the streaming tables and the charts share one page geometry and one font setup, so they stay together.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from registry.reports.content import TableTotals, dumps, request_json
from registry.reports.formatting import (
    EMPTY_DISPLAY,
    display_cell,
    display_datetime,
    display_encoders,
    display_input,
    display_number,
    exact_sum,
)
from registry.reports.model import (
    FORMAT_VERSION,
    Chart,
    ChartKind,
    Paragraph,
    Report,
    Section,
    Series,
    Summary,
    Table,
)

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
SANS, BOLD, MONO = "DejaVuSans", "DejaVuSans-Bold", "DejaVuSansMono"

MM = 72 / 25.4
PAGE_W, PAGE_H = 297 * MM, 210 * MM
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 12 * MM, 16 * MM, 15 * MM
FRAME_W = PAGE_W - 2 * MARGIN_X
FONT_SIZES = (7.5, 7.0, 6.5, 6.0, 5.5, 5.0)
PAD_X, PAD_Y = 3.0, 1.8
INK, MUTED, ACCENT = (0.10, 0.10, 0.10), (0.33, 0.33, 0.33), (0.12, 0.31, 0.47)
HEAD_BG, BAND_BG, RULE = (0.91, 0.93, 0.957), (0.957, 0.965, 0.976), (0.79, 0.81, 0.84)
PAGE_COUNT_FORM = "gpuregPageCount"
#: The embedded file that carries a PDF report's recorded inputs (read back by ``gpureg report verify``).
PDF_INPUTS_ATTACHMENT = "report-inputs.json"
SERIES_FILLS = ((0.12, 0.31, 0.47), (0.85, 0.55, 0.20), (0.35, 0.60, 0.35), (0.60, 0.30, 0.55),
                (0.55, 0.55, 0.55), (0.80, 0.30, 0.30), (0.30, 0.65, 0.75), (0.70, 0.65, 0.25))

Progress = Callable[[int, str], object]
"""Called as pages are finished: (pages so far, heading of the section being laid out)."""


@cache
def register_fonts() -> None:
    """Registers the DejaVu fonts (``make system-deps``: fonts-dejavu-core) with ReportLab, once."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for name in (SANS, BOLD, MONO):
        for folder in FONT_DIRS:
            path = folder / f"{name}.ttf"
            if path.exists():
                pdfmetrics.registerFont(TTFont(name, str(path)))
                break
        else:
            raise RuntimeError(f"font {name}.ttf not found in {[str(d) for d in FONT_DIRS]}: run `make system-deps`")


def _width(text: str, font: str, size: float = 1.0) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return float(stringWidth(text, font, size))


# ------------------------------------------------------------------------------------ tables
@dataclass
class _Layout:
    size: float
    widths: list[float]  # column widths including padding
    breakable: bool  # the last resort: tokens wider than their column break at characters


def _wrap(text: str, font: str, size: float, width: float, breakable: bool) -> list[str]:
    """Lines of ``text`` no wider than ``width``: breaks at spaces (and at newlines), never inside a
    token unless ``breakable`` (then at characters, without hyphens)."""
    out: list[str] = []
    for para in text.split("\n"):
        if _width(para, font, size) <= width:
            out.append(para)
            continue
        line = ""
        for word in para.split(" "):
            candidate = word if not line else line + " " + word
            if _width(candidate, font, size) <= width or (not line and not breakable):
                line = candidate
                continue
            if line:
                out.append(line)
            line = word
            while breakable and _width(line, font, size) > width and len(line) > 1:
                cut = len(line) - 1
                while cut > 1 and _width(line[:cut], font, size) > width:
                    cut -= 1
                out.append(line[:cut])
                line = line[cut:]
        out.append(line)
    return out


class _TableSpec:
    """A model table measured once: display encoders, fonts, alignment, totals and the layout."""

    def __init__(self, table: Table, width: float) -> None:
        self.table = table
        cols = table.columns
        self.fonts = [MONO if c.type.value == "uuid" else SANS for c in cols]
        self.right = [c.type.numeric for c in cols]
        self.heads = [c.title + (f" ({c.unit})" if c.unit else "") for c in cols]
        self.encode = display_encoders((c.type for c in cols), [c.empty for c in cols]).encode
        self.empties = [c.empty or "" for c in cols]
        natural = [max(_width(h, BOLD), _width("M" * 3, BOLD)) for h in self.heads]
        token = [max((_width(t, BOLD) for t in h.split(" ")), default=0.0) for h in self.heads]
        totals = TableTotals(table)
        fonts = self.fonts
        n = len(cols)
        for row in table.iter_rows():
            totals.add(row)
            for i, text in enumerate(self.encode(row)):
                w = _width(text, fonts[i])
                natural[i] = max(natural[i], w)
                if w > token[i]:
                    token[i] = w if " " not in text and "\n" not in text else max(
                        token[i], *(_width(t, fonts[i]) for t in text.replace("\n", " ").split(" "))
                    )
        self.total_row = totals.row()
        if self.total_row is not None:
            for i, v in enumerate(self.total_row):
                text = self.empties[i] if v is None else display_cell(v)
                w = _width(text, BOLD)
                natural[i] = max(natural[i], w)
                token[i] = max(token[i], max((_width(t, BOLD) for t in text.split(" ")), default=0.0))
        self.layout = self._fit(natural, token, width, n)

    @staticmethod
    def _fit(natural: list[float], token: list[float], width: float, n: int) -> _Layout:
        pad = 2 * PAD_X
        for size in FONT_SIZES:
            want = [w * size + pad for w in natural]
            least = [w * size + pad for w in token]
            if sum(want) <= width:
                # The table spans the page: what is left over goes to the columns in proportion to their width.
                scale = width / sum(want)
                return _Layout(size, [w * scale for w in want], False)
            if sum(least) <= width:
                spare = width - sum(least)
                extra = [max(0.0, w - m) for w, m in zip(want, least, strict=True)]
                total = sum(extra)
                return _Layout(size, [m + spare * e / total for m, e in zip(least, extra, strict=True)], False)
        size = FONT_SIZES[-1]
        want = [w * size + pad for w in natural]
        scale = width / sum(want)
        return _Layout(size, [w * scale for w in want], True)


def _make_stream_table() -> type:
    from reportlab.platypus import Flowable

    class StreamTable(Flowable):  # type: ignore[misc]
        """A table that reads its rows lazily and splits a page at a time (headers repeated)."""

        def __init__(self, spec: _TableSpec, rows: Iterator[tuple[Any, ...]] | None = None,
                     buffered: list[tuple[list[list[str]], float, bool]] | None = None, first: bool = True) -> None:
            super().__init__()
            self.spec = spec
            lay = spec.layout
            self.size = lay.size
            self.leading = lay.size * 1.22
            self._rows = rows if rows is not None else self._source()
            self._buffer = buffered if buffered is not None else []
            self._done = False
            self.first = first
            self.head = self._prepare([*spec.heads], bold=True)
            self.width = sum(lay.widths)

        def _source(self) -> Iterator[tuple[list[list[str]], float, bool]]:
            spec = self.spec
            for row in spec.table.iter_rows():
                yield self._prepare(list(spec.encode(row)))
            if spec.total_row is not None:
                cells = [spec.empties[i] if v is None else display_cell(v) for i, v in enumerate(spec.total_row)]
                yield self._prepare(cells, bold=True, total=True)

        def _prepare(self, cells: list[str], bold: bool = False, total: bool = False) -> Any:
            lay = self.spec.layout
            lines = [
                _wrap(text, BOLD if bold else self.spec.fonts[i], self.size,
                      lay.widths[i] - 2 * PAD_X, lay.breakable)
                for i, text in enumerate(cells)
            ]
            height = max(len(x) for x in lines) * self.leading + 2 * PAD_Y
            return (lines, height, bold or total)

        def _fill(self, height: float) -> float:
            """Buffers rows until their height exceeds ``height`` or the rows end; their height."""
            used = sum(r[1] for r in self._buffer)
            while used <= height and not self._done:
                row = next(self._rows, None)
                if row is None:
                    self._done = True
                    break
                self._buffer.append(row)
                used += row[1]
            return used

        def wrap(self, aw: float, ah: float) -> tuple[float, float]:
            self.height = self.head[1] + self._fill(ah - self.head[1])
            return self.width, self.height

        def split(self, aw: float, ah: float) -> list[Any]:
            room = ah - self.head[1]
            self._fill(room)
            used, k = 0.0, 0
            while k < len(self._buffer) and used + self._buffer[k][1] <= room:
                used += self._buffer[k][1]
                k += 1
            rest = self._buffer[k:]
            if k == 0:
                if ah < 0.8 * (PAGE_H - MARGIN_TOP - MARGIN_BOTTOM) or not rest:
                    return []  # too little room here: the frame moves on to a new page
                # One row taller than a whole page: its lines go over pages, none is dropped.
                lines, _, total = rest[0]
                fit = max(1, int((room - 2 * PAD_Y) // self.leading))
                head_part = ([x[:fit] for x in lines], fit * self.leading + 2 * PAD_Y, total)
                tail = [x[fit:] for x in lines]
                tail_h = max(len(x) for x in tail) * self.leading + 2 * PAD_Y
                page = StreamTable(self.spec, iter(()), [head_part], self.first)
                page._done = True
                return [page, StreamTable(self.spec, self._rows, [(tail, tail_h, total), *rest[1:]], False)]
            page = StreamTable(self.spec, iter(()), self._buffer[:k], self.first)
            page._done = True
            if not rest and self._done:
                return [page]
            follow = StreamTable(self.spec, self._rows, rest, False)
            follow._done = self._done
            return [page, follow]

        def draw(self) -> None:
            c = self.canv
            widths = self.spec.layout.widths
            y = self.height
            rows = [(self.head, "head"), *((r, "body") for r in self._buffer)]
            band = 0
            for (lines, height, strong), kind in rows:
                top = y
                y -= height
                if kind == "head":
                    c.setFillColorRGB(*HEAD_BG)
                    c.rect(0, y, self.width, height, stroke=0, fill=1)
                elif not strong:
                    if band % 2:
                        c.setFillColorRGB(*BAND_BG)
                        c.rect(0, y, self.width, height, stroke=0, fill=1)
                    band += 1
                c.setFillColorRGB(*INK)
                x = 0.0
                for i, cell in enumerate(lines):
                    font = BOLD if strong else self.spec.fonts[i]
                    c.setFont(font, self.size)
                    ty = top - PAD_Y - self.size
                    for line in cell:
                        if self.spec.right[i]:
                            c.drawRightString(x + widths[i] - PAD_X, ty, line)
                        else:
                            c.drawString(x + PAD_X, ty, line)
                        ty -= self.leading
                    x += widths[i]
                if kind == "head":
                    c.setStrokeColorRGB(*ACCENT)
                    c.setLineWidth(1.0)
                elif strong:
                    c.setStrokeColorRGB(*INK)
                    c.setLineWidth(1.0)
                    c.line(0, top, self.width, top)
                else:
                    c.setStrokeColorRGB(*RULE)
                    c.setLineWidth(0.4)
                c.line(0, y, self.width, y)

    return StreamTable


# ------------------------------------------------------------------------------------ charts
def _make_chart() -> type:
    from reportlab.platypus import Flowable

    class HorizontalChart(Flowable):  # type: ignore[misc]
        """Bars drawn horizontally (categories down the left, full names); a LINE chart (months) as
        grouped bars, one per series, so that every value is printed at its bar."""

        def __init__(self, chart: Chart, width: float, top: Decimal | None = None,
                     label_w: float | None = None) -> None:
            super().__init__()
            self.chart = chart
            self.width = width
            self.label_w = label_w or max(_width(c, SANS, 7) for c in chart.categories) + 6
            self.stacked = chart.kind is ChartKind.STACKED_BAR
            self.top = top
            per = 1 if self.stacked else len(chart.series)  # a LINE chart (months) is drawn as grouped bars
            self.bar_h = 9.0
            self.row_h = self.bar_h * per + 5
            legend = 14 if len(chart.series) > 1 else 0
            self.height = len(chart.categories) * self.row_h + 26 + legend

        def wrap(self, aw: float, ah: float) -> tuple[float, float]:
            return self.width, self.height

        def split(self, aw: float, ah: float) -> list[Any]:
            """More categories than the page holds: the rest go on the next page, on the same scale."""
            chart = self.chart
            fit = int((ah - (self.height - len(chart.categories) * self.row_h)) // self.row_h)
            if fit < 3 or fit >= len(chart.categories):
                return []
            top = self._max()

            def part(lo: int, hi: int | None) -> Any:
                piece = Chart(chart.kind, chart.title, chart.categories[lo:hi],
                              tuple(Series(s.name, s.values[lo:hi]) for s in chart.series),
                              x_title=chart.x_title, y_title=chart.y_title, unit=chart.unit, data_table=False)
                return HorizontalChart(piece, self.width, top, self.label_w)

            return [part(0, fit), part(fit, None)]

        def _max(self) -> Decimal:
            if self.top is not None:
                return self.top
            chart = self.chart
            if self.stacked:
                values = [Decimal(exact_sum([s.values[i] for s in chart.series])) for i in range(len(chart.categories))]
            else:
                values = [Decimal(v) for s in chart.series for v in s.values]
            top = max([*values, Decimal(0)])
            return top if top > 0 else Decimal(1)

        def draw(self) -> None:
            c = self.canv
            chart = self.chart
            top = self._max()
            value_room = _width(display_number(top), SANS, 6.5) + 8
            x0 = self.label_w
            span = self.width - x0 - value_room
            y = self.height - 4
            unit = f" ({chart.unit})" if chart.unit else ""
            c.setFont(SANS, 6.5)
            c.setFillColorRGB(*MUTED)
            if chart.x_title:
                c.drawString(0, y - 6, chart.x_title)
            c.drawRightString(x0 + span, y - 6, (chart.y_title or "Value") + unit)
            y -= 12
            c.setStrokeColorRGB(*RULE)
            c.setLineWidth(0.5)
            c.line(x0, y, x0, y - len(chart.categories) * self.row_h)
            for ci, category in enumerate(chart.categories):
                c.setFillColorRGB(*INK)
                c.setFont(SANS, 7)
                row_top = y - ci * self.row_h
                c.drawRightString(x0 - 4, row_top - self.row_h / 2 - 2.5, category)
                values = [s.values[ci] for s in chart.series]
                if self.stacked or len(chart.series) == 1:
                    x = x0
                    for si, v in enumerate(values):
                        w = float(Decimal(v) / top) * span
                        c.setFillColorRGB(*SERIES_FILLS[si % len(SERIES_FILLS)])
                        c.rect(x, row_top - 2.5 - self.bar_h, w, self.bar_h, stroke=0, fill=1)
                        x += w
                    c.setFillColorRGB(*INK)
                    c.setFont(SANS, 6.5)
                    c.drawString(x + 3, row_top - 2.5 - self.bar_h + 2.5, display_number(exact_sum(values)))
                else:
                    for si, v in enumerate(values):
                        w = float(Decimal(v) / top) * span
                        by = row_top - 2.5 - (si + 1) * self.bar_h
                        c.setFillColorRGB(*SERIES_FILLS[si % len(SERIES_FILLS)])
                        c.rect(x0, by + 0.5, w, self.bar_h - 1, stroke=0, fill=1)
                        c.setFillColorRGB(*INK)
                        c.setFont(SANS, 6.5)
                        c.drawString(x0 + w + 3, by + 2.5, display_number(v))
            if len(chart.series) > 1:
                x = x0
                ly = y - len(chart.categories) * self.row_h - 11
                c.setFont(SANS, 6.5)
                for si, s in enumerate(chart.series):
                    c.setFillColorRGB(*SERIES_FILLS[si % len(SERIES_FILLS)])
                    c.rect(x, ly, 7, 7, stroke=0, fill=1)
                    c.setFillColorRGB(*INK)
                    c.drawString(x + 10, ly + 1, s.name)
                    x += 10 + _width(s.name, SANS, 6.5) + 14

    return HorizontalChart


def _chart_table(chart: Chart) -> Table:
    """The chart's numbers as a table (what the HTML prints under the chart)."""
    from registry.reports.model import Column, ColumnType

    stacked = chart.kind is ChartKind.STACKED_BAR
    columns = [Column("category", chart.x_title or "Category")]
    columns += [Column(f"s{i}", s.name, ColumnType.DECIMAL, unit=chart.unit) for i, s in enumerate(chart.series)]
    if stacked:
        columns.append(Column("total", "Total", ColumnType.DECIMAL, unit=chart.unit))
    rows = []
    for i, category in enumerate(chart.categories):
        values = [s.values[i] for s in chart.series]
        row: list[Any] = [category, *values]
        if stacked:
            row.append(exact_sum(values))
        rows.append(tuple(row))
    return Table(chart.title, tuple(columns), tuple(rows))


# ------------------------------------------------------------------------------------ document
class _LazyFlowables(list):  # type: ignore[type-arg]
    """The list platypus consumes from the front, filled from a generator a few flowables ahead."""

    AHEAD = 4

    def __init__(self, source: Iterator[Any]) -> None:
        super().__init__()
        self._source = source

    def _fill(self) -> None:
        while super().__len__() < self.AHEAD:
            item = next(self._source, None)
            if item is None:
                return
            self.append(item)

    def __len__(self) -> int:
        self._fill()
        return super().__len__()

    def __getitem__(self, index: Any) -> Any:
        self._fill()
        return super().__getitem__(index)


class _Styles:
    def __init__(self) -> None:
        from reportlab.lib.styles import ParagraphStyle

        base = ParagraphStyle("body", fontName=SANS, fontSize=8.5, leading=11.5, spaceAfter=5,
                              textColor=INK, splitLongWords=0, hyphenationLang="")
        self.body = base
        self.kind = ParagraphStyle("kind", parent=base, fontName=BOLD, fontSize=7.5, textColor=ACCENT, spaceAfter=2)
        self.title = ParagraphStyle("title", parent=base, fontName=BOLD, fontSize=17, leading=21, spaceAfter=3)
        self.subtitle = ParagraphStyle("subtitle", parent=base, textColor=MUTED)
        self.h = [
            ParagraphStyle("h1", parent=base, fontName=BOLD, fontSize=12.5, leading=16, textColor=ACCENT,
                           spaceBefore=8, spaceAfter=5),
            ParagraphStyle("h2", parent=base, fontName=BOLD, fontSize=10.5, leading=13.5, spaceBefore=7, spaceAfter=4),
            ParagraphStyle("h3", parent=base, fontName=BOLD, fontSize=9, leading=12, spaceBefore=6, spaceAfter=3),
        ]
        self.table_title = ParagraphStyle("tt", parent=base, fontName=BOLD, fontSize=8.5, spaceBefore=4, spaceAfter=3)
        self.note = ParagraphStyle("note", parent=base, fontSize=7.5, textColor=MUTED)
        self.mono = ParagraphStyle("mono", parent=base, fontName=MONO, fontSize=7.5)


def _p(text: str) -> str:
    return escape(text)


class _Writer:
    def __init__(self, report: Report, digest: str, progress: Progress | None) -> None:
        from reportlab.platypus import CondPageBreak, PageBreakIfNotEmpty, Spacer
        from reportlab.platypus import Paragraph as RLParagraph

        self.report = report
        self.digest = digest
        self.progress = progress
        self.section = ""
        self.styles = _Styles()
        self.StreamTable = _make_stream_table()
        self.Chart = _make_chart()
        self.P = RLParagraph
        self.Cond = CondPageBreak
        self.Break = PageBreakIfNotEmpty
        self.Spacer = Spacer

    def flowables(self) -> Iterator[Any]:
        s = self.styles
        report = self.report
        yield self.P(_p(f"{report.kind.upper()} REPORT"), s.kind)
        yield self.P(_p(report.title), s.title)
        if report.subtitle:
            yield self.P(_p(report.subtitle), s.subtitle)
        yield from self._inputs()
        for i, section in enumerate(report.iter_sections(), start=1):
            yield from self._section(section, str(i), 0)
        yield self.Cond(90)
        yield self.P("Integrity", s.h[0])
        yield self.P(_p("Content digest: SHA-256 of the report's canonical JSON content (format "
                        f"{FORMAT_VERSION})"), s.body)
        yield self.P(_p(f"sha256:{self.digest}"), s.mono)
        yield self.P(_p("This report states every input it was generated from and contains no time of printing: "
                        "the same registry, inputs and format give the same bytes. gpureg report verify FILE "
                        "regenerates it from the registry and compares."), s.body)

    def _inputs(self) -> Iterator[Any]:
        from registry.reports.model import Column

        report = self.report
        rows: list[tuple[str, str]] = [
            ("As recorded by", display_datetime(report.as_of.recorded_by)),
            ("As occurred by", "no limit" if report.as_of.occurred_by is None
             else display_datetime(report.as_of.occurred_by)),
        ]
        rows += [(name, display_input(value)) for name, value in report.inputs]
        rows.append(("Content digest (SHA-256)", self.digest))
        table = Table("Inputs", (Column("input", "Input"), Column("value", "Value")), tuple(rows))
        yield self.StreamTable(_TableSpec(table, FRAME_W))
        yield self.Spacer(1, 6)

    def _section(self, section: Section, number: str, depth: int) -> Iterator[Any]:
        s = self.styles
        if depth == 0:
            self.section = section.heading
        if section.new_page:
            yield self.Break()
        yield self.Cond(72)
        yield self.P(f'<font color="#555555">{number}</font>&nbsp;&nbsp;{_p(section.heading)}', s.h[min(depth, 2)])
        sub = 0
        for block in section.iter_blocks():
            if isinstance(block, Section):
                sub += 1
                yield from self._section(block, f"{number}.{sub}", depth + 1)
            elif isinstance(block, Table):
                yield from self._table(block)
            elif isinstance(block, Paragraph):
                yield self.P(_p(block.text), s.body)
            elif isinstance(block, Summary):
                yield from self._summary(block)
            else:
                yield from self._chart(block)

    def _table(self, table: Table) -> Iterator[Any]:
        yield self.Cond(60)
        yield self.P(_p(table.title), self.styles.table_title)
        yield self.StreamTable(_TableSpec(table, FRAME_W))
        if table.note:
            yield self.P(_p(table.note), self.styles.note)
        yield self.Spacer(1, 6)

    def _summary(self, summary: Summary) -> Iterator[Any]:
        from reportlab.platypus import Table as RLTable
        from reportlab.platypus import TableStyle

        s = self.styles
        yield self.Cond(60)
        yield self.P(_p(summary.title), s.table_title)
        per_row = 6
        tile_w = FRAME_W / per_row
        labels, values = [], []
        for item in summary.items:
            value = display_cell(item.value) + (f" {item.unit}" if item.unit else "")
            labels.append("\n".join(_wrap(item.label, SANS, 7.5, tile_w - 12, False)))
            values.append("\n".join(_wrap(value, BOLD, 11, tile_w - 12, False)))
        grid: list[list[str]] = []
        for i in range(0, len(labels), per_row):
            pad = [""] * (per_row - len(labels[i : i + per_row]))
            grid += [labels[i : i + per_row] + pad, values[i : i + per_row] + pad]
        flow = RLTable(grid, colWidths=[tile_w] * per_row)
        style: list[tuple[Any, ...]] = [("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 6)]
        for i in range(len(labels)):  # the accent rule on the tiles there are, not on the padding
            col, row = i % per_row, 2 * (i // per_row)
            style.append(("LINEBEFORE", (col, row), (col, row + 1), 2.5, ACCENT))
        for r in range(0, len(grid), 2):
            style += [("FONT", (0, r), (-1, r), SANS, 7.5, 9.5), ("TEXTCOLOR", (0, r), (-1, r), MUTED),
                      ("TOPPADDING", (0, r), (-1, r), 4), ("BOTTOMPADDING", (0, r), (-1, r), 0),
                      ("FONT", (0, r + 1), (-1, r + 1), BOLD, 11, 13.5),
                      ("TOPPADDING", (0, r + 1), (-1, r + 1), 1), ("BOTTOMPADDING", (0, r + 1), (-1, r + 1), 6)]
        flow.setStyle(TableStyle(style))
        yield flow
        yield self.Spacer(1, 6)

    def _chart(self, chart: Chart) -> Iterator[Any]:
        yield self.Cond(80)
        yield self.P(_p(chart.title), self.styles.table_title)
        yield self.Chart(chart, FRAME_W)
        if chart.data_table:
            yield self.StreamTable(_TableSpec(_chart_table(chart), FRAME_W))
        yield self.Spacer(1, 6)


def write_pdf(report: Report, digest: str, target: Callable[[bytes], object], progress: Progress | None = None) -> None:
    """Lays out the report as PDF and writes it to ``target``; ``progress`` is told of every page."""
    from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFInfo, PDFName, PDFStream, PDFString
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus.doctemplate import BaseDocTemplate, PageTemplate
    from reportlab.platypus.frames import Frame

    register_fonts()
    as_of = report.as_of.recorded_by.replace(microsecond=0)
    pdf_date = as_of.strftime("D:%Y%m%d%H%M%SZ")
    writer = _Writer(report, digest, progress)
    title = report.title
    recorded = "As recorded by " + display_datetime(report.as_of.recorded_by)
    keywords = f"sha256:{digest}, {FORMAT_VERSION}, {report.kind}"

    class Info(PDFInfo):  # type: ignore[misc]
        def format(self, document: Any) -> Any:
            return PDFDictionary({
                "Title": PDFString(title), "Author": PDFString("gpureg"), "Subject": PDFString(report.subtitle or ""),
                "Keywords": PDFString(keywords), "Creator": PDFString(FORMAT_VERSION),
                "Producer": PDFString("gpureg (ReportLab)"), "CreationDate": PDFString(pdf_date),
                "ModDate": PDFString(pdf_date), "reportdigest": PDFString("sha256:" + digest),
            }).format(document)

    class PageCompressingCanvas(Canvas):  # type: ignore[misc]
        """Compresses each page's content stream as soon as the page is finished: ReportLab would keep
        it as text until the file is written (about ten times the size)."""

        def showPage(self) -> None:  # noqa: N802 (ReportLab's name)
            super().showPage()
            page = self._doc.Pages.pages[-1]
            stream = page.stream
            data = stream.encode("utf-8") if isinstance(stream, str) else stream
            page.Contents = PDFStream(
                PDFDictionary({"Filter": PDFArray([PDFName("FlateDecode")])}), zlib.compress(data, 6)
            )
            page.stream = None

    def make_canvas(*args: Any, **kwargs: Any) -> Any:
        canv = PageCompressingCanvas(*args, **{**kwargs, "invariant": 1, "pageCompression": 1})
        doc = canv._doc
        doc.info = Info()
        ident = digest[:32].encode("ascii")
        doc._ID = b"\n[<" + ident + b"><" + ident + b">]\n"
        data = dumps(request_json(report.request)).encode("utf-8")

        params = PDFDictionary({"Size": len(data), "CreationDate": PDFString(pdf_date), "ModDate": PDFString(pdf_date)})
        stream = PDFStream(PDFDictionary({"Type": PDFName("EmbeddedFile"), "Params": params}), data)
        ref = doc.Reference(stream)
        spec = PDFDictionary({
            "Type": PDFName("Filespec"), "F": PDFString(PDF_INPUTS_ATTACHMENT), "UF": PDFString(PDF_INPUTS_ATTACHMENT),
            "Desc": PDFString("The inputs this report was generated from (gpureg report verify reads them)"),
            "EF": PDFDictionary({"F": ref, "UF": ref}),
        })
        doc.Catalog.Names = PDFDictionary(
            {"EmbeddedFiles": PDFDictionary(
                {"Names": PDFArray([PDFString(PDF_INPUTS_ATTACHMENT), doc.Reference(spec)])}
            )}
        )
        return canv

    def on_page(canv: Any, doc: Any) -> None:
        canv.saveState()
        canv.setFont(SANS, 7)
        canv.setFillColorRGB(*MUTED)
        canv.drawString(MARGIN_X, PAGE_H - 10 * MM, title)
        canv.drawRightString(PAGE_W - MARGIN_X, PAGE_H - 10 * MM, recorded)
        canv.setFont(MONO, 6)
        canv.drawString(MARGIN_X, 8 * MM, "SHA-256 " + digest)
        canv.setFont(SANS, 7)
        label = f"Page {doc.page} of "
        right = PAGE_W - MARGIN_X - 24
        canv.drawRightString(right, 8 * MM, label)
        canv.translate(right, 8 * MM)
        canv.doForm(PAGE_COUNT_FORM)
        canv.restoreState()
        if progress is not None:
            progress(doc.page, writer.section)

    class Doc(BaseDocTemplate):  # type: ignore[misc]
        def _endBuild(self) -> None:  # noqa: N802 (ReportLab's name)
            from reportlab.platypus.doctemplate import PageBegin

            self._removeVars(("build", "page", "frame"))
            if self._hanging and self._hanging[-1] is PageBegin:
                del self._hanging[-1]
                self.clean_hanging()
            else:
                self.clean_hanging()
                self.handle_pageBreak()
            pages = self.canv.getPageNumber() - 1
            self.canv.beginForm(PAGE_COUNT_FORM)
            self.canv.setFont(SANS, 7)
            self.canv.setFillColorRGB(*MUTED)
            self.canv.drawString(0, 0, f"{max(pages, 1):,}")
            self.canv.endForm()
            self.canv.save()

    class _Out:
        def write(self, data: bytes) -> None:
            target(data)

    frame = Frame(MARGIN_X, MARGIN_BOTTOM, FRAME_W, PAGE_H - MARGIN_TOP - MARGIN_BOTTOM, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    doc = Doc(_Out(), pagesize=(PAGE_W, PAGE_H), leftMargin=MARGIN_X, rightMargin=MARGIN_X, topMargin=MARGIN_TOP,
              bottomMargin=MARGIN_BOTTOM, title=title, invariant=1)
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=on_page)])
    doc.build(_LazyFlowables(writer.flowables()), canvasmaker=make_canvas)


__all__ = ["EMPTY_DISPLAY", "register_fonts", "write_pdf"]
