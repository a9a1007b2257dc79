"""Report builders on a real store: as-of views, reproducible bytes, content, filters, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from registry.domain.errors import InvalidField
from registry.reports import AsOf, Format, Report, render_bytes
from registry.reports.builders import KINDS, ReportSession, parse_time
from registry.reports.builders.asof import AsOfView, last_recorded_at
from tests.builders import T0
from tests.integration.report_world import DAY, ReportWorld, phase_one, phase_two, reopen
from tests.report_files import display_number, json_summaries, json_tables, parse_csv, parse_html, parse_json

TEXT_FORMATS = (Format.HTML, Format.CSV, Format.JSON)


@pytest.fixture
def world(sqlite_url: str) -> Iterator[ReportWorld]:
    w = phase_one(sqlite_url)
    yield w
    w.close()


def build(world: ReportWorld, kind: str, **options: object) -> tuple[Report, dict[Format, bytes]]:
    with ReportSession(world.store) as session:
        report = session.build(kind, **options)  # type: ignore[arg-type]
        return report, {f: render_bytes(report, f) for f in TEXT_FORMATS}


def table(html: bytes, title: str) -> dict[str, list[str]]:
    """A table of the HTML report as {first cell: row}."""
    return {row[0]: row for row in parse_html(html).table(title).rows}


# ------------------------------------------------------------------ reproducibility
@pytest.mark.parametrize("kind", KINDS)
def test_a_report_for_an_earlier_time_regenerated_after_more_events_is_byte_identical(
    store_url: str, kind: str
) -> None:
    world = phase_one(store_url)
    try:
        _, before = build(world, kind, recorded_by=world.recorded_by)
        phase_two(world)
        _, again = build(world, kind, recorded_by=world.recorded_by)
        later = reopen(world)  # another process on the same store
        try:
            _, elsewhere = build(later, kind, recorded_by=world.recorded_by)
        finally:
            later.close()
        _, now = build(world, kind)
    finally:
        world.close()
    for fmt in TEXT_FORMATS:
        assert again[fmt] == before[fmt], f"{kind} {fmt} changed after more events were recorded"
        assert elsewhere[fmt] == before[fmt], f"{kind} {fmt} differs when read by another registry"
        assert now[fmt] != before[fmt], f"{kind} {fmt} as of now should show phase two"


@pytest.mark.parametrize("kind", KINDS)
def test_a_view_of_only_the_projections_a_report_reads_gives_the_bytes_of_the_whole_catalog(
    world: ReportWorld, kind: str
) -> None:
    from projections import catalog

    phase_two(world)
    _, needed = build(world, kind)
    with ReportSession(world.store, projections=catalog.report_names()) as session:
        report = session.build(kind)
        assert render_bytes(report, Format.JSON) == needed[Format.JSON]


def test_a_view_refuses_a_query_on_a_projection_it_did_not_replay(world: ReportWorld) -> None:
    from projections import catalog
    from registry.reports import AsOf

    with AsOfView(world.registry, AsOf(world.recorded_by), projections=catalog.select(["custody_trail"])) as view:
        with pytest.raises(LookupError, match="batch_inventory"):
            view.read_models.get_batch(world.batch_a)
        assert view.read_models.custody_trail(world.batch_a)


def test_the_default_as_of_time_is_when_the_registry_recorded_its_latest_event(world: ReportWorld) -> None:
    report, first = build(world, "ownership")
    _, second = build(world, "ownership")
    assert report.as_of.recorded_by == world.recorded_by
    assert report.as_of.occurred_by is None
    assert first == second


def test_a_report_states_its_inputs_without_paths_or_clock(world: ReportWorld) -> None:
    with ReportSession(world.store) as session:
        report = session.build("compliance", world.recorded_by, partner=world.w.samsung)
    inputs = report.request.as_dict()
    assert inputs["Partner filter"] == world.w.samsung
    assert inputs["Authorization filter"] is None
    assert inputs["Log position"] == world.registry.head()
    assert inputs["Events applied"] == world.registry.head()
    assert inputs["Ruleset versions"] == ("3A090-2023-11",)
    assert inputs["Country-group versions"] == ("ear-740-supp1-2025",)
    assert inputs["Screening snapshot"] is None
    assert inputs["Generated from"] == "SQLite event store registry.db"
    assert inputs["Report version"] == "gpureg compliance report 2"
    assert "/" not in str(inputs["Generated from"])


def test_the_screening_snapshot_in_force_is_an_input(world: ReportWorld) -> None:
    from registry.application import compliance_commands as cc

    content = b"name,source,addresses\nRed Dragon Holdings,Entity List,Shenzhen CN\n"
    world.registry.import_screening_list("officer", cc.ImportScreeningList(source="US CSL", content=content))
    with ReportSession(world.store) as session:
        report = session.build("custody")
    import hashlib

    assert report.request["Screening snapshot"] == (f"US CSL sha256:{hashlib.sha256(content).hexdigest()}",)


# --------------------------------------------------------------------- as-of times
def test_a_late_reported_receipt_is_absent_as_recorded_by_the_earlier_time_and_present_as_occurred_by_it(
    world: ReportWorld,
) -> None:
    """SHP-A2 (32 units) was received on day 7 but the receipt was recorded after ``recorded_by``."""
    phase_two(world)
    title = "Units by partner and stage"
    _, recorded = build(world, "ownership", recorded_by=world.recorded_by)
    _, occurred = build(world, "ownership", occurred_by=T0 + 13 * DAY)
    _, before_receipt = build(world, "ownership", occurred_by=T0 + 6 * DAY + timedelta(hours=12))
    columns = parse_html(recorded[Format.HTML]).table(title).header
    in_transit, received = columns.index("In transit"), columns.index("Received")

    samsung = table(recorded[Format.HTML], title)["Samsung Electronics"]
    assert (samsung[in_transit], samsung[received]) == ("32", "8")  # as recorded: still in transit

    samsung = table(occurred[Format.HTML], title)["Samsung Electronics"]
    assert (samsung[in_transit], samsung[received]) == ("0", "40")  # as occurred by day 13: received

    samsung = table(before_receipt[Format.HTML], title)["Samsung Electronics"]
    assert (samsung[in_transit], samsung[received]) == ("72", "0")  # day 6.5: both consignments in transit


def test_as_occurred_by_leaves_out_an_aggregates_later_events_once_one_is_left_out(world: ReportWorld) -> None:
    """The receipt of SHP-A1 (day 8) did not occur by day 7.5, so the later-recorded receipt of SHP-A2
    (day 7) is left out too: a batch's events are never applied out of their recorded order."""
    phase_two(world)
    with AsOfView(world.registry, _as_of(world, T0 + 7 * DAY + timedelta(hours=12))) as view:
        batch = view.read_models.get_batch(world.batch_a)
        assert batch is not None
        assert batch.summary.units_by_stage["in_transit"] == 72
        assert view.left_out > 0
        assert view.position == world.registry.head()


