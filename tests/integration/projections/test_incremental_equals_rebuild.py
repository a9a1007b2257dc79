"""Read models built event by event, in random chunks interleaved with commands, equal a full
rebuild, and agree with the aggregates they summarise."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.catalog import default_projections
from projections.custody import BATCH_EVENTS
from projections.runner import ProjectionRunner, rebuild
from tests.integration.projections.conftest import ReadSide
from tests.projection_workload import (
    KINDS,
    Driver,
    actual_from_dumps,
    dump_active,
    expected_from_aggregates,
)

plans = st.lists(
    st.tuples(
        st.integers(0, KINDS - 1),  # which kind of step
        st.integers(0, 2**32 - 1),  # its parameters
        st.booleans(),  # project a chunk after it?
    ),
    min_size=1,
    max_size=30,
)


def _run(side: ReadSide, driver: Driver, runner: ProjectionRunner, plan: list[tuple[int, int, bool]]) -> None:
    for kind, seed, project in plan:
        driver.step(kind, random.Random(seed))
        if project:
            runner.step()
    runner.catch_up()
    runner.stop()


def _assert_incremental_equals_rebuild(side: ReadSide, driver: Driver, rebuild_chunk: int) -> None:
    projections = default_projections()
    incremental = {p.name: dump_active(side.engine, p) for p in projections}
    for p in projections:
        rebuild(side.registry, side.engine, p, chunk_size=rebuild_chunk)
    rebuilt = {p.name: dump_active(side.engine, p) for p in projections}

    assert incremental == rebuilt
    assert actual_from_dumps(incremental) == expected_from_aggregates(side.world, driver.batches)
    batch_events = sum(side.registry.get_batch(b).version for b in driver.batches)
    assert len(incremental["custody_trail"]["custody"]) == batch_events


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans, chunk_size=st.integers(1, 7), rebuild_chunk=st.sampled_from([1, 3, 500]))
def test_incremental_read_models_equal_a_full_rebuild_for_random_command_sequences(
    read_side: ReadSide, plan: list[tuple[int, int, bool]], chunk_size: int, rebuild_chunk: int
) -> None:
    # The store is shared by the examples: each one continues the history of the previous ones.
    driver: Driver = read_side.state.setdefault("driver", Driver(read_side.world))
    _run(read_side, driver, read_side.runner(chunk_size=chunk_size), plan)
    _assert_incremental_equals_rebuild(read_side, driver, rebuild_chunk)


def test_a_long_history_with_every_kind_of_batch_event_projects_like_a_rebuild(read_side: ReadSide) -> None:
    driver = Driver(read_side.world)
    rng = random.Random(1)
    plan = [(rng.randrange(KINDS), rng.randrange(2**32), rng.random() < 0.3) for _ in range(300)]
    _run(read_side, driver, read_side.runner(chunk_size=4), plan)

    seen = {e.event_type for b in driver.batches for e in read_side.read_models.custody_trail(b, False)}
    assert seen == {cls.__name__ for cls in BATCH_EVENTS}
    _assert_incremental_equals_rebuild(read_side, driver, 50)
