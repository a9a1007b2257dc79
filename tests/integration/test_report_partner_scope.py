"""A partner's own compliance report (``ReportSession.build(..., scope=party)``): the batches in the
partner's scope as of the report's log position, the findings on them and their own share of the shared
license; nothing of the other partner's batch, its party or its drawdown. It verifies byte for byte like
any report, and the scope is refused for the other report kinds."""

from __future__ import annotations

import json
from typing import Any

import pytest

from registry.domain.errors import InvalidField
from registry.reports import Format, render_bytes, verify
from registry.reports.builders import ReportSession
from registry.reports.builders.common import SCOPE_INPUT
from tests.integration.report_world import phase_one, phase_two


def test_a_partners_own_compliance_report_shows_its_batches_and_none_of_the_other_partners(store_url: str) -> None:
    world = phase_one(store_url)
    try:
        phase_two(world)
        w = world.w
        theirs = [str(world.batch_b), "PO-B", "SHP-B1", world.serials_b[0], world.serials_b[-1],
                  world.registry.repository.get(w.naver).name]
        with ReportSession(world.store) as session:
            everything = session.build("compliance")
            full = {f: render_bytes(everything, f) for f in (Format.JSON, Format.HTML)}
            own = session.build("compliance", scope=w.samsung)
            mine = {f: render_bytes(own, f) for f in (Format.JSON, Format.HTML, Format.CSV)}
        for fmt, body in full.items():
            missing = [t for t in [*theirs, "PO-A", "SHP-A1"] if t.encode() not in body]
            assert missing == [], (fmt, missing)
        for fmt, body in mine.items():
            assert b"PO-A" in body and b"SHP-A1" in body and str(world.batch_a).encode() in body, fmt
            leaked = [t for t in theirs if t.encode() in body]
            assert leaked == [], (fmt, leaked)
        assert dict(own.request.inputs)[SCOPE_INPUT] == w.samsung
        assert SCOPE_INPUT not in dict(everything.request.inputs)
        # the authorization both partners drew on: Samsung's own 72 units, not NAVER's 16 nor what remains
        assert _rows(mine[Format.JSON], "Drawdown per authorization: units") == [["NLR-KR-3A090 (no license required)", None, 72, 0, 72, None]]
        assert [r[2:5] for r in _rows(full[Format.JSON], "Drawdown per authorization: units")] == [[88, 0, 88]]
        # per export, the authorization's running drawdown (other partners' draws in it) is left out
        terms = "Shipments: authorization and its drawdown"
        assert {r[0]: r[5] for r in _rows(full[Format.JSON], terms)}["SHP-B1"] == 88
        assert [r[5:] for r in _rows(mine[Format.JSON], terms)] == [[None, None, None]] * 2
        assert [r[3] for r in _rows(mine[Format.JSON], terms)] == ["C33"] * 2  # NLR's AES license code
        with ReportSession(world.store) as session:
            result = verify(mine[Format.JSON], session.regenerate)
        assert result.matches, result.reason
    finally:
        world.close()


def _rows(body: bytes, title: str) -> list[list[Any]]:
    def tables(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("type") == "table":
                yield node
            for value in node.values():
                yield from tables(value)
        elif isinstance(node, list):
            for value in node:
                yield from tables(value)

    return next(t["rows"] for t in tables(json.loads(body)) if t["title"] == title)  # type: ignore[no-any-return]


def test_a_partner_scope_is_refused_for_the_other_reports_and_for_an_unknown_party(sqlite_url: str) -> None:
    world = phase_one(sqlite_url)
    try:
        with ReportSession(world.store) as session:
            with pytest.raises(InvalidField, match="partner_scope"):
                session.build("ownership", scope=world.w.samsung)
            with pytest.raises(InvalidField, match="partner_scope"):
                session.build("compliance", scope=world.batch_a)
    finally:
        world.close()
