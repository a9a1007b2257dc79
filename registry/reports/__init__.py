"""Audit reports: a format-independent document model and its deterministic renderers.

Build a :class:`Report` (header: kind, title, :class:`AsOf`, named inputs; :class:`Section`\\ s of
:class:`Paragraph`, :class:`Summary`, :class:`Table`, :class:`Chart` blocks), then
:func:`render` it as HTML, PDF, CSV or JSON: the same Report gives the same bytes every time.
Every format carries the report's SHA-256 content digest (:func:`content_digest`, defined in
:mod:`registry.reports.content`) and its inputs, machine-readably; :func:`verify` reads them back
from a file, regenerates the report through a callable and compares byte for byte.

Importing this package does no work; ReportLab is loaded only when a PDF is rendered.
"""

from registry.reports.content import UnreadableInputs, content_digest
from registry.reports.model import (
    FORMAT_VERSION,
    AsOf,
    Cell,
    Chart,
    ChartKind,
    Column,
    ColumnType,
    InputValue,
    InvalidReport,
    Paragraph,
    Report,
    ReportRequest,
    Row,
    Section,
    Series,
    Summary,
    SummaryItem,
    Table,
)
from registry.reports.render import Format, Rendered, iter_bytes, render, render_bytes
from registry.reports.verify import Verification, read_recorded, verify

__all__ = [
    "FORMAT_VERSION",
    "AsOf",
    "Cell",
    "Chart",
    "ChartKind",
    "Column",
    "ColumnType",
    "Format",
    "InputValue",
    "InvalidReport",
    "Paragraph",
    "Rendered",
    "Report",
    "ReportRequest",
    "Row",
    "Section",
    "Series",
    "Summary",
    "SummaryItem",
    "Table",
    "UnreadableInputs",
    "Verification",
    "content_digest",
    "iter_bytes",
    "read_recorded",
    "render",
    "render_bytes",
    "verify",
]
