"""The benchmark's pure helpers (bench/stats.py, bench/workload.py). Nothing here is timed."""

from __future__ import annotations

import math
import os

import pytest

from bench.server_cpu import by_kind, thread_cpu
from bench.stats import achieved_rate, fmt, lag_after, percentile, ratio, schedule, summarize
from bench.workload import COMMANDS_PER_BATCH, PER_BATCH, batch_life
from registry.application import commands as c
from registry.demo.load import COMMANDS


def test_a_percentile_interpolates_between_the_closest_ranks_like_numpy() -> None:
    values = [15.0, 20.0, 35.0, 40.0, 50.0]
    assert percentile(values, 0) == 15.0
    assert percentile(values, 50) == 35.0
    assert percentile(values, 100) == 50.0
    assert percentile(values, 40) == pytest.approx(29.0)  # rank 1.6: 20 + 0.6 * 15
    assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)


def test_a_percentile_does_not_depend_on_the_order_of_the_values() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == percentile([1.0, 2.0, 3.0], 50) == 2.0


def test_a_percentile_of_nothing_is_not_a_number_and_a_bad_rank_is_refused() -> None:
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)


def test_a_latency_summary_is_in_milliseconds() -> None:
    summary = summarize([0.001, 0.002, 0.003])
    assert summary.count == 3
    assert summary.p50_ms == pytest.approx(2.0)
    assert summary.max_ms == pytest.approx(3.0)
    assert summary.mean_ms == pytest.approx(2.0)


def test_an_open_loop_schedule_spaces_sends_evenly_at_the_offered_rate() -> None:
    offsets = schedule(1000, 0.01)
    assert offsets == pytest.approx([i / 1000 for i in range(10)])
    assert len(schedule(1000, 15)) == 15_000
    assert schedule(4, 0.5) == [0.0, 0.25]


def test_an_open_loop_schedule_refuses_a_rate_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="rate"):
        schedule(0, 1)


def test_the_achieved_rate_counts_only_sends_inside_the_window() -> None:
    assert achieved_rate([0.0, 0.5, 0.9, 1.5], 1.0) == 3.0
    assert achieved_rate([], 0) == 0.0


def test_lag_runs_from_a_response_to_the_first_observation_that_shows_its_position() -> None:
    responses = [(1.0, 10), (2.0, 20), (3.0, 30)]
    observed = [(0.5, 5), (1.2, 10), (2.5, 15), (2.7, 25), (3.4, 40)]
    assert lag_after(responses, observed) == pytest.approx([0.2, 0.7, 0.4])


def test_lag_is_zero_when_the_projection_had_the_position_before_the_response_came_back() -> None:
    assert lag_after([(1.0, 10)], [(0.9, 12), (1.5, 12)]) == [0.0]


def test_a_position_never_observed_as_reached_has_no_lag() -> None:
    assert lag_after([(1.0, 10), (2.0, 99)], [(1.1, 10), (2.1, 50)]) == pytest.approx([0.1])


def test_a_ratio_needs_both_figures_and_a_baseline_that_is_not_zero() -> None:
    assert ratio(7.0, 10.0) == pytest.approx(0.7)
    assert ratio(None, 1.0) is None
    assert ratio(1.0, 0.0) is None
    assert ratio(math.nan, 1.0) is None


def test_figures_are_formatted_with_three_significant_digits_and_separators() -> None:
    assert fmt(123456.7) == "123,457"
    assert fmt(12.345) == "12.3"
    assert fmt(0.01234) == "0.0123"
    assert fmt(None) == "-"
    assert fmt(0) == "0"


def test_a_benchmark_batch_life_is_a_valid_command_sequence_on_its_own_batch_and_serials() -> None:
    steps = batch_life("t1", client=3, n=7)
    assert len(steps) == COMMANDS_PER_BATCH
    for step in steps:
        c.parse(COMMANDS[step.method], step.payload)  # every payload is a valid command
    assert len({s.payload["batch_id"] for s in steps}) == 1
    assert len({s.payload["request_id"] for s in steps}) == len(steps)
    registered = [u["serial"] for u in steps[3].payload["units"]]
    assert len(set(registered)) == PER_BATCH


def test_two_clients_never_share_a_batch_or_a_serial() -> None:
    a, b = batch_life("t1", client=0, n=0), batch_life("t1", client=1, n=0)
    assert a[0].payload["batch_id"] != b[0].payload["batch_id"]
    serials_a = {u["serial"] for u in a[3].payload["units"]}
    serials_b = {u["serial"] for u in b[3].payload["units"]}
    assert not serials_a & serials_b


def test_memory_of_a_server_counts_the_processes_it_started() -> None:
    import subprocess
    import sys
    import time

    from bench.proc import descendants, memory_mb

    code = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
            "'x = bytearray(40_000_000); import time; time.sleep(20)']); time.sleep(20)")
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            mem = memory_mb(parent.pid)
            if mem.get("processes") == 2 and mem["VmRSS"] - mem["own_VmRSS"] > 38:
                break
            time.sleep(0.1)
        assert len(descendants(parent.pid)) == 1
        assert mem["processes"] == 2 and mem["VmRSS"] - mem["own_VmRSS"] > 38  # the child's 40 MB
    finally:
        for pid in descendants(parent.pid):
            subprocess.run(["kill", str(pid)], check=False)
        parent.kill()
        parent.wait()


def test_the_server_cpu_split_names_the_main_thread_the_loop_and_the_busiest_other_the_command_lane() -> None:
    before = {100: 1.0, 101: 2.0, 102: 0.5}
    after = {100: 1.5, 101: 4.0, 102: 0.75, 103: 0.25}  # 103 started in between
    assert by_kind(100, before, after) == {"loop": 0.5, "command": 2.0, "other": 0.5, "total": 3.0}
    mine = thread_cpu(os.getpid())
    assert os.getpid() in mine and all(seconds >= 0 for seconds in mine.values())
