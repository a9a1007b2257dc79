"""PDF reports (ReportLab, registry/reports/pdf_writer.py): reproducible bytes, pinned metadata, pages, text,
charts, verify.

Needs the Debian packages `make system-deps` installs (the DejaVu fonts, poppler-utils for pdftotext
and pdfinfo).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pypdf
import pytest

from registry.reports import (
    AsOf,
    Chart,
    ChartKind,
    Column,
    ColumnType,
    Format,
    Paragraph,
    Report,
    ReportRequest,
    Section,
    Series,
    Summary,
    SummaryItem,
    Table,
    content_digest,
    render_bytes,
    verify,
)
from registry.reports.sample import AS_OF

REPO = Path(__file__).resolve().parents[2]
PARTNERS = ("Samsung Electronics", "SK Group", "NAVER Cloud")
UNITS = (50_000, 50_000, 60_000)


def three_page_report(request: ReportRequest | None = None) -> Report:
    """A summary on page one, a chart on page two, a table on page three (sections start new pages)."""
    request = request or ReportRequest("ownership", AsOf(AS_OF), {"Log position": 7331, "Partner filter": None})
    return Report(
        kind=request.kind,
        title="Units by partner",
        as_of=request.as_of,
        inputs=request.inputs,
        sections=(
            Section(
                "Summary",
                (
                    Paragraph("Units registered to each partner."),
                    Summary("Key totals", (SummaryItem("Units registered", sum(UNITS), "units"),)),
                ),
            ),
            Section(
                "Chart",
                (
                    Chart(
                        ChartKind.BAR,
                        "Units per partner",
                        PARTNERS,
                        (Series("Registered", UNITS),),
                        x_title="Partner",
                        y_title="Registered units",
                    ),
                ),
                new_page=True,
            ),
            Section(
                "Table",
                (
                    Table(
                        "Units per partner",
                        (
                            Column("partner", "Partner"),
                            Column("units", "Units", ColumnType.INT, total=True),
                            Column("power", "Power", ColumnType.DECIMAL, unit="MW", total=True),
                        ),
                        tuple(
                            (p, u, Decimal(u).scaleb(-3).quantize(Decimal("0.1")))
                            for p, u in zip(PARTNERS, UNITS, strict=True)
                        ),
                    ),
                ),
                new_page=True,
            ),
        ),
    )


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return render_bytes(three_page_report(), Format.PDF)


def pdftotext(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_two_renders_of_the_same_report_give_the_same_pdf_bytes(pdf: bytes) -> None:
    assert render_bytes(three_page_report(), Format.PDF) == pdf


def test_a_pdf_rendered_a_day_later_is_byte_identical(pdf: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    # fontTools stamps each embedded font subset with the time it was made unless told not to;
    # two renders a second apart differed (a report re-generated for an auditor must not).
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 86_400)
    assert render_bytes(three_page_report(), Format.PDF) == pdf


def test_a_pdf_rendered_in_another_process_with_another_hash_seed_and_zone_is_byte_identical(pdf: bytes) -> None:
    script = (
        "import hashlib\n"
        "from registry.reports import render_bytes\n"
        "from tests.integration.test_report_pdf import three_page_report\n"
        "print(hashlib.sha256(render_bytes(three_page_report(), 'pdf')).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "4242", "TZ": "America/New_York"}
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == hashlib.sha256(pdf).hexdigest()


def test_the_pdf_has_one_page_per_section_that_starts_a_page(pdf: bytes) -> None:
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == 3


def test_pdftotext_finds_the_key_totals_the_chart_labels_and_the_digest(pdf: bytes, tmp_path: Path) -> None:
    text = pdftotext(pdf, tmp_path)
    pages = text.split("\f")
    digest = content_digest(three_page_report())
    assert "Units registered" in pages[0]
    assert "160,000" in pages[0]  # the summary's total
    assert "Registered units" in pages[1]  # the chart's axis title: the SVG was drawn as text
    assert "60,000" in pages[1]  # a value label on a bar
    assert "Total" in pages[2]
    assert "160,000" in pages[2]  # the table's totals row
    assert "160.0" in pages[2]  # the decimal column's total, at the scale of its cells
    assert digest in text  # header and integrity footer
    assert all(f"Page {n} of 3" in pages[n - 1] for n in (1, 2, 3))


def test_the_pdf_metadata_is_pinned_to_the_as_of_time_and_carries_the_digest(pdf: bytes) -> None:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    meta = reader.metadata
    assert meta is not None
    digest = content_digest(three_page_report())
    assert meta["/CreationDate"] == meta["/ModDate"] == "D:20261231235959Z"
    assert meta["/reportdigest"] == f"sha256:{digest}"
    assert f"sha256:{digest}" in meta["/Keywords"]
    assert meta["/Title"] == "Units by partner"
    assert pdf.count(digest[:32].encode()) >= 1  # the file identifier derives from the digest
    inputs = json.loads(reader.attachments["report-inputs.json"][0])
    assert inputs["kind"] == "ownership"
    assert inputs["inputs"][0] == {"name": "Log position", "type": "int", "value": 7331}


def test_verify_accepts_the_untouched_pdf(pdf: bytes) -> None:
    result = verify(pdf, three_page_report)
    assert result.matches, result.reason
    assert result.format is Format.PDF
    assert result.recorded_digest == content_digest(three_page_report())


def test_verify_detects_a_one_byte_change_in_the_pdf(pdf: bytes) -> None:
    # one byte at the start, in the middle (page content) and near the end (cross-reference data)
    for offset in (9, len(pdf) // 2, len(pdf) - 40):
        changed = bytearray(pdf)
        changed[offset] ^= 0x01
        result = verify(bytes(changed), three_page_report)
        assert not result.matches, f"a change at offset {offset} went unnoticed"


def test_verify_reports_a_pdf_whose_inputs_were_removed() -> None:
    result = verify(b"%PDF-1.7\n%%EOF\n", three_page_report)
    assert not result.matches
    assert result.format is Format.PDF
    assert "PDF" in result.reason