def _as_of(world: ReportWorld, occurred_by: datetime) -> object:
    from registry.reports import AsOf

    return AsOf(datetime.now(UTC), occurred_by)


def test_an_as_of_view_states_the_log_position_it_reached(world: ReportWorld) -> None:
    head = world.registry.head()
    phase_two(world)
    from registry.reports import AsOf

    with AsOfView(world.registry, AsOf(world.recorded_by)) as view:
        assert view.position == head
        assert view.applied == head
        assert view.left_out == 0


def test_a_command_whose_write_spans_the_as_of_time_is_left_out_whole(sqlite_url: str) -> None:
    """A grant writes ClearanceGranted, ExportAuthorization.Drawn and the request record in one
    transaction, each with its own recorded time; a time between them is before the commit."""
    from registry.application import commands as c
    from registry.bootstrap import build_registry
    from registry.config import Settings
    from registry.reports import AsOf
    from tests.builders import make_world

    registry = build_registry(Settings(database_url=sqlite_url))
    try:
        w = make_world(registry)
        batch = w.order(8, po_number="PO-T")
        w.do("request_clearance", c.RequestClearance, batch_id=batch, eccn="3A090.a", destination_country="KR",
             consignee_id=w.samsung, end_user_id=w.samsung, quantity=8, end_use="AI training",
             authorization_id=w.license, occurred_at=T0 + DAY)
        w.do("grant_clearance", c.GrantClearance, batch_id=batch, authorization_id=w.license,
             occurred_at=T0 + 2 * DAY, request_id="grant-PO-T")
        write = [(p, e) for p, e in registry.iter_log() if getattr(e, "request_id", "") == "grant-PO-T"]
        assert [type(e).__qualname__ for _, e in write] == [
            "GpuBatch.ClearanceGranted", "ExportAuthorization.Drawn", "RequestRecord.Handled"
        ]
        within = max(e.timestamp for _, e in write[:-1])
        committed = max(e.timestamp for _, e in write)
        assert within < committed
        with AsOfView(registry, AsOf(within)) as view:
            found = view.read_models.get_batch(batch)
            assert found is not None and found.clearance_status == "requested"
            assert view.position == write[0][0] - 1
            assert view.aggregate(w.license).drawn_quantity == 0
        with AsOfView(registry, AsOf(committed)) as view:
            found = view.read_models.get_batch(batch)
            assert found is not None and found.clearance_status == "granted"
            assert view.position == write[-1][0]
            assert view.aggregate(w.license).drawn_quantity == 8
    finally:
        registry.close()


