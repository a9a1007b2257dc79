"""The PDF's rendered pages, read as images, say what the HTML says.

The text-extraction test (test_report_pdf_content.py) reads the PDF's text layer; this one reads
what a person sees: each page is rendered to an image (pdftoppm, 150 dpi) and read back by OCR
(tesseract), and every token of every table cell of the HTML report must be among the words read
off the pages. OCR confuses a few glyphs (0/O, 1/l/I, 8/B), so both sides are folded the same way before
they are compared; tokens of one character are left out (OCR drops lone glyphs), and a handful of
misreads is allowed: a token of 8 characters or more also counts as read when a word on the page is
one character off it, and at most 2 % of the tokens may be missing; a clipped column, a table cut off at the page's edge or a hyphen-broken identifier loses far
more than that.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.reports import render_bytes
from registry.reports.builders import ReportSession
from tests.integration.report_world import ReportWorld, phase_one
from tests.integration.test_report_pdf_content import html_tokens

pytestmark = pytest.mark.skipif(
    (shutil.which("tesseract") is None or shutil.which("pdftoppm") is None) and not os.environ.get("CI"),
    reason="tesseract-ocr and poppler-utils (make system-deps) are not installed")  # required in CI

FOLD = str.maketrans({"o": "0", "l": "1", "i": "1", "|": "1", "b": "8", "\u2014": "-", "\u2013": "-", "\u201c": '"',
                      "\u201d": '"', "\u2019": "'"})


def fold(token: str) -> str:
    """The form both sides are compared in: lower case, OCR's usual confusions merged, edge punctuation off."""
    return token.lower().translate(FOLD).strip(".,;:()[]'\"")


def edits_apart(a: str, b: str, most: int) -> bool:
    """Whether at most ``most`` characters changed, added or dropped turn ``a`` into ``b`` (OCR
    misreads; Levenshtein distance, cut off early)."""
    if abs(len(a) - len(b)) > most:
        return False
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        if min(current) > most:
            return False
        previous = current
    return previous[-1] <= most


def not_read(wanted: Counter[str], read: Counter[str]) -> Counter[str]:
    """The wanted tokens not among the words read, where a long token (8 characters or more: ids,
    serials, times) also counts as read when a word read is one OCR misread away from it, and a
    token of 12 or more (a time with microseconds: a run of digits OCR misreads in pairs) two."""
    missing = wanted - read
    for token in list(missing):
        most = 2 if len(token) >= 12 else 1
        if len(token) >= 8 and any(edits_apart(token, w, most) for w in read if abs(len(w) - len(token)) <= most):
            del missing[token]
    return missing


def page_words(pdf: Path, tmp: Path) -> Counter[str]:
    subprocess.run(["pdftoppm", "-r", "150", "-gray", str(pdf), str(tmp / "page")], check=True)
    words: Counter[str] = Counter()
    for image in sorted(tmp.glob("page-*.pgm")):
        text = subprocess.run(["tesseract", str(image), "-", "--psm", "4"], capture_output=True, text=True,
                              check=True).stdout
        words.update(fold(w) for w in text.split())
    return words


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportWorld]:
    w = phase_one(f"sqlite:///{tmp_path_factory.mktemp('ocr')}/store.db")
    yield w
    w.close()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["compliance", "ownership", "custody"])
def test_every_table_cell_of_the_html_is_read_off_the_rendered_pdf_pages(world: ReportWorld, kind: str,
                                                                         tmp_path: Path) -> None:
    with ReportSession(world.store) as session:
        report = session.build(kind)
        html = render_bytes(report, "html")
        pdf = tmp_path / f"{kind}.pdf"
        pdf.write_bytes(render_bytes(report, "pdf"))
    # A lone glyph ("0" in a count column, "-") is what OCR drops most; it is left out of the comparison.
    wanted = Counter(f for f in (fold(t) for t in html_tokens(html).elements()) if len(f) > 1 and re.search(r"\w", f))
    assert sum(wanted.values()) > 100
    missing = not_read(wanted, page_words(pdf, tmp_path))
    share = sum(missing.values()) / sum(wanted.values())
    assert share <= 0.02, f"{share:.1%} of the table tokens not on the pages: {missing.most_common(20)}"


def test_a_token_one_misread_away_counts_as_read_and_a_clipped_one_does_not() -> None:
    read = Counter(["1652352251000a0", "09:13:21.335085", "samsung"])
    wanted = Counter(["165235225100040", "09:13:21.335086", "samsung", "x20261011000071", "ltd"])
    assert not_read(wanted, read) == Counter(["x20261011000071", "ltd"])
