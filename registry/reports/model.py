"""The report document model: what a report says, independent of the format it is printed in.

One concept: the report document model, one tree of frozen dataclasses kept together so that every
renderer reads one vocabulary.

A :class:`Report` is a tree of frozen dataclasses: a header (kind, title, the as-of times and the
inputs that produced it) and :class:`Section`\\ s holding blocks in order: :class:`Paragraph`,
:class:`Summary` (labelled values), :class:`Table` (typed columns, rows) and :class:`Chart` (bar,
stacked bar or line), or nested sections.

Large parts stream. ``Report.sections``, ``Section.blocks`` and ``Table.rows`` each accept either a
sequence (a tuple or list) or a *row source*: a zero-argument callable that returns a fresh iterable
each time it is called, such as a generator function or ``lambda: projection.iter_rows(...)``.
Renderers read a report twice (once to compute its digest, which the HTML head and the JSON field
carry before the content, once to write it), so a one-shot iterator (a generator *object*) is
refused with :class:`InvalidReport`: pass the function, not its result. A row source must give the
same rows on every call (an as-of report reads a fixed log position, so it does).

Cells are typed by their column: ``text`` (str), ``int`` (int, not bool), ``decimal``
(:class:`~decimal.Decimal` or int), ``datetime`` (timezone-aware :class:`~datetime.datetime`, written in
UTC) and ``uuid`` (:class:`~uuid.UUID`); ``None`` is an empty cell in any column. Floats are refused
everywhere: every number in a report has an exact decimal representation, so every renderer writes
the same digits on every machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TypeAlias, TypeVar
from uuid import UUID

FORMAT_VERSION = "gpureg-report/1"
"""Names the content schema and the rendering rules; part of the digested content."""

Cell: TypeAlias = str | int | Decimal | datetime | UUID | None
"""One table cell, summary value or input value."""

Number: TypeAlias = int | Decimal
"""A chart value."""

InputValue: TypeAlias = str | int | Decimal | datetime | UUID | tuple[str, ...] | None
"""A report input: a cell value, or a tuple of strings (for example a list of ruleset versions)."""

Row: TypeAlias = Sequence[Cell]

T = TypeVar("T")
Source: TypeAlias = Sequence[T] | Callable[[], Iterable[T]]
"""A sequence, or a zero-argument callable returning a fresh iterable on every call."""


class InvalidReport(ValueError):
    """A report (or a part of it) breaks a rule of the model; the message names the field and the rule."""

    def __init__(self, where: str, rule: str) -> None:
        super().__init__(f"{where}: {rule}")
        self.where = where
        self.rule = rule


class ColumnType(StrEnum):
    TEXT = "text"
    INT = "int"
    DECIMAL = "decimal"
    DATETIME = "datetime"
    UUID = "uuid"

    @property
    def numeric(self) -> bool:
        return self in (ColumnType.INT, ColumnType.DECIMAL)


class ChartKind(StrEnum):
    BAR = "bar"  # one bar per series in each category (grouped when there are several series)
    STACKED_BAR = "stacked_bar"  # the series stacked in each category, the total on top
    LINE = "line"  # one line per series across the categories (for example months)


_NONE = type(None)
_EXACT_TYPES: dict[ColumnType, type] = {
    ColumnType.TEXT: str,
    ColumnType.INT: int,
    ColumnType.DECIMAL: Decimal,
    ColumnType.DATETIME: datetime,
    ColumnType.UUID: UUID,
}
_FAST_TYPES: dict[ColumnType, frozenset[type]] = {
    ColumnType.TEXT: frozenset({str, _NONE}),
    ColumnType.INT: frozenset({int, _NONE}),
    ColumnType.DECIMAL: frozenset({Decimal, _NONE}),
    ColumnType.DATETIME: frozenset({datetime, _NONE}),
    ColumnType.UUID: frozenset({UUID, _NONE}),
}


def _is_utc_or_none(value: Cell) -> bool:
    return value is None or (isinstance(value, datetime) and value.tzinfo is UTC)


def _is_finite_or_none(value: Cell) -> bool:
    return value is None or (isinstance(value, Decimal) and value.is_finite())


def _check_text(where: str, value: object, *, empty: bool = False) -> None:
    if not isinstance(value, str):
        raise InvalidReport(where, f"must be a string, got {type(value).__name__}")
    if not empty and not value.strip():
        raise InvalidReport(where, "must not be empty")


def check_datetime(where: str, value: object) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidReport(where, f"must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidReport(where, "must be timezone-aware (a naive datetime has no defined UTC time)")
    return value.astimezone(UTC)


def check_cell(where: str, kind: ColumnType, value: object) -> Cell:
    """Validates one cell against its column type and returns it normalised (datetimes in UTC)."""
    if value is None:
        return None
    if kind is ColumnType.TEXT:
        if isinstance(value, str):
            return value
    elif kind is ColumnType.INT:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is ColumnType.DECIMAL:
        if isinstance(value, Decimal):
            if not value.is_finite():
                raise InvalidReport(where, f"a decimal must be finite, got {value}")
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return Decimal(value)
    elif kind is ColumnType.DATETIME:
        if isinstance(value, datetime):
            return check_datetime(where, value)
    elif kind is ColumnType.UUID and isinstance(value, UUID):
        return value
    raise InvalidReport(where, f"a {kind.value} cell cannot hold {type(value).__name__} {value!r}")


def cell_type_of(where: str, value: object) -> ColumnType | None:
    """The column type a bare value (a summary value or an input) is written as; None for None."""
    if value is None:
        return None
    if isinstance(value, (bool, float)):
        raise InvalidReport(where, f"{type(value).__name__} is not a report value (use int or Decimal)")
    if isinstance(value, str):
        return ColumnType.TEXT
    if isinstance(value, int):
        return ColumnType.INT
    if isinstance(value, Decimal):
        check_cell(where, ColumnType.DECIMAL, value)
        return ColumnType.DECIMAL
    if isinstance(value, datetime):
        check_datetime(where, value)
        return ColumnType.DATETIME
    if isinstance(value, UUID):
        return ColumnType.UUID
    raise InvalidReport(where, f"{type(value).__name__} is not a report value")


def _check_source(where: str, value: object) -> None:
    if isinstance(value, Iterator):
        raise InvalidReport(
            where,
            "a one-shot iterator cannot be read twice (the digest pass and the writing pass); "
            "pass a tuple or a zero-argument callable returning a fresh iterable, "
            "e.g. the generator function instead of the generator",
        )
    if isinstance(value, str | bytes) or not (isinstance(value, Sequence) or callable(value)):
        raise InvalidReport(where, "must be a sequence or a zero-argument callable returning an iterable")


def iterate(source: Source[T]) -> Iterator[T]:
    """A fresh iterator over a sequence or a row source."""
    if callable(source):
        produced = source()
        return iter(produced)
    return iter(source)


@dataclass(frozen=True)
class AsOf:
    """The two times a report is as of.

    ``recorded_by``: the report reflects what the registry had *recorded* by this time (events whose
    recorded timestamp is at or before it); the default basis, so a report printed last year is
    reproduced exactly today even though late facts arrived since. It also dates the PDF.
    ``occurred_by``: if given, only facts that had *happened* by this time (their business
    ``occurred_at``) count; None means no limit on occurrence time.
    """

    recorded_by: datetime
    occurred_by: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "recorded_by", check_datetime("as_of.recorded_by", self.recorded_by))
        if self.occurred_by is not None:
            object.__setattr__(self, "occurred_by", check_datetime("as_of.occurred_by", self.occurred_by))


def _normalise_inputs(where: str, inputs: object) -> tuple[tuple[str, InputValue], ...]:
    if isinstance(inputs, Mapping):
        pairs = list(inputs.items())
    elif isinstance(inputs, Sequence) and not isinstance(inputs, str):
        pairs = list(inputs)
    else:
        raise InvalidReport(where, "must be a mapping or a sequence of (name, value) pairs")
    out: list[tuple[str, InputValue]] = []
    seen: set[str] = set()
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise InvalidReport(f"{where}[{i}]", "must be a (name, value) pair")
        name, value = pair
        _check_text(f"{where}[{i}].name", name)
        if name in seen:
            raise InvalidReport(f"{where}.{name}", "appears twice")
        seen.add(name)
        if isinstance(value, list | tuple):
            for j, item in enumerate(value):
                _check_text(f"{where}.{name}[{j}]", item, empty=True)
            value = tuple(value)
        else:
            kind = cell_type_of(f"{where}.{name}", value)
            if kind is ColumnType.DATETIME:
                assert isinstance(value, datetime)
                value = check_datetime(f"{where}.{name}", value)
        out.append((name, value))
    return tuple(out)


@dataclass(frozen=True)
class ReportRequest:
    """What a report was generated from: enough to generate it again (see :func:`verify`).

    ``inputs`` are the report's named inputs in order (log position, filters, ruleset versions,
    screening snapshot hash, store description, ...); construct with a mapping or pairs.
    """

    kind: str
    as_of: AsOf
    inputs: tuple[tuple[str, InputValue], ...] = ()

    def __post_init__(self) -> None:
        _check_text("kind", self.kind)
        if not isinstance(self.as_of, AsOf):
            raise InvalidReport("as_of", f"must be an AsOf, got {type(self.as_of).__name__}")
        object.__setattr__(self, "inputs", _normalise_inputs("inputs", self.inputs))

    def get(self, name: str, default: InputValue = None) -> InputValue:
        for key, value in self.inputs:
            if key == name:
                return value
        return default

    def __getitem__(self, name: str) -> InputValue:
        for key, value in self.inputs:
            if key == name:
                return value
        raise KeyError(name)

    def as_dict(self) -> dict[str, InputValue]:
        return dict(self.inputs)


@dataclass(frozen=True)
class Paragraph:
    text: str

    def __post_init__(self) -> None:
        _check_text("paragraph.text", self.text)


@dataclass(frozen=True)
class SummaryItem:
    label: str
    value: Cell
    unit: str | None = None

    def __post_init__(self) -> None:
        _check_text("summary item label", self.label)
        kind = cell_type_of(f"summary item {self.label!r}", self.value)
        if kind is ColumnType.DATETIME:
            assert isinstance(self.value, datetime)
            object.__setattr__(self, "value", check_datetime(f"summary item {self.label!r}", self.value))
        if self.unit is not None:
            _check_text(f"summary item {self.label!r} unit", self.unit)


@dataclass(frozen=True)
class Summary:
    """Labelled values (key totals: units installed, open findings, ...), shown as a definition list."""

    title: str
    items: tuple[SummaryItem, ...]

    def __post_init__(self) -> None:
        _check_text("summary.title", self.title)
        items = tuple(self.items)
        for i, item in enumerate(items):
            if not isinstance(item, SummaryItem):
                raise InvalidReport(f"summary {self.title!r} items[{i}]", "must be a SummaryItem")
        object.__setattr__(self, "items", items)


@dataclass(frozen=True)
class Column:
    """A table column. ``total``: the renderers add a totals row summing this (int or decimal) column.
    ``empty``: what an empty cell means, printed instead of the dash in HTML and PDF (for example "not
    recorded"); CSV and JSON keep the empty value. A totalled column with ``empty`` whose cells are all
    empty has an empty total (printed as ``empty``), not 0."""

    key: str
    title: str
    type: ColumnType = ColumnType.TEXT
    unit: str | None = None
    total: bool = False
    empty: str | None = None

    def __post_init__(self) -> None:
        _check_text("column.key", self.key)
        _check_text(f"column {self.key!r} title", self.title)
        object.__setattr__(self, "type", ColumnType(self.type))
        if self.unit is not None:
            _check_text(f"column {self.key!r} unit", self.unit)
        if self.empty is not None:
            _check_text(f"column {self.key!r} empty", self.empty)
        if self.total and not self.type.numeric:
            raise InvalidReport(
                f"column {self.key!r}", f"only int and decimal columns can be totalled, not {self.type}"
            )


@dataclass(frozen=True)
class Table:
    """A table. ``rows``: a sequence of rows or a row source (see the module docstring); each row has
    one cell per column. ``total_label`` is written in the first column of the totals row when that
    column is not itself totalled."""

    title: str
    columns: tuple[Column, ...]
    rows: Source[Row] = ()
    total_label: str = "Total"
    note: str | None = None

    def __post_init__(self) -> None:
        _check_text("table.title", self.title)
        columns = tuple(self.columns)
        if not columns:
            raise InvalidReport(f"table {self.title!r} columns", "a table needs at least one column")
        keys = [c.key for c in columns]
        for i, column in enumerate(columns):
            if not isinstance(column, Column):
                raise InvalidReport(f"table {self.title!r} columns[{i}]", "must be a Column")
            if keys.count(column.key) > 1:
                raise InvalidReport(f"table {self.title!r} column {column.key!r}", "column keys must be unique")
        object.__setattr__(self, "columns", columns)
        _check_source(f"table {self.title!r} rows", self.rows)
        if isinstance(self.rows, list):
            object.__setattr__(self, "rows", tuple(self.rows))
        if self.note is not None:
            _check_text(f"table {self.title!r} note", self.note)

    @property
    def has_totals(self) -> bool:
        return any(c.total for c in self.columns)

    def iter_rows(self) -> Iterator[tuple[Cell, ...]]:
        """The rows, each checked against the columns and normalised; raises InvalidReport on a bad row.

        A row that is a tuple of exactly the column types (datetimes already in UTC) passes through
        a fast check without being copied; anything else is checked cell by cell and normalised."""
        width = len(self.columns)
        exact = tuple(_EXACT_TYPES[c.type] for c in self.columns)
        allowed = tuple(_FAST_TYPES[c.type] for c in self.columns)
        times = tuple(i for i, c in enumerate(self.columns) if c.type is ColumnType.DATETIME)
        decimals = tuple(i for i, c in enumerate(self.columns) if c.type is ColumnType.DECIMAL)
        index = -1
        for row in iterate(self.rows):
            index += 1
            fast = type(row) is tuple and (
                tuple(map(type, row)) == exact
                or (len(row) == width and all(map(frozenset.__contains__, allowed, map(type, row))))
            )
            if fast and times:
                fast = all(_is_utc_or_none(row[i]) for i in times)
            if fast and decimals:
                fast = all(_is_finite_or_none(row[i]) for i in decimals)
            if fast:
                yield tuple(row)  # already a tuple: no copy
                continue
            if isinstance(row, str | bytes) or not isinstance(row, Sequence):
                raise InvalidReport(f"table {self.title!r} row {index}", "must be a sequence of cells")
            if len(row) != width:
                raise InvalidReport(
                    f"table {self.title!r} row {index}", f"has {len(row)} cells, the table has {width} columns"
                )
            yield tuple(
                check_cell(f"table {self.title!r} row {index} column {c.key!r}", c.type, v)
                for c, v in zip(self.columns, row, strict=True)
            )


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[Number, ...]

    def __post_init__(self) -> None:
        _check_text("series.name", self.name)
        values = tuple(self.values)
        for i, v in enumerate(values):
            if isinstance(v, bool) or not isinstance(v, int | Decimal):
                raise InvalidReport(
                    f"series {self.name!r} values[{i}]", f"must be an int or a Decimal, got {type(v).__name__}"
                )
            if isinstance(v, Decimal) and not v.is_finite():
                raise InvalidReport(f"series {self.name!r} values[{i}]", "must be finite")
        object.__setattr__(self, "values", values)


@dataclass(frozen=True)
class Chart:
    """A chart: ``categories`` along the x axis (partners, sites, months), one value per category in
    each series. Bar charts group several series side by side; stacked bars stack them (values must
    not be negative); lines join each series' points. ``unit`` is appended to the y axis title and
    the value labels' legend. ``data_table``: also print the numbers as a table under the chart."""

    kind: ChartKind
    title: str
    categories: tuple[str, ...]
    series: tuple[Series, ...]
    x_title: str = ""
    y_title: str = ""
    unit: str | None = None
    data_table: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ChartKind(self.kind))
        _check_text("chart.title", self.title)
        where = f"chart {self.title!r}"
        categories = tuple(self.categories)
        series = tuple(self.series)
        if not categories:
            raise InvalidReport(f"{where} categories", "a chart needs at least one category")
        for i, c in enumerate(categories):
            _check_text(f"{where} categories[{i}]", c, empty=True)
        if not series:
            raise InvalidReport(f"{where} series", "a chart needs at least one series")
        for s in series:
            if not isinstance(s, Series):
                raise InvalidReport(f"{where} series", "must be Series")
            if len(s.values) != len(categories):
                raise InvalidReport(
                    f"{where} series {s.name!r}", f"has {len(s.values)} values for {len(categories)} categories"
                )
            if self.kind is ChartKind.STACKED_BAR and any(v < 0 for v in s.values):
                raise InvalidReport(f"{where} series {s.name!r}", "a stacked bar chart cannot stack negative values")
        names = [s.name for s in series]
        if len(set(names)) != len(names):
            raise InvalidReport(f"{where} series", "series names must be unique")
        _check_text(f"{where} x_title", self.x_title, empty=True)
        _check_text(f"{where} y_title", self.y_title, empty=True)
        if self.unit is not None:
            _check_text(f"{where} unit", self.unit)
        object.__setattr__(self, "categories", categories)
        object.__setattr__(self, "series", series)