def test_the_allocations_in_force_at_the_as_of_time_are_used(world: ReportWorld) -> None:
    phase_two(world)  # Samsung's allocation goes from 100 to 200
    title = "Compute held and allocation used"
    _, then = build(world, "ownership", recorded_by=world.recorded_by)
    _, now = build(world, "ownership")
    column = parse_html(then[Format.HTML]).table(title).header.index("Allocation")
    assert table(then[Format.HTML], title)["Samsung Electronics"][column] == "100"
    assert table(now[Format.HTML], title)["Samsung Electronics"][column] == "200"


# -------------------------------------------------------------------------- content
def test_the_ownership_report_counts_units_by_partner_stage_model_and_site(world: ReportWorld) -> None:
    _, files = build(world, "ownership")
    html = parse_html(files[Format.HTML])
    assert html.tiles["Units registered"] == "88 units"
    assert html.tiles["GPUs installed"] == "32 GPUs"
    by_stage = html.table("Units by partner and stage")
    assert by_stage.total == ["Total", "0", "48", "8", "16", "16", "0", "0", "0", "88"]
    sites = html.table("Units by partner, site and stage")
    at_site = next(r for r in sites.rows if r[1] == "Samsung Pyeongtaek AI Factory")
    assert at_site[-1] == "40"
    power = table(files[Format.HTML], "Site power against capacity")["Samsung Pyeongtaek AI Factory"]
    assert power[2:5] == ["32", "32", "20,000"]  # 32 B200 installed x 1,000 W = 32 kW of 20,000 kW
    months = html.table("Deployments by month")
    assert months.rows == [["2026-03", "40", "32", "40", "32"]]
    assert "<svg" in files[Format.HTML].decode()


