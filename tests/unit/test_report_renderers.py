"""HTML, CSV and JSON renderers: deterministic bytes, agreeing totals, and verify() catching any change."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from registry.reports import (
    AsOf,
    Chart,
    ChartKind,
    Column,
    ColumnType,
    Format,
    Report,
    ReportRequest,
    Section,
    Series,
    Table,
    content_digest,
    iter_bytes,
    read_recorded,
    render,
    render_bytes,
    verify,
)
from registry.reports.charts import render_chart_svg
from registry.reports.sample import AS_OF, sample_report, sample_request
from tests.report_files import display_number, json_summaries, json_tables, parse_csv, parse_html, parse_json

TEXT_FORMATS = (Format.HTML, Format.CSV, Format.JSON)
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_two_renders_of_the_same_report_are_byte_identical(fmt: Format) -> None:
    assert render_bytes(sample_report(), fmt) == render_bytes(sample_report(), fmt)


def test_a_render_in_another_process_with_another_hash_seed_zone_and_locale_is_byte_identical() -> None:
    script = (
        "import hashlib, sys\n"
        "from registry.reports import render_bytes\n"
        "from registry.reports.sample import sample_report\n"
        "for f in ('html', 'csv', 'json'):\n"
        "    print(f, hashlib.sha256(render_bytes(sample_report(), f)).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "TZ": "Asia/Seoul", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    import hashlib

    here = "".join(
        f"{f} {hashlib.sha256(render_bytes(sample_report(), f)).hexdigest()}\n" for f in ("html", "csv", "json")
    )
    assert out == here


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_render_reports_the_digest_and_the_byte_count(fmt: Format) -> None:
    buffer = io.BytesIO()
    rendered = render(sample_report(), fmt, buffer)
    assert rendered.digest == content_digest(sample_report())
    assert rendered.size == len(buffer.getvalue())
    assert rendered.format is fmt


def test_every_format_shows_the_digest() -> None:
    digest = content_digest(sample_report())
    html = render_bytes(sample_report(), Format.HTML)
    parsed = parse_html(html)
    assert parsed.meta["report-digest"] == f"sha256:{digest}"
    assert f"sha256:{digest}" in parsed.meta["keywords"]
    assert parsed.digest_text == f"sha256:{digest}"
    assert parse_csv(render_bytes(sample_report(), Format.CSV)).records[-1] == ["digest", "sha256", digest]
    assert parse_json(render_bytes(sample_report(), Format.JSON))["digest"] == digest


def test_the_csv_is_rfc_4180() -> None:
    report = Report(
        "k",
        'Quotes "and", commas',
        AsOf(AS_OF),
        sections=(Section("S", (Table("T", (Column("a", "A"),), (('say "hi", then\nleave',), ("plain",))),)),),
    )
    data = render_bytes(report, Format.CSV)
    assert data.endswith(b"\r\n")
    assert b'"Quotes ""and"", commas"' in data
    assert b'row,"say ""hi"", then\nleave"\r\n' in data
    lines_outside_quotes = data.replace(b'"say ""hi"", then\nleave"', b"").split(b"\r\n")
    assert all(b"\n" not in line for line in lines_outside_quotes)
    records = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert ["row", 'say "hi", then\nleave'] in records


def test_csv_and_json_agree_with_the_totals_the_html_shows() -> None:
    html = parse_html(render_bytes(sample_report(), Format.HTML))
    csv_report = parse_csv(render_bytes(sample_report(), Format.CSV))
    doc = parse_json(render_bytes(sample_report(), Format.JSON))
    tables = json_tables(doc)

    checked = 0
    for title in ("Units by partner and stage", "Compute held and allocation used", "Site power"):
        html_table = html.table(title)
        csv_table = csv_report.table(title)
        json_table = tables[title]
        assert html_table.total is not None
        assert csv_table.total is not None
        assert len(html_table.rows) == len(csv_table.rows) == len(json_table["rows"])
        for i, column in enumerate(json_table["columns"]):
            if not column["total"]:
                continue
            shown = display_number(html_table.total[i])
            assert shown == Decimal(csv_table.total[i]) == Decimal(str(json_table["totals"][i]))
            # and the totals are the sums of the rows the HTML shows
            assert shown == sum(display_number(row[i]) for row in html_table.rows)
            checked += 1
    assert checked == 9 + 4 + 3

    summaries = json_summaries(doc)
    summary_csv = {row[0]: row[1] for row in csv_report.table("Key totals").rows}
    for label, shown in html.tiles.items():
        assert display_number(shown) == Decimal(str(summaries[label])) == Decimal(summary_csv[label])
    assert display_number(html.tiles["Units registered"]) == 260_000
    assert html.table("Units by partner and stage").total[-1] == "260,000"  # type: ignore[index]


def test_the_json_file_is_canonical() -> None:
    data = render_bytes(sample_report(), Format.JSON)
    doc = json.loads(data)
    assert data == (json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def test_every_text_format_records_the_request_it_answers() -> None:
    for fmt in TEXT_FORMATS:
        detected, request, digest = read_recorded(render_bytes(sample_report(), fmt))
        assert detected is fmt
        assert request == sample_request()
        assert digest == content_digest(sample_report())


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_verify_accepts_the_untouched_file(fmt: Format) -> None:
    result = verify(render_bytes(sample_report(), fmt), sample_report)
    assert result.matches, result.reason
    assert result.digests_match
    assert result.format is fmt
    assert result.request == sample_request()
    assert result.first_difference is None


def _flip(data: bytes, offset: int) -> bytes:
    changed = bytearray(data)
    changed[offset] ^= 0x01
    return bytes(changed)


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_verify_detects_a_one_byte_change_anywhere_in_the_file(fmt: Format) -> None:
    data = render_bytes(sample_report(), fmt)
    offsets = sorted({*range(0, len(data), max(1, len(data) // 60)), len(data) - 1, len(data) - 3})
    for offset in offsets:
        result = verify(_flip(data, offset), sample_report)
        assert not result.matches, f"a change at offset {offset} went unnoticed"
        assert result.reason


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_verify_detects_a_changed_number_and_says_where(fmt: Format) -> None:
    data = render_bytes(sample_report(), fmt)
    needle = {Format.HTML: b">25,400<", Format.CSV: b",25400,", Format.JSON: b",25400,"}[fmt]
    at = data.index(needle) + 2
    tampered = data[:at] + b"6" + data[at + 1 :]  # 25,400 -> 26,400 (or 25400 -> 26400)
    result = verify(tampered, sample_report)
    assert not result.matches
    assert result.first_difference == at
    assert result.regenerated_digest == content_digest(sample_report())


def test_verify_detects_a_changed_recorded_input_through_the_regenerated_report() -> None:
    data = render_bytes(sample_report(), Format.JSON)
    tampered = data.replace(b'"value":1482907', b'"value":1482906', 1)
    assert tampered != data
    result = verify(tampered, sample_report)
    assert not result.matches
    assert result.request is not None
    assert result.request["Log position"] == 1482906
    assert not result.digests_match


def test_verify_says_when_a_file_is_not_a_report() -> None:
    result = verify(b"hello", sample_report)
    assert not result.matches
    assert result.format is None
    assert "not a report file" in result.reason


def test_verify_says_when_the_regenerated_report_answers_another_request() -> None:
    data = render_bytes(sample_report(), Format.HTML)
    other = ReportRequest("ownership", AsOf(AS_OF), {"Log position": 1})
    result = verify(data, lambda _request: sample_report(other))
    assert not result.matches
    assert "different request" in result.reason


def test_a_streamed_table_and_a_tuple_table_render_the_same_bytes() -> None:
    rows = tuple((f"p{i}", i) for i in range(50))
    columns = (Column("p", "Partner"), Column("n", "Units", ColumnType.INT, total=True))

    def report(source: object) -> Report:
        return Report("k", "t", AsOf(AS_OF), sections=(Section("s", (Table("T", columns, source),)),))  # type: ignore[arg-type]

    for fmt in TEXT_FORMATS:
        assert render_bytes(report(rows), fmt) == render_bytes(report(lambda: iter(rows)), fmt)


def test_html_escapes_text_everywhere() -> None:
    nasty = '</script><script>alert("x")</script> & <b>'
    report = Report(
        "k",
        nasty,
        AsOf(AS_OF),
        inputs={"filter": nasty},
        sections=(Section(nasty, (Table(nasty, (Column("a", nasty),), ((nasty,),)),)),),
    )
    data = render_bytes(report, Format.HTML)
    assert b"<script>alert" not in data
    assert data.count(b"</script>") == 1  # only the inputs script's own end tag
    assert verify(data, lambda request: Report("k", nasty, request.as_of, request.inputs, report.sections)).matches


def test_the_chart_svg_has_axes_legend_and_value_labels() -> None:
    chart = Chart(
        ChartKind.BAR,
        "Power",
        ("Icheon", "Pyeongtaek"),
        (Series("In use", (Decimal("22.4"), Decimal("49.2"))), Series("Capacity", (35, 60))),
        x_title="Site",
        y_title="Power",
        unit="MW",
    )
    svg = render_chart_svg(chart)
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and svg.endswith("</svg>")
    for text in (">Power (MW)<", ">Site<", ">In use<", ">Capacity<", ">22.4<", ">49.2<", ">60<", ">Icheon<"):
        assert text in svg, text
    assert svg == render_chart_svg(chart)


@pytest.mark.parametrize("kind", list(ChartKind))
def test_every_chart_kind_renders_many_categories_without_error(kind: ChartKind) -> None:
    months = tuple(f"2026-{m:02d}-01 long label {m}" for m in range(1, 49))
    chart = Chart(kind, "Many", months, (Series("A", tuple(range(48))), Series("B", tuple(range(48, 0, -1)))))
    svg = render_chart_svg(chart)
    assert svg.count("long label") >= 12  # labels are rotated, and thinned out when even that would overlap
    assert ">A<" in svg and ">B<" in svg


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_a_report_streamed_in_chunks_is_the_same_bytes(fmt: Format) -> None:
    chunks = list(iter_bytes(sample_report(), fmt, chunk_size=1000))
    assert all(0 < len(c) <= 1000 for c in chunks)
    assert len(chunks) > 3
    assert b"".join(chunks) == render_bytes(sample_report(), fmt)
