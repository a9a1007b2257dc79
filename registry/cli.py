"""The ``gpureg`` command line. Each command builds what it needs through the composition root."""

from __future__ import annotations

from typing import Annotated

import typer

from registry.config import Settings

app = typer.Typer(
    help="Sovereign GPU Registry: the event-sourced system of record for AI GPU batches.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Event store administration.", no_args_is_help=True)
app.add_typer(db_app, name="db")

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="GPUREG_DATABASE_URL",
        help="sqlite:///var/registry.db (default) or postgresql://user@host:5432/db[?schema=s]",
        show_default=False,
    ),
]


def settings_from(database_url: str | None, **overrides: object) -> Settings:
    values: dict[str, object] = {k: v for k, v in overrides.items() if v is not None}
    if database_url:
        values["database_url"] = database_url
    return Settings(**values)  # type: ignore[arg-type]


@db_app.command("init")
def db_init(database_url: DatabaseUrl = None) -> None:
    """Create the event store's tables (idempotent) and report where they are."""
    from registry.bootstrap import build_registry

    settings = settings_from(database_url)
    registry = build_registry(settings)
    try:
        typer.echo(f"event store ready at {settings.database_url} (log head {registry.head()})")
    finally:
        registry.close()


def main() -> None:
    app()