def test_the_compliance_report_lists_each_shipment_with_its_eccn_authorization_parties_and_itn(
    world: ReportWorld,
) -> None:
    _, files = build(world, "compliance")
    html = files[Format.HTML]
    items = table(html, "Shipments: items, classification and authorization")
    assert items["SHP-A1"][1:8] == [
        "PO-A", "B200", "40", items["SHP-A1"][4], "3A090.a", "NLR-KR-3A090", "KR, Samsung Pyeongtaek AI Factory"
    ]
    assert items["SHP-A1"][4].endswith("(40)")
    filing = table(html, "Shipments: export filing, carrier and dates")
    assert filing["SHP-B1"][2:4] == ["X20260309000003", "Korean Air Cargo"]
    shipment_parties = table(html, "Shipments: parties")
    assert shipment_parties["SHP-B1"][1:] == [  # the exporter of record: the batch's supplier
        "PO-B", "NVIDIA Corporation", "NAVER Cloud", "Samsung Electronics", "NAVER Cloud", "NAVER Cloud",
        "Korean Air Cargo", "Korean Air Cargo"
    ]
    assert shipment_parties["SHP-A1"][4] == "" and shipment_parties["SHP-A1"][7] == ""  # none named
    items = table(html, "Shipments: part number, value, datacenter marketing and end use")
    assert [items["SHP-A1"][i] for i in (4, 5, 8)] == ["1,540,000.00", "USD", "AI training"]  # 40 units x 38,500
    terms = table(html, "Shipments: authorization and its drawdown")
    assert terms["SHP-A1"][1:] == [  # NLR's AES license code C33; its drawdown when it left: batch A's 72
        "PO-A", "NLR-KR-3A090", "C33", "2036-02-28 09:00 UTC", "72", "—", "—"]
    assert terms["SHP-B1"][5] == "88"  # batch B's 16 drawn since
    parties = parse_html(html).table("Parties of each cleared batch").rows
    [end_user] = [r for r in parties if r[:2] == ["PO-B", "end user"]]
    assert end_user[:5] == ["PO-B", "end user", "NAVER Cloud", "KR", "KR"]
    # the shipment's intermediate consignee with its ownership, after the clearance's parties
    assert parties[-1][:5] == ["PO-B", "intermediate consignee", "Samsung Electronics", "KR", "KR"]
    drawdown = table(html, "Drawdown per authorization: units")
    assert drawdown["NLR-KR-3A090 (no license required)"][2] == "88"
    retention = {row[1]: row for row in parse_html(html).table("Record retention per export").rows}
    assert retention["SHP-A1"][5:] == [  # 5 years after day 6; no legal hold: destroyable from then
        "2026-03-08 09:00 UTC", "2031-03-08 09:00 UTC", "no", "2031-03-08 09:00 UTC"]
    assert retention["SHP-B1"][6] == "2031-03-11 09:00 UTC"
    dcs = {row[1]: row for row in parse_html(html).table("Destination Control Statement per shipment").rows}
    assert dcs["SHP-A1"][2:4] == ["3A090.a", "KR"]
    assert dcs["SHP-A1"][4].startswith("ECCN 3A090.a. These items are controlled by the U.S. Government")
    evidence = table(html, "Classification per clearance")
    assert evidence["PO-A"][2:5] == ["3A090.a", "controlled", "36,000"]
    # the chain of custody is the custody report's, not repeated in the compliance report
    assert b"Chain of custody of batch" not in html and b"gpureg report custody" in html


def test_the_compliance_report_shows_a_legal_hold_and_no_destruction_date_for_the_held_exports(
    world: ReportWorld,
) -> None:
    from registry.application import compliance_commands as cc

    world.registry.place_legal_hold("officer-kim", cc.PlaceLegalHold(
        batch_id=world.batch_b, agency="BIS Office of Export Enforcement", reference="OEE-2027-0042",
        reason="administrative subpoena", occurred_at=T0 + 20 * DAY))
    _, files = build(world, "compliance")
    html = parse_html(files[Format.HTML])
    retention = {row[1]: row for row in html.table("Record retention per export").rows}
    assert retention["SHP-B1"][7:] == ["held", "\u2014"]  # (no date) kept past its retention date while held
    assert retention["SHP-A1"][7] == "no"
    [hold] = html.table("Legal holds").rows
    assert hold[:5] == ["PO-B", "BIS Office of Export Enforcement", "OEE-2027-0042", "administrative subpoena",
                        "officer-kim"]
    assert hold[6] == "in place"


