"""``gpureg projections ...``: status, rebuild, run a worker; partners' allocations (commands)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import typer

from registry.config import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from registry.application.service import Registry

projections_app = typer.Typer(
    help="Read models: how far behind they are, rebuilding them, running projection workers.",
    no_args_is_help=True,
)
allocations_app = typer.Typer(
    help="Each partner's allocation in the deal, in GPUs (compared with what it holds).",
    no_args_is_help=True,
)
projections_app.add_typer(allocations_app, name="allocations")

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url", envvar="GPUREG_DATABASE_URL", show_default=False,
        help="the event store: sqlite:///var/registry.db (default) or postgresql://...[?schema=s]",
    ),
]
ReadmodelUrl = Annotated[
    str | None,
    typer.Option(
        "--readmodel-url", envvar="GPUREG_READMODEL_URL", show_default=False,
        help="where the read models live (default: for a SQLite store file, the sibling file "
             "<name>.readmodels.db; otherwise the event store's database)",
    ),
]
ChunkSize = Annotated[
    int, typer.Option("--chunk-size", min=1, max=100_000, help="events per transaction")
]


def _settings(database_url: str | None, readmodel_url: str | None) -> Settings:
    values: dict[str, object] = {}
    if database_url:
        values["database_url"] = database_url
    if readmodel_url:
        values["readmodel_url"] = readmodel_url
    return Settings(**values)  # type: ignore[arg-type]


@contextmanager
def _opened(database_url: str | None, readmodel_url: str | None) -> Iterator[tuple[Registry, Engine]]:
    from projections.db import open_engine
    from registry.bootstrap import build_registry

    settings = _settings(database_url, readmodel_url)
    registry = build_registry(settings)
    engine = open_engine(settings)
    try:
        yield registry, engine
    finally:
        engine.dispose()
        registry.close()


@projections_app.command("status")
def status(
    database_url: DatabaseUrl = None,
    readmodel_url: ReadmodelUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON lines")] = False,
) -> None:
    """Each projection's position, the log head, and the lag in events and seconds."""
    from rich.console import Console
    from rich.table import Table

    from projections.queries import ReadModels

    with _opened(database_url, readmodel_url) as (registry, engine):
        rows = ReadModels(engine, registry).projection_status()
    if as_json:
        for r in rows:
            typer.echo(json.dumps(asdict(r), default=str, sort_keys=True))
        return
    table = Table(title="projections")
    for column in ("name", "version", "generation", "state", "position", "head", "lag events",
                   "lag seconds", "worker", "updated"):
        table.add_column(column)
    for r in rows:
        version = str(r.version) if r.version == r.code_version else f"{r.version} (code {r.code_version})"
        table.add_row(
            r.name, version, str(r.generation), r.state, str(r.position), str(r.head),
            str(r.lag_events), f"{r.lag_seconds:.1f}", r.worker,
            r.updated_at.isoformat(timespec="seconds") if r.updated_at else "",
        )
    Console().print(table)


