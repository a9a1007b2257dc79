"""``gpureg report ...``: generate an audit report as of a past time, and verify a report file.

    gpureg report ownership --as-of 2026-12-31 --format pdf --out ownership.pdf
    gpureg report compliance --authorization D1234567 --as-occurred-by 2026-09-30T23:59:59Z
    gpureg report verify ownership.pdf          # exit 0: byte for byte what the registry produces
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from registry.config import Settings

if TYPE_CHECKING:
    from registry.reports.builders import ReportStore

report_app = typer.Typer(
    help="Audit reports (compliance, ownership, custody) as of any past time, reproducible byte for byte.",
    no_args_is_help=True,
)

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
        help="the live read models, for the partners' allocations (default: for a SQLite store file, the "
             "sibling file <name>.readmodels.db; otherwise the event store's database)",
    ),
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of", show_default=False,
        help="as recorded by this time: what the registry had recorded by then (ISO-8601 with a zone, or a "
        "date meaning the end of that day UTC); default: when it recorded its latest event",
    ),
]
OccurredOption = Annotated[
    str | None,
    typer.Option(
        "--as-occurred-by", show_default=False,
        help="count only facts that had happened (occurred_at) by this time, of those recorded by --as-of",
    ),
]
PartnerOption = Annotated[
    str | None, typer.Option("--partner", show_default=False, help="a party's id or exact name")
]
AuthorizationOption = Annotated[
    str | None,
    typer.Option("--authorization", show_default=False, help="an export authorization's id or number"),
]
FormatOption = Annotated[str, typer.Option("--format", help="html, pdf, csv or json")]
OutOption = Annotated[
    str | None,
    typer.Option(
        "--out", show_default=False,
        help="the file to write ('-' for standard output); default: <kind>-report-<as-of time, "
             "UTC, e.g. 20261231T235959Z>.<html|pdf|csv|json> in the working directory",
    ),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _store(database_url: str | None, readmodel_url: str | None) -> Iterator[ReportStore]:
    """The registry and the live read models of the store, opened read-only in spirit: a store that
    does not exist is an error, not a new empty one."""
    from projections.db import create_readmodel_engine, sqlite_path
    from projections.db import readmodel_url as readmodels_of
    from projections.queries import ReadModels
    from registry.bootstrap import build_registry
    from registry.reports.builders import ReportStore

    values: dict[str, object] = {}
    if database_url:
        values["database_url"] = database_url
    if readmodel_url:
        values["readmodel_url"] = readmodel_url
    settings = Settings(**values)  # type: ignore[arg-type]
    if settings.database_url.startswith("sqlite"):
        path = sqlite_path(settings.database_url)
        if path is not None and not Path(path).exists():
            raise _fail(f"no event store at {settings.database_url} (give --database-url)")
    registry = build_registry(settings)
    engine = create_readmodel_engine(readmodels_of(settings))
    try:
        yield ReportStore(registry, ReadModels(engine, registry))
    finally:
        engine.dispose()
        registry.close()


def _generate(
    kind: str,
    database_url: str | None,
    readmodel_url: str | None,
    as_of: str | None,
    as_occurred_by: str | None,
    partner: str | None,
    authorization: str | None,
    fmt: str,
    out: str | None,
) -> None:
    from registry.domain.errors import RegistryError
    from registry.reports import Format, render
    from registry.reports.builders import ReportSession, file_name, parse_time

    try:
        chosen = Format(fmt.lower())
    except ValueError:
        raise _fail(f"--format: one of html, pdf, csv, json (got {fmt!r})") from None
    try:
        recorded_by = parse_time("as_of", as_of) if as_of else None
        occurred_by = parse_time("as_occurred_by", as_occurred_by) if as_occurred_by else None
        with _store(database_url, readmodel_url) as store, ReportSession(store) as session:
            report = session.build(kind, recorded_by, occurred_by, partner, authorization)
            target = out or file_name(kind, report.as_of.recorded_by, chosen.extension)
            if target == "-":
                rendered = render(report, chosen, sys.stdout.buffer)
                sys.stdout.buffer.flush()
            else:
                path = Path(target)
                partial = path.with_name(path.name + ".partial")
                with partial.open("wb") as f:
                    rendered = render(report, chosen, f)
                partial.replace(path)
    except RegistryError as e:
        raise _fail(str(e)) from None
    where = "standard output" if target == "-" else target
    typer.echo(
        f"wrote the {kind} report ({chosen.value.upper()}, {rendered.size:,} bytes) to {where}\n"
        f"  as recorded by {report.as_of.recorded_by.isoformat()}"
        + (f", as occurred by {report.as_of.occurred_by.isoformat()}" if report.as_of.occurred_by else "")
        + f"; log position {report.request['Log position']}\n  digest sha256:{rendered.digest}",
        err=True,
    )


def _command(kind: str, doc: str) -> None:
    def command(
        database_url: DatabaseUrl = None,
        readmodel_url: ReadmodelUrl = None,
        as_of: AsOfOption = None,
        as_occurred_by: OccurredOption = None,
        partner: PartnerOption = None,
        authorization: AuthorizationOption = None,
        fmt: FormatOption = "html",
        out: OutOption = None,
    ) -> None:
        _generate(kind, database_url, readmodel_url, as_of, as_occurred_by, partner, authorization, fmt, out)

    command.__doc__ = doc
    report_app.command(kind)(command)


_command(
    "compliance",
    "The compliance report: units by stage, findings, drawdown per authorization, shipments with their "
    "ECCN, authorization, parties, destination and ITN, classification evidence, record retention, chain "
    "of custody.",
)
_command(
    "ownership",
    "The ownership report: per partner units by stage, model and site, compute held against allocation; site "
    "power against capacity; deployments over time; with charts.",
)
_command("custody", "The custody report: per batch its full chain of custody.")


@report_app.command("verify")
def verify_command(
    file: Annotated[Path, typer.Argument(help="a report file (HTML, PDF, CSV or JSON) that gpureg report wrote")],
    database_url: DatabaseUrl = None,
    readmodel_url: ReadmodelUrl = None,
) -> None:
    """Regenerate a report from the store, from the inputs recorded in the file, and compare byte for
    byte. Exit 0 when the file is exactly what the registry produces, 1 when it is not."""
    from registry.domain.errors import RegistryError
    from registry.reports import Report, ReportRequest, verify
    from registry.reports.builders import ReportSession

    try:
        data = file.read_bytes()
    except OSError as e:
        raise _fail(f"cannot read {file}: {e.strerror}", 1) from None
    produced: list[Report] = []
    with _store(database_url, readmodel_url) as store, ReportSession(store) as session:

        def regenerate(request: ReportRequest) -> Report:
            report = session.regenerate(request)
            produced.append(report)
            return report

        try:
            result = verify(data, regenerate)
        except RegistryError as e:
            typer.echo(f"DOES NOT MATCH: the report cannot be regenerated: {e}")
            raise typer.Exit(1) from None
    if result.request is not None:
        as_of = result.request.as_of
        typer.echo(
            f"{result.request.kind} report ({result.format.value.upper() if result.format else '?'}), as recorded by "
            f"{as_of.recorded_by.isoformat()}"
            + (f", as occurred by {as_of.occurred_by.isoformat()}" if as_of.occurred_by else "")
        )
        if result.recorded_digest:
            typer.echo(f"  file states   sha256:{result.recorded_digest}")
        if result.regenerated_digest:
            typer.echo(f"  registry has  sha256:{result.regenerated_digest}")
        if produced and produced[0].request != result.request:
            now = dict(produced[0].request.inputs)
            for name, value in result.request.inputs:
                if now.get(name) != value:
                    typer.echo(f"  input {name!r}: the file says {value!r}, the registry now gives {now.get(name)!r}")
    if result.matches:
        typer.echo(f"MATCHES: {result.reason}")
        return
    typer.echo(f"DOES NOT MATCH: {result.reason}")
    raise typer.Exit(1)