def test_the_compliance_report_lists_findings_with_their_citations_and_resolution_trail(world: ReportWorld) -> None:
    import time

    from projections.compliance_queries import FindingFilter
    from registry.application import commands as c
    from registry.application import compliance_commands as cc
    from registry.reports import AsOf
    from registry.reports.builders.asof import last_recorded_at

    w = world.w
    w.do("receive", c.Receive, batch_id=world.batch_b, shipment_id="SHP-B1", receiving_party_id=w.naver,
         site_id=w.site2, serials=world.serials_b[:14], occurred_at=T0 + 14 * DAY)  # two units short
    raised = last_recorded_at(world.registry)
    assert raised is not None
    with AsOfView(world.registry, AsOf(raised)) as view:
        found, _ = view.read_models.list_findings(FindingFilter())
    assert [f.rule_id for f in found] == ["units-missing-in-transit"]
    while datetime.now(UTC) <= raised:
        time.sleep(0.001)
    world.registry.resolve_finding(
        "officer-kim", cc.ResolveFinding(finding_id=found[0].finding_id, note="two GPUs found at the forwarder")
    )
    _, open_then = build(world, "compliance", recorded_by=raised)
    _, resolved_now = build(world, "compliance")

    html = parse_html(open_then[Format.HTML])
    assert (html.tiles["High"], html.tiles["Resolved"]) == ("1", "0")
    row = table(open_then[Format.HTML], "Findings")[str(found[0].finding_id)]
    assert row[1:7] == ["units-missing-in-transit", "high", "open", "PO-B", "SHP-B1", "2"]
    rule = table(open_then[Format.HTML], "Finding rules and their citations")["units-missing-in-transit"]
    assert rule[2:] == ["15 CFR 732 Supp. 3 (red flags)", "1", "0"]
    says = table(open_then[Format.HTML], "What each finding says: its rule, citation and the event that revealed it")
    assert says[str(found[0].finding_id)][1:3] == ["units-missing-in-transit", "15 CFR 732 Supp. 3 (red flags)"]
    # findings come right after the summary, before the authorization ledger and the evidence
    doc = open_then[Format.HTML]
    assert doc.index(b"</span>Summary</h2>") < doc.index(b"</span>Findings</h2>") < doc.index(
        b"</span>Authorizations and drawdown</h2>") < doc.index(b"</span>Evidence: shipments</h2>")

    html = parse_html(resolved_now[Format.HTML])
    assert (html.tiles["High"], html.tiles["Resolved"]) == ("0", "1")
    steps = [r for r in html.table("Resolution trail").rows if r[0] == str(found[0].finding_id)]
    assert [s[2] for s in steps] == ["raised", "resolved"]
    assert steps[-1][3:5] == ["officer-kim", "two GPUs found at the forwarder"]


def test_the_custody_report_has_every_event_of_every_batch(world: ReportWorld) -> None:
    _, files = build(world, "custody")
    html = parse_html(files[Format.HTML])
    trail_a = html.table("Chain of custody of batch PO-A")
    events = [row[1] for row in trail_a.rows]
    assert events == [
        "Ordered", "ClearanceRequested", "ClearanceGranted", "SerialsRegistered", "Shipped", "Shipped",
        "Received", "Installed", "Assigned",
    ]
    assert html.tiles["Batches"] == "2"
    shipped = trail_a.rows[4]
    assert "X20260306000001" in shipped[-1] and "Korean Air Cargo" in shipped[-1]
    assert "forwarder" not in shipped[-1]  # a shipment naming none says nothing of them
    shipped_b = next(r for r in html.table("Chain of custody of batch PO-B").rows if r[1] == "Shipped")
    assert "via intermediate consignee(s) Samsung Electronics" in shipped_b[-1]
    assert "forwarder Korean Air Cargo" in shipped_b[-1]


def test_filters_select_a_partner_or_an_authorization(world: ReportWorld) -> None:
    _, naver = build(world, "custody", partner="NAVER Cloud")
    assert parse_html(naver[Format.HTML]).tiles["Batches"] == "1"
    assert b"Chain of custody of batch PO-A" not in naver[Format.HTML]
    report, by_auth = build(world, "compliance", authorization="NLR-KR-3A090")
    assert report.request["Authorization filter"] == world.w.license
    assert parse_html(by_auth[Format.HTML]).tiles["Batches"] == "2"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"partner": "Nobody Ltd."}, "partner"),
        ({"partner": "00000000-0000-4000-8000-000000000000"}, "partner"),
        ({"authorization": "X-404"}, "authorization"),
        ({"recorded_by": datetime.now(UTC) + timedelta(days=1)}, "as_of"),
        ({"recorded_by": datetime(2026, 1, 1)}, "as_of"),
    ],
)
def test_bad_report_options_are_refused_naming_the_field(
    world: ReportWorld, options: dict[str, object], field: str
) -> None:
    with ReportSession(world.store) as session, pytest.raises(InvalidField) as refused:
        session.build("custody", **options)  # type: ignore[arg-type]
    assert refused.value.violations[0][0] == field


