"""The power check's kilowatts: the value and the digits of the Decimal sum it replaced (a finding's
note quotes them, so a rebuild and the live worker must write the same text)."""

from __future__ import annotations

import random
from decimal import Decimal

from projections.compliance_checks import kilowatts


def _decimal_sum(watts: list[int]) -> Decimal:
    total = Decimal(0)
    for w in watts:
        total += Decimal(w) / 1000
    return total


def test_the_same_digits_as_the_decimal_sum() -> None:
    rng = random.Random(18)
    cases: list[list[int]] = [[], [0], [1000], [1500], [1500, 1500], [6000, 500], [1230], [1234, 6], [7, 993],
                              [10**30, 1], [-1500, 1500], [0, 0, 10]]
    for _ in range(3000):
        n = rng.randint(0, 60)
        unit = rng.choice([1, 10, 100, 1000, 700, 350])
        cases.append([rng.randint(0, 3000) * rng.choice([unit, 8 * 700, 1]) for _ in range(n)])
    for watts in cases:
        got, want = kilowatts(watts), _decimal_sum(watts)
        assert str(got) == str(want) and got.as_tuple() == want.as_tuple(), watts


def test_non_integers_are_summed_as_before() -> None:
    watts: list[Decimal | int] = [Decimal("1500.5"), 2000]
    total = Decimal(0)
    for w in watts:
        total += Decimal(w) / 1000
    assert kilowatts(watts).as_tuple() == total.as_tuple()
