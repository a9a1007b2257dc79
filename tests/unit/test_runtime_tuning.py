"""The long-running processes collect garbage less often, and skip what start-up left behind."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from registry.runtime import GC_THRESHOLDS, tune_for_serving


@pytest.fixture
def restored_collector() -> Iterator[None]:
    before = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


@pytest.mark.usefixtures("restored_collector")
def test_serving_processes_collect_less_often_and_freeze_what_start_up_left() -> None:
    tune_for_serving()
    assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_freeze_count() > 0
    assert GC_THRESHOLDS[0] > 700 and GC_THRESHOLDS[2] > 10  # both rarer than Python's defaults