def test_the_ownership_report_takes_no_authorization_filter(world: ReportWorld) -> None:
    with ReportSession(world.store) as session, pytest.raises(InvalidField) as refused:
        session.build("ownership", authorization="NLR-KR-3A090")
    assert refused.value.violations[0][0] == "authorization"


def test_a_party_named_at_the_as_of_time_did_not_exist_before_it(world: ReportWorld, tmp_path: Path) -> None:
    with ReportSession(world.store) as session, pytest.raises(InvalidField):
        session.build("custody", recorded_by=T0.replace(year=2020), partner=world.w.samsung)


def test_times_parse_with_a_zone_or_as_the_end_of_a_day() -> None:
    assert parse_time("as_of", "2026-12-31") == datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_time("as_of", "2026-12-31T09:00:00+09:00") == datetime(2026, 12, 31, 0, 0, tzinfo=UTC)
    assert parse_time("as_of", "2026-12-31T00:00:00Z") == datetime(2026, 12, 31, tzinfo=UTC)
    for bad in ("2026-12-31T09:00:00", "yesterday"):
        with pytest.raises(InvalidField) as refused:
            parse_time("as_of", bad)
        assert refused.value.violations[0][0] == "as_of"


# ---------------------------------------------------------------- formats agree
@pytest.mark.parametrize("kind", ["ownership", "compliance"])
def test_csv_and_json_agree_with_the_totals_the_html_shows(world: ReportWorld, kind: str) -> None:
    _, files = build(world, kind)
    html = parse_html(files[Format.HTML])
    csv_report = parse_csv(files[Format.CSV])
    doc = parse_json(files[Format.JSON])
    tables = json_tables(doc)
    checked = 0
    for t in html.tables:
        if t.total is None:
            continue
        from_csv = csv_report.table(t.title).total
        from_json = tables[t.title]["totals"]
        assert from_csv is not None
        for i, shown in enumerate(t.total):
            if not shown or not (shown[0].isdigit() or shown.startswith("-")):
                continue
            assert display_number(shown) == Decimal(from_csv[i]) == Decimal(str(from_json[i])), (t.title, i)
            checked += 1
    assert checked >= 5
    for label, shown in html.tiles.items():
        value = json_summaries(doc)[label]
        if value is not None and shown[0].isdigit():
            assert display_number(shown) == Decimal(str(value)), label
    assert csv_report.digest == doc["digest"] == html.meta["report-digest"].removeprefix("sha256:")


# ------------------------------------------------------------------------ streaming
def _add_batches(world: ReportWorld, first: int, count: int) -> None:
    from registry.application import commands as c

    w = world.w
    for i in range(first, first + count):
        batch = w.order(8, po_number=f"PO-S{i:04d}")
        w.clear(batch, 8)
        w.ship(batch, f"SHP-S{i:04d}", quantity=8)
        w.do("receive", c.Receive, batch_id=batch, shipment_id=f"SHP-S{i:04d}", receiving_party_id=w.samsung,
             site_id=w.site, quantity=8, occurred_at=T0 + 5 * DAY)


def _render_peak(world: ReportWorld, kind: str) -> tuple[int, int]:
    """(bytes written, peak bytes allocated while rendering the report as HTML)."""
    import tracemalloc

    from registry.reports import render

    written = 0

    def sink(chunk: bytes) -> None:
        nonlocal written
        written += len(chunk)

    with ReportSession(world.store) as session:
        report = session.build(kind)
        tracemalloc.start()
        try:
            render(report, Format.HTML, sink)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return written, peak


