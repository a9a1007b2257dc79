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
        threads = [threading.Thread(target=start) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    # Without the advisory lock around the creation, CREATE OR REPLACE FUNCTION run at once by
    # several of them fails with "tuple concurrently updated".
    assert errors == []
