"""What ``gpureg serve`` needs from the read side: the queries and an in-process runner.

    read_side = open_read_side(settings, registry)   # engine + ReadModels + ProjectionRunner
    read_side.start()                                 # projections follow the log in a thread
    ... serve; queries call read_side.read_models.list_batches(...) etc.
    read_side.close()                                 # stop the runner, release its locks

With ``run_projections=False`` (projections run as separate workers) only the queries are opened.
With ``in_process=False`` the projections run in a child worker process instead of a thread
(:mod:`projections.worker_process`); ``wake()`` reaches either.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from projections.db import open_engine, readmodel_url, sqlite_path
from projections.queries import ReadModels
from projections.runner import ProjectionRunner
from projections.worker_process import ProjectionProcess
from registry.application.ports import EventLog
from registry.config import Settings


class ReadSide:
    def __init__(
        self, engine: Engine, read_models: ReadModels, runner: ProjectionRunner | None,
        process: ProjectionProcess | None = None,
    ) -> None:
        self.engine = engine
        self.read_models = read_models
        self.runner = runner
        self.process = process

    def start(self) -> None:
        if self.runner is not None:
            self.runner.start()
        if self.process is not None:
            self.process.start()

    def wake(self) -> None:
        """The log just grew in this process: let the projections read it now."""
        if self.runner is not None:
            self.runner.wake()
        if self.process is not None:
            self.process.wake()

    def close(self) -> None:
        if self.runner is not None:
            self.runner.stop()
        if self.process is not None:
            self.process.stop()
        self.engine.dispose()


def open_read_side(
    settings: Settings, registry: EventLog, run_projections: bool = True, in_process: bool = True,
    **runner_options: Any,
) -> ReadSide:
    engine = open_engine(settings)
    runner: ProjectionRunner | None = None
    process: ProjectionProcess | None = None
    if run_projections:
        if in_process or not shareable(settings):
            runner = ProjectionRunner(registry, engine, **runner_options)
        else:
            env = {"GPUREG_DATABASE_URL": settings.database_url, "GPUREG_READMODEL_URL": readmodel_url(settings),
                   "GPUREG_LOG_LEVEL": settings.log_level}
            process = ProjectionProcess(env, poll_interval=runner_options.get("poll_interval", 0.1))
    return ReadSide(engine, ReadModels(engine, registry), runner, process)


def shareable(settings: Settings) -> bool:
    """Whether another process can open these stores (an in-memory SQLite database cannot)."""
    return all(
        not url.startswith("sqlite") or sqlite_path(url) is not None
        for url in (settings.database_url, readmodel_url(settings))
    )
