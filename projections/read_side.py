"""What ``gpureg serve`` needs from the read side: the queries and an in-process runner.

    read_side = open_read_side(settings, registry)   # engine + ReadModels + ProjectionRunner
    read_side.start()                                 # projections follow the log in a thread
    ... serve; queries call read_side.read_models.list_batches(...) etc.
    read_side.close()                                 # stop the runner, release its locks

With ``run_projections=False`` (projections run as separate workers) only the queries are opened.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from projections.db import open_engine
from projections.queries import ReadModels
from projections.runner import ProjectionRunner
from registry.application.service import Registry
from registry.config import Settings


class ReadSide:
    def __init__(self, engine: Engine, read_models: ReadModels, runner: ProjectionRunner | None) -> None:
        self.engine = engine
        self.read_models = read_models
        self.runner = runner

    def start(self) -> None:
        if self.runner is not None:
            self.runner.start()

    def close(self) -> None:
        if self.runner is not None:
            self.runner.stop()
        self.engine.dispose()


def open_read_side(
    settings: Settings, registry: Registry, run_projections: bool = True, **runner_options: Any
) -> ReadSide:
    engine = open_engine(settings)
    runner = ProjectionRunner(registry, engine, **runner_options) if run_projections else None
    return ReadSide(engine, ReadModels(engine, registry), runner)
