"""A SerialSet names serials as runs where they are consecutive and one by one where they are not,
and gives back exactly the sequence it was built from."""

from __future__ import annotations

import json

import pytest
from eventsourcing.persistence import JSONTranscoder
from hypothesis import given
from hypothesis import strategies as st

from registry.application.transcodings import register_domain_transcodings
from registry.domain.serials import SerialSet

prefixes = st.sampled_from(["KR-H100-", "1652", "", "SN-", "x9-"])
runs = st.builds(
    lambda p, start, n, width, step: [f"{p}{k:0{width}d}" for k in range(start, start + n * step, step)],
    prefixes, st.integers(0, 10_000), st.integers(1, 40), st.integers(1, 8), st.integers(1, 7),
)
anything = st.lists(st.text(min_size=0, max_size=12), max_size=30)
serial_lists = st.lists(st.one_of(runs, anything), max_size=6).map(lambda parts: [s for p in parts for s in p])


def _round_trip(serials: list[str]) -> SerialSet:
    made = SerialSet(serials)
    assert list(made) == serials
    assert len(made) == len(serials)
    stored = SerialSet.from_compact(json.loads(json.dumps(made.compact())))
    assert list(stored) == serials
    assert stored == made and hash(stored) == hash(made)
    return stored


@given(serial_lists)
def test_any_list_of_serials_comes_back_as_the_same_sequence_from_its_compact_form(serials: list[str]) -> None:
    made = _round_trip(serials)
    for s in serials:
        assert s in made
    for i, s in enumerate(serials):
        assert made[i] == s
        assert made[i - len(serials)] == s
    assert list(made[1:-1]) == serials[1:-1]


@given(serial_lists, st.text(max_size=12))
def test_membership_is_exact_for_serials_the_set_does_not_name(serials: list[str], other: str) -> None:
    assert (other in SerialSet(serials)) == (other in serials)


def test_a_delivery_of_consecutive_serials_minus_a_few_is_one_run_with_its_exceptions() -> None:
    serials = [f"KR-H100-{n:06d}" for n in range(1, 5001) if n not in (17, 433, 434)]
    made = _round_trip(serials)
    assert made.compact() == [["KR-H100-", "000001", "005000", [17, 433, 434]]]
    assert len(made) == 4997
    assert "KR-H100-000017" not in made and "KR-H100-000018" in made and "KR-H100-005001" not in made
    assert "KR-H100-18" not in made  # another width is another serial


def test_serials_that_are_not_consecutive_are_kept_one_by_one_in_their_order() -> None:
    serials = ["B-9", "A-1", "A-0003", "A-0002", "A-0001", "Z", "A-0001"]
    made = _round_trip(serials)
    assert made.compact() == serials


def test_leading_zeros_widths_and_mixed_prefixes_start_new_runs() -> None:
    serials = ["0098", "0099", "0100", "0101", "98", "99", "100", "S1", "S2", "S3", "T4", "T5", "T6"]
    made = _round_trip(serials)
    assert made.compact() == [["", "0098", "0101"], "98", "99", "100", ["S", "1", "3"], ["T", "4", "6"]]


def test_repeated_serials_are_recorded_as_given() -> None:
    serials = ["S01", "S02", "S03", "S03", "S04", "S05", "S06"]
    made = _round_trip(serials)
    assert made.compact() == [["S", "01", "03"], ["S", "03", "06"]]


def test_digits_of_other_scripts_are_not_counted_as_a_run() -> None:
    serials = ["S\u0661", "S\u0662", "S\u0663"]  # Arabic-Indic digits: int() reads them, formatting would not
    assert _round_trip(serials).compact() == serials


@pytest.mark.parametrize("bad", [
    [["S", "01", "3"]], [["S", "05", "03"]], [["S", "01", "05", [1]]], [["S", "01", "05", [3, 3]]],
    [["S", "0x", "05"]], [42], [["S", "01"]],
])
def test_a_malformed_compact_form_is_refused(bad: list[object]) -> None:
    with pytest.raises(ValueError):
        SerialSet.from_compact(bad)


def test_a_serial_set_is_stored_compactly_by_the_transcoder() -> None:
    transcoder = JSONTranscoder()
    register_domain_transcodings(transcoder)
    serials = SerialSet([f"1652180000{n:03d}" for n in range(72)])
    data = transcoder.encode({"serials": serials})
    assert data == b'{"serials":{"_type_":"serials","_data_":[["","1652180000000","1652180000071"]]}}'
    assert transcoder.decode(data) == {"serials": serials}


@given(serial_lists)
def test_a_list_or_tuple_is_encoded_as_the_same_items_as_any_other_iterable(serials: list[str]) -> None:
    greedy = SerialSet(iter(serials)).compact()

    assert SerialSet(serials).compact() == greedy and SerialSet(tuple(serials)).compact() == greedy
    assert list(SerialSet(serials)) == list(SerialSet(iter(serials))) == serials


@pytest.mark.parametrize("serials", [
    ["A001", "A002", "A003"], ["A8", "A9", "A10"], ["1", "2", "3"], ["A1", "A2"], ["A01", "A02", "A04"],
    ["X-9", "X-10", "X-11"], ["0009", "0010", "0011"], ["A1", "A2", "A3", "b"], ["A\u0661", "A2", "A3"],
    ["A97", "A98", "A99"], ["99", "100", "101"], ["A1", "A2", "A3", "A3"],
])
def test_a_consecutive_list_is_one_run_exactly_when_the_serial_by_serial_pass_says_so(serials: list[str]) -> None:
    assert SerialSet(serials).compact() == SerialSet(iter(serials)).compact()


def test_a_serial_that_is_not_a_plain_str_is_refused_even_in_a_consecutive_list() -> None:
    class Odd(str):
        pass

    with pytest.raises(TypeError):
        SerialSet(["A1", "A2", Odd("A3")])
