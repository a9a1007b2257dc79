"""Nothing is lost in a PDF report: every cell of every table is in the PDF's text, whole.

For each report kind (on the two-batch world) and for a deliberately wide table, the HTML is parsed
into its tables and the PDF's text is extracted with pdftotext: every whitespace-separated token of
every header, row and totals cell must be in the PDF's text as many times as in the HTML (a clipped
column loses tokens; an identifier broken or hyphenated across lines is a different token). The
pages rendered to images (pdftoppm) must have no ink in the side margins: nothing runs past the
frame, where a page would clip it.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid5

import pytest

from registry.reports import AsOf, Column, ColumnType, Paragraph, Report, Section, Table, render_bytes
from registry.reports.builders import ReportSession
from registry.reports.pdf_writer import MARGIN_X, PAGE_W
from tests.integration.report_world import ReportWorld, phase_one
from tests.report_files import parse_html


@pytest.fixture
def world(sqlite_url: str) -> Iterator[ReportWorld]:
    w = phase_one(sqlite_url)
    yield w
    w.close()


def html_tokens(html: bytes) -> Counter[str]:
    tokens: Counter[str] = Counter()
    for table in parse_html(html).tables:
        for row in [table.header, *table.rows, *([table.total] if table.total else [])]:
            for cell in row:
                tokens.update(cell.split())
    return tokens


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def missing_tokens(html: bytes, pdf: Path) -> Counter[str]:
    return html_tokens(html) - Counter(pdf_text(pdf).split())


def ink_in_side_margins(pdf: Path, tmp: Path) -> list[str]:
    """Pages with a dark pixel left or right of the frame (rendered at 50 dpi, greyscale)."""
    subprocess.run(["pdftoppm", "-r", "50", "-gray", str(pdf), str(tmp / "page")], check=True)
    bad = []
    for image in sorted(tmp.glob("page-*.pgm")):
        data = image.read_bytes()
        parts = data.split(maxsplit=4)
        width, height = int(parts[1]), int(parts[2])
        pixels = parts[4]
        scale = width / PAGE_W
        left = int((MARGIN_X - 2) * scale) - 1
        right = int((PAGE_W - MARGIN_X + 2) * scale) + 1
        for y in range(height):
            row = pixels[y * width : (y + 1) * width]
            if min(row[:left]) < 200 or min(row[right:]) < 200:
                bad.append(image.name)
                break
    return bad


@pytest.mark.parametrize("kind", ["compliance", "ownership", "custody"])
def test_every_cell_of_every_table_is_in_the_pdf_text_whole(world: ReportWorld, kind: str, tmp_path: Path) -> None:
    with ReportSession(world.store) as session:
        report = session.build(kind)
        html = render_bytes(report, "html")
        pdf = tmp_path / f"{kind}.pdf"
        pdf.write_bytes(render_bytes(report, "pdf"))
    assert sum(html_tokens(html).values()) > 100
    assert missing_tokens(html, pdf) == Counter()
    assert ink_in_side_margins(pdf, tmp_path) == []


def wide_report() -> Report:
    """Eleven columns of ids, times, long words and long text: more than a landscape page at 7.5 pt."""
    ns = UUID("6f1c0a52-3d43-4a5e-9a57-6a0f0d7f2a10")
    columns = (
        Column("batch", "Batch", ColumnType.UUID), Column("rule", "Rule"), Column("occurred", "Occurred", ColumnType.DATETIME),
        Column("recorded", "Recorded", ColumnType.DATETIME), Column("serials", "Serials"),
        Column("units", "Units", ColumnType.INT, total=True), Column("value", "Value", ColumnType.INT, unit="USD",
                                                                        total=True),
        Column("actor", "Actor"), Column("site", "Site"), Column("reason", "Reason"), Column("details", "Details"),
    )
    rows = [
        (
            uuid5(ns, f"b{i}"), "units-missing-in-transit-beyond-the-allowance",
            datetime(2026, 3, 1, 9, i % 60, tzinfo=UTC), datetime(2026, 3, 2, 10, 0, i % 60, tzinfo=UTC),
            f"1652250046984{i:03d} \u2013 1652250047383{i:03d} ({400 + i})", 400 + i, 36_000_000 + i,
            "officer-kim@compliance.example.kr", "Hyundai Motor AI Center Uiwang",
            "clearance of batch PO-2029-00382 under NLR-KR-3A090-2026",
            "shipment SHP-00071-1; carrier DHL Global Forwarding; AES/EEI ITN X20261011000071" + " and more" * i,
        )
        for i in range(60)
    ]
    return Report(
        kind="custody", title="A wide table", as_of=AsOf(datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)),
        sections=(Section("Wide", (Paragraph("Eleven columns."), Table("Wide rows", columns, tuple(rows)))),),
    )


def test_a_table_wider_than_the_page_fits_with_identifiers_whole(tmp_path: Path) -> None:
    report = wide_report()
    html = render_bytes(report, "html")
    pdf = tmp_path / "wide.pdf"
    pdf.write_bytes(render_bytes(report, "pdf"))
    assert missing_tokens(html, pdf) == Counter()
    assert ink_in_side_margins(pdf, tmp_path) == []
    text = pdf_text(pdf)
    assert "units-missing-in-transit-beyond-the-allowance" in text.split()
    pages = text.count("\f")
    assert pages > 1
    assert text.count("Occurred") >= pages - 1  # the header row repeats on every page the table continues on


def test_the_pdf_writer_reports_its_progress_page_by_page_with_the_section(tmp_path: Path) -> None:
    from registry.reports import render

    seen: list[tuple[int, str]] = []
    out = tmp_path / "wide.pdf"
    with out.open("wb") as f:
        render(wide_report(), "pdf", f, lambda page, section: seen.append((page, section)))
    pages = pdf_text(out).count("\f")
    assert [p for p, _ in seen] == list(range(1, pages + 1))
    assert seen[-1][1] == "Wide"
