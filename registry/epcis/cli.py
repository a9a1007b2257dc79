"""``gpureg epcis``: export the registry's history as EPCIS 2.0 documents, capture documents."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer

epcis_app = typer.Typer(help="GS1 EPCIS 2.0: export events as JSON-LD documents, capture documents.",
                        no_args_is_help=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="GPUREG_DATABASE_URL", show_default=False,
                 help="the event store (default sqlite:///var/registry.db)"),
]


@epcis_app.command("export")
def export(
    database_url: DatabaseUrl = None,
    batch: Annotated[str | None, typer.Option("--batch", help="one batch's history (UUID)")] = None,
    partner: Annotated[str | None, typer.Option("--partner", help="a party's batches (UUID)")] = None,
    after: Annotated[int | None, typer.Option("--after", help="every batch event after this log position")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="file to write (default: standard output)")] = None,
) -> None:
    """Write an EPCIS 2.0 EPCISDocument (JSON-LD) of a batch, a partner's batches, or the log."""
    from registry.bootstrap import build_registry
    from registry.config import settings_from
    from registry.epcis.export import write_document
    from registry.epcis.sources import batch_events, log_events, partner_events

    if sum(x is not None for x in (batch, partner, after)) != 1:
        raise typer.BadParameter("give exactly one of --batch, --partner, --after")
    registry = build_registry(settings_from(database_url))
    try:
        if batch is not None:
            events = batch_events(registry, _uuid(batch, "--batch"))
        elif partner is not None:
            events = partner_events(registry, _uuid(partner, "--partner"))
        else:
            events = (e for _, e in log_events(registry, after=after or 0))
        if out is None:
            n = write_document(events, datetime.now(UTC), sys.stdout)
        else:
            with out.open("w", encoding="utf-8") as f:
                n = write_document(events, datetime.now(UTC), f)
        typer.echo(f"{n} event(s)" + (f" written to {out}" if out else ""), err=True)
    finally:
        registry.close()


@epcis_app.command("capture")
def capture(
    file: Annotated[Path, typer.Argument(help="an EPCISDocument (JSON-LD); - for standard input")],
    database_url: DatabaseUrl = None,
    actor: Annotated[str, typer.Option("--actor", envvar="GPUREG_ACTOR",
                                       help="who captures (recorded as the actor of every event)")] = "",
    per_event: Annotated[bool, typer.Option("--per-event",
                                            help="write the events that pass; default: all or nothing")] = False,
) -> None:
    """Capture an EPCIS 2.0 document: each event becomes one registry command (idempotent by eventID)."""
    from registry.bootstrap import build_registry
    from registry.config import settings_from
    from registry.domain.errors import InvalidField
    from registry.epcis.capture import Capture

    if not actor.strip():
        raise typer.BadParameter("name who captures with --actor (or GPUREG_ACTOR)")
    text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise typer.BadParameter(f"{file} is not JSON: {e}") from None
    registry = build_registry(settings_from(database_url))
    try:
        try:
            result = Capture(registry).capture(actor.strip(), document, per_event=per_event)
        except InvalidField as e:
            typer.echo(f"refused: {e}", err=True)
            raise typer.Exit(2) from None
    finally:
        registry.close()
    for error in result.errors:
        typer.echo(f"refused {error}", err=True)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(result.counts().items()))
    typer.echo(f"{len(result.outcomes)} event(s): {counts}")
    if not result.accepted:
        raise typer.Exit(1)


def _uuid(value: str, option: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise typer.BadParameter(f"{option} must be a UUID") from None
