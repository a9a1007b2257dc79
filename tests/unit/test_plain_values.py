"""``projections.common.plain`` (the custody trail's details, JSON columns) gives what it gave before
its fast path for values of exactly a JSON type: compared with the earlier code on varied values."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum, IntEnum, StrEnum
from typing import Any
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from projections.common import plain
from registry.domain.batch import Stage
from registry.domain.serials import SerialSet


def _earlier(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _earlier(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset | SerialSet):
        return [_earlier(v) for v in value]
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return _earlier(value.value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class _Level(IntEnum):
    LOW = 1


class _Word(StrEnum):
    A = "a"


_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5),
    st.uuids(), st.decimals(allow_nan=False, allow_infinity=False).map(Decimal),
    st.datetimes(timezones=st.just(UTC)), st.sampled_from([_Level.LOW, _Word.A, *Stage]),
)
_values = st.recursive(_leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.lists(inner, max_size=4).map(tuple),
    st.dictionaries(st.one_of(st.text(max_size=3), st.integers()), inner, max_size=4),
), max_leaves=20)


@given(_values)
def test_plain_gives_what_the_earlier_code_gave(value: Any) -> None:
    assert plain(value) == _earlier(value)
    assert type(plain(value)) is type(_earlier(value))


def test_an_enum_that_is_also_an_int_or_a_string_still_becomes_its_value() -> None:
    assert plain(_Level.LOW) == 1 and type(plain(_Level.LOW)) is int
    assert plain(_Word.A) == "a" and type(plain(_Word.A)) is str
