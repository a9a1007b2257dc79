"""A real report as PDF: its pages, its text (pdftotext), reproducible bytes and ``report verify``.

Small on purpose: the ownership report of the two-batch world, a few A4 landscape pages.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from registry.cli import app
from tests.integration.report_world import ReportWorld, phase_one, phase_two

runner = CliRunner()
NEW_PAGE_SECTIONS = (
    "2 Units by partner and stage",
    "4 Units by partner, model and stage",
    "5 Units by partner, site and stage",
    "6 Site power against capacity",
    "7 Deployments over time",
)


@pytest.fixture
def world(sqlite_url: str) -> Iterator[ReportWorld]:
    w = phase_one(sqlite_url)
    yield w
    w.close()


def pdf_pages(path: Path) -> list[str]:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    return [
        subprocess.run(
            ["pdftotext", "-layout", "-f", str(n), "-l", str(n), str(path), "-"],
            capture_output=True, text=True, check=True,
        ).stdout
        for n in range(1, pages + 1)
    ]


def body_lines(page: str) -> list[str]:
    """A page's text without the running header (its first line) and blank lines."""
    return [line.strip() for line in page.splitlines()[1:] if line.strip()]


def test_the_ownership_report_as_pdf_has_its_pages_totals_and_verifies(world: ReportWorld, tmp_path: Path) -> None:
    out = tmp_path / "ownership.pdf"
    result = runner.invoke(app, [
        "report", "ownership", "--database-url", world.url, "--format", "pdf", "--out", str(out),
        "--as-of", world.recorded_by.isoformat(),
    ])
    assert result.exit_code == 0, result.output
    pages = pdf_pages(out)
    assert len(pages) >= 1 + len(NEW_PAGE_SECTIONS)  # the first page, then each of those sections starts one
    for n, page in enumerate(pages, start=1):
        assert f"Page {n} of {len(pages)}" in page
        assert "Ownership and deployment of the national GPU programme" in page.splitlines()[0]
    first = " ".join(body_lines(pages[0]))
    assert "Units registered" in first and "88 units" in first
    assert "GPUs installed" in first and "32 GPUs" in first
    assert "GPUs allocated" in first and "100 GPUs" in first
    # each of these sections starts a page of its own
    starts = [body_lines(p)[0] for p in pages[1:]]
    assert [s for s in starts if s in NEW_PAGE_SECTIONS] == list(NEW_PAGE_SECTIONS)
    text = "\n".join(pages)
    assert "Samsung Electronics" in text and "NAVER Cloud" in text
    total = next(line for line in text.splitlines() if line.strip().startswith("Total") and "88" in line)
    assert total.split()[1:] == ["0", "48", "8", "16", "16", "0", "0", "0", "88"]

    phase_two(world)  # later events change nothing in the report as of the earlier time
    result = runner.invoke(app, ["report", "verify", str(out), "--database-url", world.url])
    assert result.exit_code == 0, result.output
    assert "MATCHES: the PDF file is byte for byte" in result.output

    data = bytearray(out.read_bytes())
    data[len(data) // 3] ^= 0x20
    out.write_bytes(bytes(data))
    result = runner.invoke(app, ["report", "verify", str(out), "--database-url", world.url])
    assert result.exit_code == 1
    assert "DOES NOT MATCH" in result.output
