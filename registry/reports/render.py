"""Rendering a :class:`~registry.reports.model.Report` to bytes in one of four formats.

Every renderer is deterministic: the same Report gives byte-identical output on every run and every
machine with the same pinned dependencies (for PDF: ReportLab and rl_accel, and the DejaVu
fonts that ``make system-deps`` installs). Nothing reads the clock, the locale, the time zone or the
environment. HTML, CSV and JSON are written incrementally (about 64 KiB at a time) and never hold the
whole document; a report is read twice (digest pass, then writing pass), see
:mod:`registry.reports.model`. PDF is laid out page by page by :mod:`registry.reports.pdf_writer`
(ReportLab), reading the rows a page at a time; :func:`weasyprint_pdf_bytes` keeps the former
WeasyPrint rendering of the HTML for the side-by-side measurement in ``make bench``.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO

from registry.reports.content import DIGEST_ALGORITHM, TextSink, content_digest, dumps, request_json, write_content
from registry.reports.csv_writer import write_csv
from registry.reports.html_writer import write_html
from registry.reports.model import Report
from registry.reports.pdf_writer import PDF_INPUTS_ATTACHMENT, Progress, write_pdf


class Format(StrEnum):
    HTML = "html"
    PDF = "pdf"
    CSV = "csv"
    JSON = "json"

    @property
    def media_type(self) -> str:
        return {
            Format.HTML: "text/html; charset=utf-8",
            Format.PDF: "application/pdf",
            Format.CSV: "text/csv; charset=utf-8; header=present",
            Format.JSON: "application/json",
        }[self]

    @property
    def extension(self) -> str:
        return "." + self.value


@dataclass(frozen=True)
class Rendered:
    """What :func:`render` wrote: the format, the report's content digest (hex) and the byte count."""

    format: Format
    digest: str
    size: int


def write_json(report: Report, digest: str, target: Callable[[bytes], object]) -> None:
    """``{"digest": HEX, "digest_algorithm": "sha256", "report": CONTENT}`` and a newline; canonical."""
    sink = TextSink(target)
    sink.write('{"digest":' + dumps(digest) + ',"digest_algorithm":' + dumps(DIGEST_ALGORITHM) + ',"report":')
    write_content(report, sink.write)
    sink.write("}\n")
    sink.flush()


def weasyprint_pdf_bytes(report: Report, digest: str) -> bytes:
    """The former PDF writer, kept for comparison (``make bench``): the PDF laid out by WeasyPrint
    from this report's HTML, with every varying field pinned:
    creation and modification dates (document and attachment) are the recorded-by time, the file
    identifier is derived from the digest, the recorded inputs travel as an embedded file
    ``report-inputs.json`` and the digest as the Keywords and a ``reportdigest`` info entry.

    Embedded font subsets are made by fontTools, which stamps each with the current time unless
    ``SOURCE_DATE_EPOCH`` (the reproducible-builds convention) is set; it is set here, to 0
    unless the environment already chose a value, so the bytes do not depend on the clock."""
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")
    import weasyprint  # heavy (loads pango): only when a PDF is asked for

    html = io.BytesIO()
    write_html(report, digest, html.write)
    as_of = report.as_of.recorded_by.replace(microsecond=0)
    inputs = weasyprint.Attachment(
        string=dumps(request_json(report.request)),
        name=PDF_INPUTS_ATTACHMENT,
        description="The inputs this report was generated from (gpureg report verify reads them)",
        created=as_of,
        modified=as_of,
    )
    document = weasyprint.HTML(string=html.getvalue().decode("utf-8"), base_url=None)
    out = document.write_pdf(
        pdf_identifier=digest[:32].encode("ascii"),
        custom_metadata=True,
        attachments=[inputs],
        uncompressed_pdf=False,
    )
    assert isinstance(out, bytes)
    return out


class _Counter:
    def __init__(self, target: Callable[[bytes], object]) -> None:
        self.target = target
        self.size = 0

    def __call__(self, data: bytes) -> None:
        self.size += len(data)
        self.target(data)


def render(
    report: Report, fmt: Format | str, out: BinaryIO | Callable[[bytes], object], progress: Progress | None = None
) -> Rendered:
    """Writes the report in ``fmt`` to a binary stream (or a ``write(bytes)`` callable); ``progress``
    (PDF only) is called with the page count and the section's heading as pages are finished."""
    fmt = Format(fmt)
    target = out if callable(out) else out.write
    counter = _Counter(target)
    digest = content_digest(report)
    if fmt is Format.HTML:
        write_html(report, digest, counter)
    elif fmt is Format.CSV:
        write_csv(report, digest, counter)
    elif fmt is Format.JSON:
        write_json(report, digest, counter)
    else:
        write_pdf(report, digest, counter, progress)
    return Rendered(fmt, digest, counter.size)


def render_bytes(report: Report, fmt: Format | str) -> bytes:
    """The report in ``fmt`` as bytes (convenient for small reports and tests)."""
    buffer = io.BytesIO()
    render(report, fmt, buffer)
    return buffer.getvalue()


def iter_bytes(report: Report, fmt: Format | str, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
    """The report in ``fmt`` as chunks of at most ``chunk_size`` bytes, for a streaming response
    (the gRPC method that streams a report). The report is rendered first into a temporary file that
    stays in memory up to 1 MiB and spills to disk beyond, then read back: memory stays flat."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    with tempfile.SpooledTemporaryFile(max_size=1 << 20) as spool:
        render(report, fmt, spool.write)
        spool.seek(0)
        while chunk := spool.read(chunk_size):
            yield chunk
