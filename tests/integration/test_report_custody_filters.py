"""The chain of custody is an artefact of its own: the custody report filtered to a batch, a serial or a
period of business time (and, like every report, a partner or an authorization), stated in its inputs,
refused with a clear error on bad input, and verified byte for byte from the inputs it records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from registry.cli import app
from registry.domain.errors import InvalidField
from registry.reports import Format, render_bytes, verify
from registry.reports.builders import ReportSession
from tests.builders import T0
from tests.integration.report_world import DAY, ReportWorld, phase_one
from tests.report_files import parse_html

runner = CliRunner()


@pytest.fixture
def world(sqlite_url: str) -> Iterator[ReportWorld]:
    w = phase_one(sqlite_url)
    yield w
    w.close()


def custody(world: ReportWorld, **filters: object) -> tuple[dict[str, object], list[str], bytes]:
    with ReportSession(world.store) as session:
        report = session.build("custody", **filters)  # type: ignore[arg-type]
        html = render_bytes(report, Format.HTML)
    titles = [t.title for t in parse_html(html).tables if t.title.startswith("Chain of custody of batch")]
    return report.request.as_dict(), titles, html  # type: ignore[return-value]


def events(html: bytes, po: str) -> list[list[str]]:
    return parse_html(html).table(f"Chain of custody of batch {po}").rows


def test_the_batch_filter_keeps_one_batch_by_id_or_po_number(world: ReportWorld) -> None:
    inputs, titles, _ = custody(world, batch="PO-B")
    assert titles == ["Chain of custody of batch PO-B"]
    assert inputs["Batch filter"] == world.batch_b
    assert custody(world, batch=str(world.batch_b))[1] == titles


def test_the_serial_filter_keeps_the_serials_events_and_the_batch_wide_ones(world: ReportWorld) -> None:
    serial = world.serials_a[50]  # shipped in SHP-A2, never installed or assigned
    inputs, titles, html = custody(world, serial=serial)
    assert inputs["Serial filter"] == serial
    assert titles == ["Chain of custody of batch PO-A"]
    kept = [row[1] for row in events(html, "PO-A")]
    assert kept == ["Ordered", "ClearanceRequested", "ClearanceGranted", "SerialsRegistered", "Shipped"]
    _, _, whole = custody(world)
    assert len(events(whole, "PO-A")) > len(kept)


def test_the_period_filter_keeps_the_events_that_occurred_in_it(world: ReportWorld) -> None:
    start, end = T0 + 8 * DAY, T0 + 10 * DAY
    inputs, titles, html = custody(world, occurred_from=start, occurred_to=end)
    assert (inputs["Occurred from"], inputs["Occurred to"]) == (start, end)
    for title in titles:
        for row in parse_html(html).table(title).rows:
            occurred = row[2]
            assert start.strftime("%Y-%m-%d") <= occurred[:10] <= end.strftime("%Y-%m-%d"), row
    assert [row[1] for row in events(html, "PO-A")] == ["Received", "Installed"]


def test_custody_filters_are_refused_for_other_reports_and_when_wrong(world: ReportWorld) -> None:
    with ReportSession(world.store) as session:
        with pytest.raises(InvalidField, match="batch"):
            session.build("compliance", batch="PO-A")
        with pytest.raises(InvalidField, match="PO-Z"):
            session.build("custody", batch="PO-Z")
        with pytest.raises(InvalidField, match="occurred_from"):
            session.build("custody", occurred_from=T0 + 5 * DAY, occurred_to=T0)


def test_a_filtered_custody_pdf_verifies_from_its_recorded_filters(world: ReportWorld, tmp_path: Path) -> None:
    out = tmp_path / "custody.pdf"
    result = runner.invoke(app, [
        "report", "custody", "--database-url", world.url, "--format", "pdf", "--out", str(out), "--quiet",
        "--batch", "PO-A", "--serial", world.serials_a[3], "--occurred-from", "2026-03-01",
        "--as-of", world.recorded_by.isoformat(),
    ])
    assert result.exit_code == 0, result.output
    with ReportSession(world.store) as session:
        checked = verify(out.read_bytes(), session.regenerate)
    assert checked.matches, checked.reason
    assert checked.request is not None and checked.request["Serial filter"] == world.serials_a[3]
    result = runner.invoke(app, ["report", "custody", "--database-url", world.url, "--batch", "PO-Z"])
    assert result.exit_code == 2 and "batch" in result.output


def test_an_onward_movements_recipient_is_named_except_another_partys_in_a_report_for_a_partner(
    world: ReportWorld,
) -> None:
    from registry.application import commands as c

    w = world.w
    for serial, recipient in ((world.serials_a[0], w.samsung), (world.serials_a[1], w.naver)):
        w.do("record_onward_movement", c.RecordOnwardMovement, batch_id=world.batch_a, kind="transshipment",
             country="SG", place="Port of Singapore", note="", recipient_id=recipient, serials=[serial],
             occurred_at=T0 + 30 * DAY)

    def described(**filters: object) -> list[str]:
        _, _, html = custody(world, batch="PO-A", **filters)
        return [row[-1] for row in events(html, "PO-A") if row[1] == "OnwardMovementRecorded"]

    assert described() == ["known transshipment to Port of Singapore, SG; recipient Samsung Electronics",
                           "known transshipment to Port of Singapore, SG; recipient NAVER Cloud"]
    # filtered to Samsung (a partner's call always is): NAVER's receipt of units is not Samsung's to learn
    assert described(partner=str(w.samsung)) == [
        "known transshipment to Port of Singapore, SG; recipient Samsung Electronics",
        "known transshipment to Port of Singapore, SG"]
