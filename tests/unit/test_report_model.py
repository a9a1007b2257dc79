"""The report model: what it refuses, its canonical content and its digest."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import pytest

from registry.reports import (
    AsOf,
    Chart,
    ChartKind,
    Column,
    ColumnType,
    InvalidReport,
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
)
from registry.reports.charts import nice_scale
from registry.reports.content import request_from_json, request_json, write_content
from registry.reports.sample import sample_report, sample_request

T = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def small_report(units: int = 100, *, title: str = "Small") -> Report:
    return Report(
        kind="ownership",
        title=title,
        as_of=AsOf(recorded_by=T),
        inputs={"Log position": 42},
        sections=(
            Section(
                "Units",
                (
                    Paragraph("Units by partner."),
                    Table(
                        "By partner",
                        (Column("partner", "Partner"), Column("units", "Units", ColumnType.INT, total=True)),
                        (("Samsung", units), ("SK Group", 50)),
                    ),
                ),
            ),
        ),
    )


def content_text(report: Report) -> str:
    parts: list[str] = []
    write_content(report, parts.append)
    return "".join(parts)


def test_a_float_cell_is_refused_naming_the_table_row_and_column() -> None:
    table = Table("Power", (Column("site", "Site"), Column("mw", "MW", ColumnType.DECIMAL)), (("Icheon", 1.5),))
    with pytest.raises(InvalidReport, match=r"table 'Power' row 0 column 'mw': a decimal cell cannot hold float"):
        list(table.iter_rows())


def test_a_row_with_the_wrong_number_of_cells_is_refused() -> None:
    table = Table("T", (Column("a", "A"), Column("b", "B")), (("x",),))
    with pytest.raises(InvalidReport, match=r"row 0: has 1 cells, the table has 2 columns"):
        list(table.iter_rows())


def test_a_naive_datetime_is_refused_because_it_has_no_utc_time() -> None:
    with pytest.raises(InvalidReport, match=r"as_of.recorded_by: must be timezone-aware"):
        AsOf(recorded_by=datetime(2026, 1, 1))


def test_a_one_shot_generator_is_refused_with_the_remedy_in_the_message() -> None:
    rows = (r for r in [("a",)])
    with pytest.raises(InvalidReport, match="generator function instead of the generator"):
        Table("T", (Column("a", "A"),), rows)


def test_only_numeric_columns_can_be_totalled() -> None:
    with pytest.raises(InvalidReport, match=r"column 'name': only int and decimal columns can be totalled"):
        Column("name", "Name", ColumnType.TEXT, total=True)


def test_a_chart_series_must_have_one_value_per_category() -> None:
    with pytest.raises(InvalidReport, match=r"chart 'C' series 'Units': has 1 values for 2 categories"):
        Chart(ChartKind.BAR, "C", ("a", "b"), (Series("Units", (1,)),))


def test_a_stacked_bar_chart_refuses_negative_values() -> None:
    with pytest.raises(InvalidReport, match="cannot stack negative values"):
        Chart(ChartKind.STACKED_BAR, "C", ("a",), (Series("Units", (-1,)),))


def test_a_block_that_is_not_a_report_block_is_refused_when_read() -> None:
    section = Section("S", ("just a string",))  # type: ignore[arg-type]
    with pytest.raises(InvalidReport, match=r"section 'S' blocks\[0\]: must be a Paragraph"):
        list(section.iter_blocks())


def test_datetimes_in_any_zone_are_normalised_to_utc() -> None:
    seoul = timezone(timedelta(hours=9))
    as_of = AsOf(recorded_by=datetime(2026, 7, 1, 8, 0, tzinfo=seoul))
    assert as_of.recorded_by == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)
    assert as_of.recorded_by.tzinfo is UTC


def test_the_recorded_inputs_round_trip_with_their_types() -> None:
    request = ReportRequest(
        kind="compliance",
        as_of=AsOf(recorded_by=T, occurred_by=T - timedelta(days=1)),
        inputs=(
            ("position", 17),
            ("threshold", Decimal("2.50")),
            ("since", T),
            ("partner", UUID(int=7)),
            ("rulesets", ("ear-2026.3", "kr-fta-2026.1")),
            ("filter", None),
            ("store", "sqlite"),
        ),
    )
    back = request_from_json(json.loads(json.dumps(request_json(request))))
    assert back == request
    assert back["threshold"] == Decimal("2.50")
    assert back.get("missing", "default") == "default"


def test_the_content_is_canonical_json() -> None:
    text = content_text(sample_report())
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_the_digest_is_the_sha256_of_the_canonical_content() -> None:
    report = sample_report()
    assert content_digest(report) == hashlib.sha256(content_text(report).encode()).hexdigest()


def test_the_digest_is_stable_across_reports_built_twice() -> None:
    assert content_digest(sample_report()) == content_digest(sample_report())
    assert content_digest(small_report()) == content_digest(small_report())


def test_the_digest_changes_when_a_number_a_title_or_an_input_changes() -> None:
    base = content_digest(small_report())
    assert content_digest(small_report(units=101)) != base
    assert content_digest(small_report(title="Small.")) != base
    other_position = ReportRequest(kind="ownership", as_of=AsOf(T), inputs={"Log position": 43})
    assert content_digest(sample_report(other_position)) != content_digest(sample_report())


def test_the_json_file_states_the_digest_of_its_report_member() -> None:
    doc = json.loads(render_bytes(sample_report(), "json"))
    canonical = json.dumps(doc["report"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert doc["digest_algorithm"] == "sha256"
    assert doc["digest"] == hashlib.sha256(canonical.encode()).hexdigest()


def test_decimals_keep_their_scale_and_never_use_exponents() -> None:
    report = Report(
        "k",
        "t",
        AsOf(T),
        sections=(
            Section("s", (Summary("Totals", (SummaryItem("a", Decimal("1E+3")), SummaryItem("b", Decimal("2.50")))),)),
        ),
    )
    items = json.loads(content_text(report))["sections"][0]["blocks"][0]["items"]
    assert [i["value"] for i in items] == ["1000", "2.50"]


def test_summary_and_input_values_refuse_floats_and_bools() -> None:
    with pytest.raises(InvalidReport, match="float is not a report value"):
        SummaryItem("x", 1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidReport, match="bool is not a report value"):
        ReportRequest("k", AsOf(T), {"flag": True})


def test_the_chart_scale_uses_round_steps_that_cover_the_data() -> None:
    scale = nice_scale(Decimal(0), Decimal(60_000))
    assert (scale.low, scale.high, scale.step) == (0, 60_000, 20_000)
    assert scale.ticks() == [0, 20_000, 40_000, 60_000]
    scale = nice_scale(Decimal(0), Decimal("70.0"))
    assert scale.high >= Decimal("70.0")
    assert scale.ticks()[-1] == scale.high
    scale = nice_scale(Decimal(-3), Decimal(7))
    assert scale.low <= -3
    assert scale.high >= 7


def test_the_sample_request_is_what_the_sample_report_answers() -> None:
    assert sample_report().request == sample_request()