def test_a_custody_report_four_times_larger_renders_in_about_the_same_memory(world: ReportWorld) -> None:
    _add_batches(world, 0, 8)
    small_bytes, small_peak = _render_peak(world, "custody")
    _add_batches(world, 8, 40)
    large_bytes, large_peak = _render_peak(world, "custody")
    assert large_bytes > 3.5 * small_bytes
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)


def test_a_partners_compliance_report_shows_the_authorizations_its_batches_drew_on(world: ReportWorld) -> None:
    _, files = build(world, "compliance", partner="NAVER Cloud")
    drawdown = table(files[Format.HTML], "Drawdown per authorization: units")
    assert drawdown["NLR-KR-3A090 (no license required)"][2] == "88"  # drawn by both partners' batches
    assert parse_html(files[Format.HTML]).tiles["Batches"] == "1"
    items = table(files[Format.HTML], "Shipments: items, classification and authorization")
    assert list(items) == ["SHP-B1"]


# ------------------------------------------------------------- the live read models at the log head
def _catch_up(world: ReportWorld) -> None:
    """Bring the world's live read models to the log head (what a running worker does)."""
    from projections.runner import ProjectionRunner

    runner = ProjectionRunner(world.registry, world.read_models.engine, use_subscription=False)
    try:
        runner.catch_up()
    finally:
        runner.stop()


def _live(world: ReportWorld, as_of: AsOf | None = None) -> bool:
    with AsOfView(world.registry, as_of or AsOf(world.recorded_by), live=world.read_models) as view:
        return view.live


def _both(world: ReportWorld, kind: str, **options: object) -> tuple[dict[Format, bytes], dict[Format, bytes]]:
    """The report's text formats read from the live read models, and replayed."""
    _, live = build(world, kind, **options)
    with ReportSession(world.store, live=False) as session:
        report = session.build(kind, **options)  # type: ignore[arg-type]
        replayed = {f: render_bytes(report, f) for f in TEXT_FORMATS}
    return live, replayed


@pytest.mark.parametrize("kind", KINDS)
def test_at_the_log_head_a_report_reads_the_live_read_models_and_gives_the_replayed_bytes(
    store_url: str, kind: str
) -> None:
    world = phase_one(store_url)
    try:
        phase_two(world)
        _catch_up(world)
        head = AsOf(last_recorded_at(world.registry) or world.recorded_by)
        assert _live(world, head)
        live, replayed = _both(world, kind)
        assert live == replayed
        if kind != "ownership":
            live, replayed = _both(world, kind, authorization=world.w.license)
            assert live == replayed
        live, replayed = _both(world, kind, partner="NAVER Cloud")
        assert live == replayed
    finally:
        world.close()


def test_live_read_models_not_exactly_at_the_as_of_position_are_not_read(world: ReportWorld) -> None:
    _catch_up(world)
    assert _live(world)
    # an occurred-by time that leaves events out: replayed
    assert not _live(world, AsOf(datetime.now(UTC), T0 + 7 * DAY + timedelta(hours=12)))
    # an occurred-by time that leaves nothing out: the live read models are exact
    assert _live(world, AsOf(world.recorded_by, T0 + 365 * DAY))
    phase_two(world)
    # the live read models are behind the head: replayed, and the same bytes as once caught up
    head = AsOf(last_recorded_at(world.registry) or world.recorded_by)
    assert not _live(world, head)
    _, behind = build(world, "compliance")
    _catch_up(world)
    assert _live(world, head)
    _, caught_up = build(world, "compliance")
    assert behind == caught_up
    # ... and ahead of an earlier time: replayed
    assert not _live(world)


def test_a_report_at_the_head_reads_one_snapshot_while_the_workers_move_on(world: ReportWorld) -> None:
    _catch_up(world)
    with ReportSession(world.store) as session:
        report = session.build("custody")
        first = render_bytes(report, Format.JSON)
        phase_two(world)
        _catch_up(world)  # the live read models move on while the report is still being written
        again = render_bytes(report, Format.JSON)
    assert again == first
    with ReportSession(world.store, live=False) as session:
        assert render_bytes(session.build("custody", recorded_by=world.recorded_by), Format.JSON) == first


