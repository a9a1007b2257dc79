"""Several processes opening one PostgreSQL store at once (servers and workers of a deployment
restarting together): each runs the recorder's table creation, and none may fail on it."""

from __future__ import annotations

import threading

import pytest

from registry.bootstrap import build_registry
from registry.config import Settings

pytestmark = pytest.mark.postgres


def test_servers_starting_together_on_one_store_all_open_it(postgres_url: str) -> None:
    build_registry(Settings(database_url=postgres_url)).close()  # the store exists
    errors: list[BaseException] = []

    def start() -> None:
        try:
            build_registry(Settings(database_url=postgres_url)).close()
        except BaseException as e:
            errors.append(e)

    for _ in range(3):
        threads = [threading.Thread(target=start) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    # Without the advisory lock around the creation, CREATE OR REPLACE FUNCTION run at once by
    # several of them fails with "tuple concurrently updated".
    assert errors == []


def test_servers_creating_a_brand_new_store_at_the_same_instant_all_open_it(postgres_url: str) -> None:
    # Every table is new, the snapshots' included: the library's snapshot recorder creates its
    # table too, and CREATE TABLE IF NOT EXISTS run at once on a fresh schema fails in the catalog
    # (a duplicate key in pg_type) unless the creations take turns.
    import psycopg

    errors: list[BaseException] = []
    schemas = [f"{postgres_url.rsplit('schema=', 1)[1]}_{round_}" for round_ in range(10)]
    try:
        for schema in schemas:
            url = f"{postgres_url.rsplit('schema=', 1)[0]}schema={schema}"
            barrier = threading.Barrier(8)

            def start(url: str = url, barrier: threading.Barrier = barrier) -> None:
                try:
                    barrier.wait()
                    build_registry(Settings(database_url=url)).close()
                except BaseException as e:
                    errors.append(e)

            threads = [threading.Thread(target=start) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        with psycopg.connect(postgres_url.rsplit("?", 1)[0], autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    assert errors == []
