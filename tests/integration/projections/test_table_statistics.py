"""Read-model tables that grow fast get fresh planner statistics on PostgreSQL (projections/statistics.py).

Without them a worker's keyed lookups on a table the planner still thinks is empty ran as
sequential scans (50-75 ms each at 74,000 rows) and stalled a following worker for 25-30 s.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from projections.db import create_readmodel_engine
from projections.statistics import analyze_stale

pytestmark = pytest.mark.postgres


def test_a_read_model_table_that_grew_since_its_last_analyze_is_analyzed_once(postgres_url: str) -> None:
    engine = create_readmodel_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE rm_probe_g1 (serial varchar(64) PRIMARY KEY)"))
            conn.execute(text("CREATE TABLE other_probe (serial varchar(64) PRIMARY KEY)"))
            for table in ("rm_probe_g1", "other_probe"):
                conn.execute(text(f"INSERT INTO {table} SELECT 'SN' || g FROM generate_series(1, 2000) g"))
        analyzed: list[str] = []
        deadline = time.monotonic() + 30  # the backend reports its counts to the statistics views within about a second
        while "rm_probe_g1" not in analyzed and time.monotonic() < deadline:
            analyzed = analyze_stale(engine)
            time.sleep(0.2)

        assert analyzed == ["rm_probe_g1"]  # only read-model tables: others are autovacuum's
        with engine.connect() as conn:
            planned = conn.execute(text(
                "SELECT reltuples FROM pg_class WHERE oid = 'rm_probe_g1'::regclass")).scalar_one()
        assert planned == 2000  # the planner now knows the table's size
        assert analyze_stale(engine) == []  # nothing changed since
    finally:
        engine.dispose()


def test_nothing_is_analyzed_on_sqlite(sqlite_url: str) -> None:
    engine = create_readmodel_engine(sqlite_url)
    try:
        assert analyze_stale(engine) == []
    finally:
        engine.dispose()


def test_the_analyze_samples_with_a_small_statistics_target_and_still_counts_the_rows(postgres_url: str) -> None:
    from projections.statistics import TARGET

    engine = create_readmodel_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE rm_sampled_g1 (serial varchar(64) PRIMARY KEY)"))
            conn.execute(text("INSERT INTO rm_sampled_g1 SELECT 'SN' || g FROM generate_series(1, 5000) g"))
        analyzed: list[str] = []
        deadline = time.monotonic() + 30  # the backend reports its counts to the statistics views within about a second
        while "rm_sampled_g1" not in analyzed and time.monotonic() < deadline:
            analyzed = analyze_stale(engine)
            time.sleep(0.2)
        assert "rm_sampled_g1" in analyzed
        with engine.connect() as conn:
            planned = conn.execute(text(
                "SELECT reltuples FROM pg_class WHERE oid = 'rm_sampled_g1'::regclass")).scalar_one()
            # a statistics target of 10 keeps at most 10 histogram bounds + 1 (the server's default: 101)
            bounds = conn.execute(text(
                "SELECT array_length(histogram_bounds::text::text[], 1) FROM pg_stats "
                "WHERE tablename = 'rm_sampled_g1' AND attname = 'serial'")).scalar_one()
            target = conn.execute(text("SHOW default_statistics_target")).scalar_one()
        assert planned == 5000  # the row count is exact all the same
        assert bounds == TARGET + 1
        assert target != str(TARGET)  # the sessions' own setting is untouched (SET LOCAL)
    finally:
        engine.dispose()