Block: TypeAlias = "Paragraph | Summary | Table | Chart | Section"


@dataclass(frozen=True)
class Section:
    """A headed part of a report. ``blocks`` (in order) may be a sequence or a source (see above);
    a nested Section is a subsection. ``new_page``: start this section on a new page in print."""

    heading: str
    blocks: Source[Block] = ()
    new_page: bool = False

    def __post_init__(self) -> None:
        _check_text("section.heading", self.heading)
        _check_source(f"section {self.heading!r} blocks", self.blocks)
        if isinstance(self.blocks, list):
            object.__setattr__(self, "blocks", tuple(self.blocks))

    def iter_blocks(self) -> Iterator[Block]:
        for i, block in enumerate(iterate(self.blocks)):
            if not isinstance(block, Paragraph | Summary | Table | Chart | Section):
                raise InvalidReport(
                    f"section {self.heading!r} blocks[{i}]",
                    f"must be a Paragraph, Summary, Table, Chart or Section, got {type(block).__name__}",
                )
            yield block


@dataclass(frozen=True)
class Report:
    """A whole report.

    ``kind`` names the report type (``compliance``, ``ownership``, ``custody``); ``title`` is printed
    at the top; ``as_of`` and ``inputs`` are what produced it (no wall-clock time of generation:
    the same inputs give the same bytes). ``sections`` in order, a sequence or a source.
    """

    kind: str
    title: str
    as_of: AsOf
    inputs: tuple[tuple[str, InputValue], ...] = ()
    sections: Source[Section] = ()
    subtitle: str | None = None
    _request: ReportRequest = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        request = ReportRequest(kind=self.kind, as_of=self.as_of, inputs=self.inputs)
        object.__setattr__(self, "_request", request)
        object.__setattr__(self, "inputs", request.inputs)
        _check_text("title", self.title)
        if self.subtitle is not None:
            _check_text("subtitle", self.subtitle)
        _check_source("sections", self.sections)
        if isinstance(self.sections, list):
            object.__setattr__(self, "sections", tuple(self.sections))

    @property
    def request(self) -> ReportRequest:
        """The request this report answers; :func:`verify` hands it to ``regenerate``."""
        return self._request

    def iter_sections(self) -> Iterator[Section]:
        for i, section in enumerate(iterate(self.sections)):
            if not isinstance(section, Section):
                raise InvalidReport(f"sections[{i}]", f"must be a Section, got {type(section).__name__}")
            yield section