@projections_app.command("rebuild")
def rebuild(
    name: Annotated[str | None, typer.Argument(help="one projection (default: all)")] = None,
    database_url: DatabaseUrl = None,
    readmodel_url: ReadmodelUrl = None,
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", min=1, max=100_000, help="events read per page")
    ] = 5000,
) -> None:
    """Rebuild read models from the whole log into fresh tables, then switch over.

    Queries keep answering from the current tables until the new ones have caught up.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    from projections.catalog import select
    from projections.runner import RebuildBusy
    from projections.runner import rebuild as run_rebuild
    from registry.domain.errors import InvalidField

    try:
        chosen = select([name] if name else None)
    except InvalidField as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    with _opened(database_url, readmodel_url) as (registry, engine):
        for projection in chosen:
            with Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
            ) as bar:
                task = bar.add_task(projection.name, total=None)

                def advance(position: int, head: int, task: TaskID = task, bar: Progress = bar) -> None:
                    bar.update(task, completed=position, total=max(head, 1))

                try:
                    gen = run_rebuild(
                        registry, engine, projection, chunk_size=chunk_size, progress=advance
                    )
                except RebuildBusy as e:
                    typer.echo(f"error: {e}", err=True)
                    raise typer.Exit(1) from None
            typer.echo(
                f"{projection.name}: generation {gen.generation} (version {gen.version}) is active "
                f"at position {gen.position}"
            )


@projections_app.command("run")
def run(
    database_url: DatabaseUrl = None,
    readmodel_url: ReadmodelUrl = None,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="run only these projections (repeatable)")
    ] = None,
    chunk_size: ChunkSize = 500,
    poll_interval: Annotated[
        float, typer.Option(min=0.001, help="SQLite: seconds between polls of the log")
    ] = 0.1,
    repoll_interval: Annotated[
        float, typer.Option(min=0.01, help="PostgreSQL: longest wait for a notification before re-polling")
    ] = 1.0,
    standby_interval: Annotated[
        float, typer.Option(min=0.01, help="seconds between attempts to take over a projection")
    ] = 1.0,
    log_level: Annotated[str, typer.Option(envvar="GPUREG_LOG_LEVEL")] = "INFO",
    wake_on_stdin: Annotated[
        bool, typer.Option(help="read the log at once on every byte from stdin; stop when stdin closes "
                                "(how gpureg serve runs its projection process)")
    ] = False,
    metrics_listen: Annotated[
        str | None,
        typer.Option("--metrics-listen", envvar="GPUREG_WORKER_METRICS_LISTEN", show_default=False,
                     help="host:port for this worker's Prometheus /metrics (projection position and lag)"),
    ] = None,
    asof_checkpoint_interval: Annotated[
        float, typer.Option(min=0, envvar="GPUREG_ASOF_CHECKPOINT_INTERVAL",
                            help="seconds between rounds that keep the as-of report checkpoints current "
                                 "while this worker is active (0: never; `gpureg report checkpoints` by hand)"),
    ] = 60.0,
) -> None:
    """Run projections as a separate worker until SIGTERM or SIGINT.

    One worker runs a given projection at a time; another one started on the same store waits
    as a hot standby and takes over when the first stops or dies.
    """
    from projections.catalog import select
    from projections.runner import ProjectionRunner
    from registry.domain.errors import InvalidField

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if wake_on_stdin:  # a server's child: never outlive it (before anything slow, such as opening the store)
        from projections.worker_process import exit_with_parent

        exit_with_parent()
    try:
        chosen = select(only)
    except InvalidField as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    with _opened(database_url, readmodel_url) as (registry, engine):
        runner = ProjectionRunner(
            registry, engine, chosen, chunk_size=chunk_size,
            poll_interval=poll_interval, repoll_interval=repoll_interval,
            standby_interval=standby_interval,
        )

        from projections.worker_process import follow_stdin, stop_on_signals
        from registry.runtime import tune_for_serving

        stop_on_signals(runner.request_stop)
        if wake_on_stdin:
            follow_stdin(runner.wake, runner.request_stop)
        typer.echo(f"projection worker {runner.worker_id} running {[p.name for p in chosen]}")
        metrics = None
        if metrics_listen:
            from projections.queries import ReadModels
            from registry.observability.metrics import Metrics, ProjectionCollector

            metrics = Metrics()
            metrics.add_collector(ProjectionCollector(ReadModels(engine, registry).projection_status))
            typer.echo(f"projection worker metrics (Prometheus) at http://{metrics.serve(metrics_listen)}/metrics")
        keeper = None
        if asof_checkpoint_interval > 0:
            from registry.reports.checkpoint_keeper import CheckpointKeeper

            keeper = CheckpointKeeper(registry, engine, lambda: bool(runner.held()),
                                      interval=asof_checkpoint_interval)
            keeper.start()
        tune_for_serving()
        try:
            runner.run_forever()
        finally:
            if keeper is not None:
                keeper.stop(timeout=1.0)  # a round cut short leaves no partial checkpoint in use
            if metrics is not None:
                metrics.close()


Actor = Annotated[
    str, typer.Option("--actor", envvar="GPUREG_ACTOR", help="who decides (recorded on the event)")
]
Reason = Annotated[str, typer.Option("--reason", help="why: where the figure comes from (recorded on the event)")]
EffectiveFrom = Annotated[
    datetime | None,
    typer.Option("--effective-from", formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"],
                 help="from when it applies (default: now); a date is midnight UTC"),
]


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@allocations_app.command("set")
def allocation_set(
    partner_id: Annotated[UUID, typer.Argument(help="the partner (party id)")],
    gpus: Annotated[int, typer.Argument(min=0, help="GPUs allocated to it in the deal")],
    actor: Actor,
    reason: Reason,
    effective_from: EffectiveFrom = None,
    database_url: DatabaseUrl = None,
    readmodel_url: ReadmodelUrl = None,
) -> None:
    """Set (or replace) a partner's allocation: a SetAllocation command, recorded as an event."""
    from registry.application.allocation_commands import SetAllocation
    from registry.domain.errors import RegistryError

    with _opened(database_url, readmodel_url) as (registry, _engine):
        try:
            result = registry.set_allocation(actor, SetAllocation(
                partner_id=partner_id, gpus=gpus, reason=reason, effective_from=_aware(effective_from)))
        except (RegistryError, ValueError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from None
    typer.echo(f"allocation of {partner_id}: {gpus} GPUs (event at position {result.position})")


@allocations_app.command("list")
def allocation_list(database_url: DatabaseUrl = None, readmodel_url: ReadmodelUrl = None) -> None:
    """Every partner's allocation in force now (from the read models)."""
    from projections.db import open_engine
    from projections.queries import ReadModels

    engine = open_engine(_settings(database_url, readmodel_url))
    try:
        for a in ReadModels(engine).allocations():
            typer.echo(f"{a.partner_id}\t{a.gpus}\t{a.note}\t{a.set_by}\t{a.effective_from}")
    finally:
        engine.dispose()


@allocations_app.command("remove")
def allocation_remove(
    partner_id: Annotated[UUID, typer.Argument(help="the partner (party id)")],
    actor: Actor,
    reason: Reason,
    effective_from: EffectiveFrom = None,
    database_url: DatabaseUrl = None,
    readmodel_url: ReadmodelUrl = None,
) -> None:
    """Withdraw a partner's allocation: a RemoveAllocation command, recorded as an event."""
    from registry.application.allocation_commands import RemoveAllocation
    from registry.domain.errors import RegistryError

    with _opened(database_url, readmodel_url) as (registry, _engine):
        try:
            registry.remove_allocation(actor, RemoveAllocation(
                partner_id=partner_id, reason=reason, effective_from=_aware(effective_from)))
        except (RegistryError, ValueError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from None
    typer.echo("removed")