def test_kept_rows_come_back_in_order_across_pages_calls_and_keys(world: ReportWorld) -> None:
    from registry.reports.builders.asof import PAGE_ROWS, PENDING_ROWS

    def rows(key: str, first: int, count: int) -> list[tuple[object, ...]]:
        return [(key, i, Decimal(i) / 100, T0 + timedelta(seconds=i), None) for i in range(first, first + count)]

    many = 2 * PAGE_ROWS + 7  # more than a page in one call
    with AsOfView(world.registry, AsOf(world.recorded_by)) as view:
        assert view.keep("alone", rows("alone", 0, many)) == many  # outside keeping(): its own transaction
        with view.keeping():
            for step in range(PENDING_ROWS // 50):  # many small calls on several keys: pages written meanwhile
                for key in ("a", "b", "c"):
                    assert view.keep(key, rows(key, step * 20, 20)) == 20
            assert view.keep("a", rows("a", 10_000, many)) == many
            assert list(view.kept("b")) == rows("b", 0, (PENDING_ROWS // 50) * 20)  # read inside the write
        assert view.keep("alone", rows("alone", many, 3)) == 3
        assert list(view.kept("alone")) == rows("alone", 0, many + 3)
        assert list(view.kept("a")) == rows("a", 0, (PENDING_ROWS // 50) * 20) + rows("a", 10_000, many)
        assert list(view.kept("c")) == rows("c", 0, (PENDING_ROWS // 50) * 20)
        assert list(view.kept("none")) == []


def test_a_read_model_database_without_read_models_is_replayed_from(world: ReportWorld, tmp_path: Path) -> None:
    from projections.db import create_readmodel_engine
    from projections.queries import ReadModels

    engine = create_readmodel_engine(f"sqlite:///{tmp_path}/empty.db")  # no bookkeeping tables at all
    try:
        with AsOfView(world.registry, AsOf(world.recorded_by), live=ReadModels(engine, world.registry)) as view:
            assert not view.live
            assert view.read_models.custody_trail(world.batch_a)
    finally:
        engine.dispose()


def test_the_compliance_report_lists_an_event_declared_in_error_with_its_declaration_in_the_resolution_trail(
    world: ReportWorld,
) -> None:
    """The auditor's discrepancy log: a shipment declared did_not_occur (EPCIS errorDeclaration by its
    exported eventID) is a finding, its declaration the first step of its resolution trail."""
    from registry.epcis import vocabulary as v
    from registry.epcis.capture import Capture
    from registry.epcis.sources import batch_events

    [shipped] = [e for e in batch_events(world.registry, world.batch_a)
                 if e.get("bizStep") == "shipping" and e.get(v.ext("shipmentID")) == "SHP-A1"]
    event = {k: val for k, val in shipped.items() if k != "recordTime"}
    event["errorDeclaration"] = {"declarationTime": "2026-03-20T10:00:00Z", "reason": "did_not_occur"}
    doc = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {v.PREFIX: v.NAMESPACE}],
           "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-03-20T10:00:00Z",
           "epcisBody": {"eventList": [event]}}
    assert Capture(world.registry).capture("logistics@nvidia", doc).accepted
    _, files = build(world, "compliance")
    html = parse_html(files[Format.HTML])
    [says] = [r for r in html.table("What each finding says: its rule, citation and the event that revealed it").rows
              if r[1] == "event-declared-in-error"]
    assert says[3] == "ErrorDeclared" and "15 CFR 762.2" in says[2]
    assert f"event {shipped['eventID']} declared in error (did_not_occur) on 2026-03-20" in says[7]
    [step] = [r for r in html.table("Resolution trail").rows if r[0] == says[0]]
    assert step[2:5] == ["raised", "logistics@nvidia",
                         "declaration by logistics@nvidia at 2026-03-20T10:00:00+00:00: did_not_occur; "
                         "no corrective event named"]
