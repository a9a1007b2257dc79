"""Verifying a report file: read its recorded inputs, regenerate, re-render, compare byte for byte.

Every format records, machine-readably, the request it answers and the content digest:

========  =========================================================  ===============================
format    recorded inputs                                            recorded digest
========  =========================================================  ===============================
HTML      ``<script type="application/json" id="report-inputs">``    ``<meta name="report-digest">``
PDF       embedded file ``report-inputs.json``                       info ``/reportdigest``, Keywords
CSV       the leading ``report``, ``as_of`` and ``input`` records    the trailing ``digest`` record
JSON      ``report.as_of``, ``format``, ``inputs``, ``kind``         ``digest``
========  =========================================================  ===============================

:func:`verify` never trusts the recorded digest: it regenerates the report from the recorded inputs
and compares the whole file with a fresh rendering, so any change, a single byte anywhere (a
number, the digest, the inputs, the markup), is a mismatch. The reading is done on the given bytes
without copying them, and the comparison streams, so verifying a large HTML, CSV or JSON report
needs no more memory than the file itself.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass

from registry.reports.content import UnreadableInputs, request_from_json
from registry.reports.html_writer import DIGEST_META_OPEN, INPUTS_SCRIPT_OPEN
from registry.reports.model import FORMAT_VERSION, Report, ReportRequest
from registry.reports.pdf_writer import PDF_INPUTS_ATTACHMENT
from registry.reports.render import Format, render

Regenerate = Callable[[ReportRequest], Report]


@dataclass(frozen=True)
class Verification:
    """The outcome of :func:`verify`.

    ``matches``: the file is byte for byte what the registry produces for its recorded inputs.
    ``format``: the detected format (None when the file is not a report in any format).
    ``request``: the recorded inputs (None when they could not be read).
    ``recorded_digest``: the digest the file states (None when it could not be read).
    ``regenerated_digest``: the digest of the regenerated report (None when nothing was regenerated).
    ``first_difference``: the offset of the first differing byte (None when they match or nothing was
    compared). ``reason``: one sentence for a person.
    """

    matches: bool
    format: Format | None
    request: ReportRequest | None
    recorded_digest: str | None
    regenerated_digest: str | None
    first_difference: int | None
    reason: str

    @property
    def digests_match(self) -> bool:
        return self.recorded_digest is not None and self.recorded_digest == self.regenerated_digest


def detect_format(data: bytes) -> Format | None:
    if data.startswith(b"%PDF-"):
        return Format.PDF
    if data.startswith(b"<!DOCTYPE html>"):
        return Format.HTML
    if data.startswith(b'{"digest":'):
        return Format.JSON
    if data.startswith(b"report," + FORMAT_VERSION.encode()):
        return Format.CSV
    return None


def _between(data: bytes, start: bytes, end: bytes, what: str) -> bytes:
    i = data.find(start)
    if i < 0:
        raise UnreadableInputs(f"{what} is missing")
    i += len(start)
    j = data.find(end, i)
    if j < 0:
        raise UnreadableInputs(f"{what} is not terminated")
    return data[i:j]


def _hex_digest(text: str, what: str) -> str:
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise UnreadableInputs(f"{what} is not a SHA-256 hex digest: {text[:80]!r}")
    return text


def _decode(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UnreadableInputs(f"{what} is not UTF-8: {e}") from e


def _load_json(text: str, what: str) -> object:
    try:
        return json.loads(text)
    except ValueError as e:
        raise UnreadableInputs(f"{what} is not JSON: {e}") from e


def _read_html(data: bytes) -> tuple[ReportRequest, str]:
    raw = _between(data, INPUTS_SCRIPT_OPEN.encode(), b"</script>", "the report-inputs script")
    request = request_from_json(_load_json(_decode(raw, "the report-inputs script"), "the report-inputs script"))
    digest = _decode(_between(data, DIGEST_META_OPEN.encode(), b'">', "the report-digest meta tag"), "the digest")
    return request, _hex_digest(digest, "the report-digest meta tag")


def _read_json(data: bytes) -> tuple[ReportRequest, str]:
    # The canonical file starts {"digest":"HEX","digest_algorithm":"sha256","report":{"as_of":...,"format":...,
    # "inputs":[...],"kind":...,"sections":[... ; read that header without parsing the (large) rest.
    end = data.find(b',"sections":[')
    if end < 0:
        raise UnreadableInputs("the JSON report has no sections")
    head = _decode(data[:end], "the JSON report") + "}}"
    doc = _load_json(head, "the JSON report's header")
    if not isinstance(doc, dict) or not isinstance(doc.get("report"), dict) or not isinstance(doc.get("digest"), str):
        raise UnreadableInputs("the JSON report's header lacks digest or report")
    if doc.get("digest_algorithm") != "sha256":
        raise UnreadableInputs(f"unknown digest algorithm {doc.get('digest_algorithm')!r}")
    return request_from_json(doc["report"]), _hex_digest(doc["digest"], "the JSON digest")


def _csv_input(type_tag: str, text: str) -> object:
    if type_tag == "null":
        if text:
            raise UnreadableInputs("a null input has a value")
        return None
    if type_tag == "int":
        try:
            return int(text)
        except ValueError as e:
            raise UnreadableInputs(f"an int input is not an integer: {text!r}") from e
    if type_tag == "text[]":
        return _load_json(text, "a text[] input")
    return text


def _read_csv(data: bytes) -> tuple[ReportRequest, str]:
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="")
    reader = csv.reader(text)
    as_of: dict[str, str | None] | None = None
    inputs: list[dict[str, object]] = []
    kind: str | None = None
    try:
        for record in reader:
            if not record:
                raise UnreadableInputs("an empty record in the CSV header")
            tag = record[0]
            if tag == "report" and kind is None and len(record) == 4:
                kind = record[2]
            elif tag == "as_of" and len(record) == 3:
                as_of = {"recorded_by": record[1], "occurred_by": record[2] or None}
            elif tag == "input" and len(record) == 4:
                inputs.append({"name": record[1], "type": record[2], "value": _csv_input(record[2], record[3])})
            else:
                break
    except (UnicodeDecodeError, csv.Error) as e:
        raise UnreadableInputs(f"the CSV header cannot be read: {e}") from e
    if kind is None or as_of is None:
        raise UnreadableInputs("the CSV lacks its report or as_of record")
    request = request_from_json({"as_of": as_of, "format": FORMAT_VERSION, "inputs": inputs, "kind": kind})
    tail_at = data.rfind(b"\r\ndigest,sha256,")
    if tail_at < 0 or not data.endswith(b"\r\n"):
        raise UnreadableInputs("the CSV lacks its trailing digest record")
    digest = _decode(data[tail_at + len(b"\r\ndigest,sha256,") : -2], "the CSV digest record")
    return request, _hex_digest(digest, "the CSV digest record")


def _read_pdf(data: bytes) -> tuple[ReportRequest, str]:
    import logging

    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        attachments = reader.attachments
        metadata = reader.metadata
        recorded = None if metadata is None else metadata.get("/reportdigest")
        payload = attachments.get(PDF_INPUTS_ATTACHMENT)
    except Exception as e:  # a damaged PDF can fail in many ways inside the parser
        raise UnreadableInputs(f"the PDF cannot be read: {e!r}") from e
    if not payload:
        raise UnreadableInputs(f"the PDF has no embedded {PDF_INPUTS_ATTACHMENT}")
    request = request_from_json(_load_json(_decode(payload[0], "the embedded inputs"), "the embedded inputs"))
    if not isinstance(recorded, str) or not recorded.startswith("sha256:"):
        raise UnreadableInputs("the PDF has no reportdigest metadata")
    return request, _hex_digest(recorded.removeprefix("sha256:"), "the PDF's reportdigest")


_READERS: dict[Format, Callable[[bytes], tuple[ReportRequest, str]]] = {
    Format.HTML: _read_html,
    Format.JSON: _read_json,
    Format.CSV: _read_csv,
    Format.PDF: _read_pdf,
}


def read_recorded(data: bytes) -> tuple[Format, ReportRequest, str]:
    """The format, recorded request and recorded digest of a report file; raises UnreadableInputs."""
    fmt = detect_format(data)
    if fmt is None:
        raise UnreadableInputs("not a report file in any known format (HTML, PDF, CSV, JSON)")
    request, digest = _READERS[fmt](data)
    return fmt, request, digest


class _Comparer:
    """A write target that compares what is written with the expected bytes, without copying them."""

    def __init__(self, expected: bytes) -> None:
        self._expected = memoryview(expected)
        self.position = 0
        self.first_difference: int | None = None

    def __call__(self, chunk: bytes) -> None:
        if self.first_difference is None:
            end = self.position + len(chunk)
            if self._expected[self.position : end] != chunk:
                limit = min(end, len(self._expected))
                offset = next(
                    (i for i in range(self.position, limit) if self._expected[i] != chunk[i - self.position]), limit
                )
                self.first_difference = offset
        self.position += len(chunk)

    def finish(self) -> None:
        if self.first_difference is None and self.position != len(self._expected):
            self.first_difference = min(self.position, len(self._expected))


def verify(file_bytes: bytes, regenerate: Regenerate) -> Verification:
    """Checks that ``file_bytes`` is exactly the report the registry produces for its recorded inputs.

    ``regenerate`` builds the report for a :class:`ReportRequest` (the report builders' entry point,
    reading the store at the recorded as-of time and log position); errors it raises propagate. The
    regenerated report must answer the same request, else the result is a mismatch saying so.
    """
    try:
        fmt, request, recorded = read_recorded(file_bytes)
    except UnreadableInputs as e:
        return Verification(False, detect_format(file_bytes), None, None, None, None, str(e))
    report = regenerate(request)
    if report.request != request:
        return Verification(
            False, fmt, request, recorded, None, None, "the regenerated report answers a different request"
        )
    comparer = _Comparer(file_bytes)
    rendered = render(report, fmt, comparer)
    comparer.finish()
    if comparer.first_difference is None:
        reason = f"the {fmt.value.upper()} file is byte for byte the report regenerated from its recorded inputs"
        if recorded != rendered.digest:  # cannot happen when every byte matches; kept as a guard
            reason = "the bytes match but the recorded digest does not"
        return Verification(recorded == rendered.digest, fmt, request, recorded, rendered.digest, None, reason)
    if recorded != rendered.digest:
        reason = (
            f"the content differs: the file states digest {recorded}, the registry's report for the same inputs has "
            f"{rendered.digest}; first differing byte at offset {comparer.first_difference}"
        )
    else:
        reason = (
            "the content digest matches but the file's bytes differ from the registry's rendering "
            f"(first differing byte at offset {comparer.first_difference})"
        )
    return Verification(False, fmt, request, recorded, rendered.digest, comparer.first_difference, reason)
