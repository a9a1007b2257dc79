"""Restricted-party screening: CSL CSV import, name normalising, fuzzy matching, hit cases."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from registry.domain.base import Context
from registry.domain.errors import IllegalTransition, InvalidField
from registry.domain.screening import (
    Matcher,
    ScreeningCase,
    ScreeningList,
    name_score,
    normalise_name,
    parse_screening_csv,
)

CSL_HEADER = (
    "_id,source,entity_number,type,programs,name,title,addresses,federal_register_notice,start_date,"
    "end_date,standard_order,license_requirement,license_policy,call_sign,vessel_type,gross_tonnage,"
    "gross_registered_tonnage,vessel_flag,vessel_owner,remarks,source_list_url,alt_names,citizenships,"
    "dates_of_birth,nationalities,places_of_birth,source_information_url,ids"
)
EL = "Entity List (EL) - Bureau of Industry and Security"


def csl_row(_id: str, name: str, alt_names: str = "", addresses: str = "", source: str = EL) -> str:
    cells = [""] * 29
    cells[0], cells[1], cells[5], cells[7], cells[22] = _id, source, name, addresses, alt_names
    cells[8] = "89 FR 12345"
    return ",".join(f'"{c}"' if ("," in c or ";" in c) else c for c in cells)


def csl(*rows: str) -> bytes:
    return ("\n".join([CSL_HEADER, *rows]) + "\n").encode()


NAMES = [
    ("Huawei Technologies Co., Ltd.", "huawei technologies"),
    ("HUAWEI TECHNOLOGIES CO LTD", "huawei technologies"),
    ("ACME GmbH", "acme"),
    ("Société Générale S.A.", "societe generale"),
    ("A.B.C. Inc.", "abc"),
    ("The Shenzhen Cloud Corporation", "shenzhen cloud"),
    ("NAVER Cloud Corp.", "naver cloud"),
    ("Ltd.", ""),
]


@pytest.mark.parametrize(("raw", "normal"), NAMES)
def test_names_are_normalised_before_matching(raw: str, normal: str) -> None:
    assert normalise_name(raw) == normal


def test_word_order_punctuation_and_suffixes_do_not_change_the_score() -> None:
    assert name_score("Technologies Huawei Ltd", "HUAWEI TECHNOLOGIES CO., LTD.") == 100.0
    assert name_score("Huawei Technology", "Huawei Technologies Co Ltd") > 85
    assert name_score("Samsung Electronics", "Huawei Technologies") < 50
    assert name_score("Ltd.", "Co., Ltd.") == 0.0  # nothing left to compare


def test_a_csl_csv_snapshot_parses_names_aliases_addresses_and_countries() -> None:
    content = csl(
        csl_row(
            "e1",
            "SHENZHEN CLOUD TECHNOLOGY CO., LTD.",
            "SZ Cloud; Shenzhen Yun",
            "1 Road, Shenzhen, Guangdong, 518000, CN; 2 Street, Hong Kong, HK",
        ),
        csl_row("", "", ""),
        csl_row("e3", "ACME TRADING FZE", "", "Jebel Ali, Dubai, AE"),
    )
    parsed = parse_screening_csv(content, "US CSL")
    assert parsed.sha256 == hashlib.sha256(content).hexdigest()
    assert parsed.skipped_rows == 1
    first = parsed.entries[0]
    assert first.entry_id == "e1" and first.source_list == EL
    assert first.alt_names == ("SZ Cloud", "Shenzhen Yun")
    assert first.countries == ("CN", "HK")
    assert first.extra["federal_register_notice"] == "89 FR 12345"
    assert [e.name for e in parsed.entries] == ["SHENZHEN CLOUD TECHNOLOGY CO., LTD.", "ACME TRADING FZE"]


def test_a_simple_csv_with_a_countries_column_is_accepted_too() -> None:
    content = b"source,name,alt_names,addresses,countries\nMy List,Bad Actor Ltd,BA;B.A.,,cn;ru\n"
    [entry] = parse_screening_csv(content, "mine").entries
    assert entry.countries == ("CN", "RU")
    assert entry.entry_id == "row-2"
    assert entry.alt_names == ("BA", "B.A.")


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (b"source,title\nEL,x\n", "needs a 'name' column"),
        (b"", "empty file"),
        ("name\nCaf\u00e9\n".encode("latin-1"), "UTF-8"),
    ],
)
def test_a_file_that_is_not_a_screening_csv_is_refused_naming_the_field(content: bytes, rule: str) -> None:
    with pytest.raises(InvalidField) as e:
        parse_screening_csv(content, "US CSL")
    assert e.value.violations[0][0] == "content"
    assert rule in e.value.violations[0][1]


def test_the_matcher_finds_a_name_through_an_alias_once_per_entry_best_first() -> None:
    entries = parse_screening_csv(
        csl(
            csl_row("e1", "SHENZHEN CLOUD TECHNOLOGY CO., LTD.", "SZ Cloud; Shenzhen Cloud Tech"),
            csl_row("e2", "SHENZHEN CLOUD TECHNOLOGIES LIMITED"),
            csl_row("e3", "UNRELATED MACHINERY"),
        ),
        "US CSL",
    ).entries
    matches = Matcher(entries).match("Shenzhen Cloud Technology Co.", threshold=85)
    # "Technologies Limited" and "Technology Co., Ltd." are the same words once legal forms and
    # abbreviations are normalised: both score 100, ties in name order
    assert [(m.entry.entry_id, m.score) for m in matches] == [("e2", 100.0), ("e1", 100.0)]
    assert matches[1].matched_name == "SHENZHEN CLOUD TECHNOLOGY CO., LTD."
    assert Matcher(entries).match("SZ Cloud")[0].matched_name == "SZ Cloud"


def test_the_threshold_decides_what_is_a_hit() -> None:
    entries = parse_screening_csv(csl(csl_row("e1", "Huawei Technologies")), "US CSL").entries
    score = name_score("Huawai Technology", "Huawei Technologies")
    assert 85 <= score < 99
    assert Matcher(entries).match("Huawai Technology", threshold=85)
    assert not Matcher(entries).match("Huawai Technology", threshold=99)
    hits, near = Matcher(entries).screen("Huawai Technology", threshold=99)
    assert hits == [] and [(m.entry.entry_id, m.score) for m in near] == [("e1", score)]


CTX = Context("officer", "", datetime(2026, 3, 2, tzinfo=UTC))


def _snapshot(*rows: str) -> ScreeningList:
    return ScreeningList.import_snapshot(CTX, uuid4(), "US CSL", parse_screening_csv(csl(*rows), "US CSL"))


def _screen(case: ScreeningCase, name: str, snapshot: ScreeningList) -> None:
    case.record_screening(CTX, name, snapshot.ref, Matcher(snapshot.list_entries()).match(name), 85)


def test_a_new_hit_is_open_and_blocks_until_resolved_as_a_false_positive() -> None:
    case = ScreeningCase.open(CTX, uuid4())
    _screen(case, "Shenzhen Cloud", _snapshot(csl_row("e1", "SHENZHEN CLOUD CO LTD")))
    [hit] = case.blocking_hits()
    assert hit["resolution"] == "open" and hit["entry"]["entry_id"] == "e1"
    case.resolve(Context("carol", "", CTX.occurred_at), hit["hit_id"], "false_positive", "different company")
    assert case.blocking_hits() == []
    trail = case.hits[hit["hit_id"]]["trail"]
    assert trail == [
        {"resolution": "false_positive", "note": "different company", "by": "carol", "at": CTX.occurred_at}
    ]


def test_a_confirmed_hit_keeps_blocking() -> None:
    case = ScreeningCase.open(CTX, uuid4())
    _screen(case, "Shenzhen Cloud", _snapshot(csl_row("e1", "SHENZHEN CLOUD CO LTD")))
    hit_id = case.blocking_hits()[0]["hit_id"]
    case.resolve(CTX, hit_id, "confirmed", "same address as the listed entity")
    assert [h["resolution"] for h in case.blocking_hits()] == ["confirmed"]


def test_a_resolution_needs_a_note_a_known_hit_and_a_known_outcome() -> None:
    case = ScreeningCase.open(CTX, uuid4())
    _screen(case, "Shenzhen Cloud", _snapshot(csl_row("e1", "SHENZHEN CLOUD CO LTD")))
    hit_id = case.blocking_hits()[0]["hit_id"]
    for hit, outcome, note, field in (
        (hit_id, "false_positive", " ", "note"),
        ("nope", "confirmed", "x", "hit_id"),
        (hit_id, "maybe", "x", "resolution"),
    ):
        with pytest.raises(InvalidField) as e:
            case.resolve(CTX, hit, outcome, note)
        assert e.value.violations[0][0] == field
    case.resolve(CTX, hit_id, "confirmed", "listed")
    with pytest.raises(IllegalTransition):
        case.resolve(CTX, hit_id, "confirmed", "again")


def test_the_same_entry_in_a_new_snapshot_keeps_the_hit_and_its_resolution() -> None:
    case = ScreeningCase.open(CTX, uuid4())
    _screen(case, "Shenzhen Cloud", _snapshot(csl_row("e1", "SHENZHEN CLOUD CO LTD")))
    hit_id = case.blocking_hits()[0]["hit_id"]
    case.resolve(CTX, hit_id, "false_positive", "different company")
    second = _snapshot(csl_row("e1", "SHENZHEN CLOUD CO LTD"), csl_row("e9", "OTHER"))
    _screen(case, "Shenzhen Cloud", second)
    assert list(case.hits) == [hit_id]
    assert case.hits[hit_id]["resolution"] == "false_positive"
    assert case.hits[hit_id]["snapshot_id"] == second.id
    assert case.blocking_hits() == []


def test_a_changed_entry_is_a_new_hit_and_a_delisted_one_lapses() -> None:
    case = ScreeningCase.open(CTX, uuid4())
    _screen(case, "Shenzhen Cloud", _snapshot(csl_row("e1", "SHENZHEN CLOUD CO LTD")))
    old = case.blocking_hits()[0]["hit_id"]
    _screen(case, "Shenzhen Cloud", _snapshot(csl_row("e1", "SHENZHEN CLOUD CO LTD", "SZC")))
    [new] = case.blocking_hits()
    assert new["hit_id"] != old and case.hits[old]["current"] is False
    _screen(case, "Shenzhen Cloud", _snapshot(csl_row("e2", "SOMEONE ELSE")))
    assert case.blocking_hits() == []
    assert all(not h["current"] for h in case.hits.values())


def test_a_case_is_current_only_for_the_latest_snapshot_of_every_source_and_the_current_name() -> None:
    case = ScreeningCase.open(CTX, uuid4())
    snapshot = _snapshot(csl_row("e1", "X"))
    _screen(case, "Acme", snapshot)
    latest = {"US CSL": {"snapshot_id": snapshot.id}}
    assert case.is_current(latest, "Acme")
    assert not case.is_current(latest, "Acme Renamed")
    assert not case.is_current({**latest, "UN": {"snapshot_id": uuid4()}}, "Acme")
