"""A query subscription's schedule (EPCIS 1.2 section 8.2.5.3, kept by EPCIS 2.0's REST binding):
its grammar and which times match, with the standard's own examples."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from registry.domain.errors import InvalidField
from registry.epcis.named_queries import parse_schedule, schedule_matches


def _at(hour: int, minute: int, second: int, day: int = 2) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)  # 2 March 2026 is a Monday


def test_the_standards_examples_match_the_times_it_names() -> None:
    top_of_hour = parse_schedule({"second": "0", "minute": "0"})
    assert schedule_matches(top_of_hour, _at(7, 0, 0)) and not schedule_matches(top_of_hour, _at(7, 0, 1))
    half_past_two = parse_schedule({"second": "0", "minute": "30", "hour": "2"})
    assert schedule_matches(half_past_two, _at(2, 30, 0)) and not schedule_matches(half_past_two, _at(3, 30, 0))
    weekdays = parse_schedule({"second": "0", "minute": "0", "dayOfWeek": "[1-5]"})
    assert schedule_matches(weekdays, _at(9, 0, 0, day=6)) and not schedule_matches(weekdays, _at(9, 0, 0, day=7))  # Fri, Sat
    every_second_of_two = parse_schedule({"hour": "2"})
    assert schedule_matches(every_second_of_two, _at(2, 59, 59)) and not schedule_matches(every_second_of_two, _at(3, 0, 0))
    listed = parse_schedule({"minute": "5,[10-12],59"})
    assert listed["minute"] == frozenset({5, 10, 11, 12, 59})


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"second": "60"}, "schedule.second"),
        ({"hour": "24"}, "schedule.hour"),
        ({"dayOfMonth": "0"}, "schedule.dayOfMonth"),
        ({"dayOfWeek": "[6-8]"}, "schedule.dayOfWeek"),
        ({"minute": "[30-10]"}, "schedule.minute"),
        ({"minute": "*/5"}, "schedule.minute"),
        ({"minute": ""}, "schedule.minute"),
        ({"fortnight": "1"}, "schedule.fortnight"),
        ({}, "schedule"),
    ],
)
def test_a_schedule_off_the_grammar_or_range_is_refused_naming_its_field(schedule: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidField) as refused:
        parse_schedule(schedule)
    assert [f for f, _ in refused.value.violations] == [field]
