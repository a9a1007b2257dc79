"""``gpureg report ...``: generate an audit report as of a past time, and verify a report file.

    gpureg report ownership --as-of 2026-12-31 --format pdf --out ownership.pdf
    gpureg report compliance --authorization D1234567 --as-occurred-by 2026-09-30T23:59:59Z
    gpureg report verify ownership.pdf          # exit 0: byte for byte what the registry produces
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from registry.reports.store_access import StoreMissing, open_store

if TYPE_CHECKING:
    from uuid import UUID

    from registry.reports import Format, Report
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
QuietOption = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q",
        help="no progress bar (it is shown on a terminal only: sections done, and pages for a PDF)",
    ),
]
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
    """open_store, with a missing store said on the terminal (exit 2)."""
    with ExitStack() as stack:
        try:
            store = stack.enter_context(open_store(database_url, readmodel_url))
        except StoreMissing as e:
            raise _fail(str(e)) from None
        yield store




BatchOption = Annotated[
    str | None, typer.Option("--batch", show_default=False, help="custody: one batch, by id or PO number")
]
SerialOption = Annotated[
    str | None,
    typer.Option("--serial", show_default=False,
                 help="custody: the events naming this serial number (and its batch's batch-wide events)"),
]
FromOption = Annotated[
    str | None,
    typer.Option("--occurred-from", show_default=False,
                 help="custody: events that occurred at or after this time (ISO-8601 with a zone, or a date)"),
]
ToOption = Annotated[
    str | None,
    typer.Option("--occurred-to", show_default=False,
                 help="custody: events that occurred at or before this time (a date means the end of that day UTC)"),
]


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
    quiet: bool = False,
    custody_filters: tuple[str | None, str | None, str | None, str | None] = (None, None, None, None),
    scope: UUID | None = None,
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
        batch, serial, start, end = custody_filters
        occurred_from = _start_of(parse_time("occurred_from", start), start) if start else None
        occurred_to = parse_time("occurred_to", end) if end else None
        with _store(database_url, readmodel_url) as store, ReportSession(store) as session:
            report = session.build(kind, recorded_by, occurred_by, partner, authorization,
                                   batch, serial, occurred_from, occurred_to, scope)
            target = out or file_name(kind, report.as_of.recorded_by, chosen.extension)
            with _progress(report, chosen, quiet or not sys.stderr.isatty()) as progress:
                if target == "-":
                    rendered = render(report, chosen, sys.stdout.buffer, progress)
                    sys.stdout.buffer.flush()
                else:
                    path = Path(target)
                    partial = path.with_name(path.name + ".partial")
                    with partial.open("wb") as f:
                        rendered = render(report, chosen, f, progress)
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


def _start_of(parsed: datetime, text: str) -> datetime:
    """A bare date as the start of a period means the start of that day (UTC)."""
    return parsed.replace(hour=0, minute=0, second=0, microsecond=0) if len(text.strip()) == 10 else parsed


@contextmanager
def _progress(report: Report, fmt: Format, quiet: bool) -> Iterator[Callable[[int, str], object] | None]:
    """A progress bar on standard error while a PDF is laid out: the report's top-level sections done
    (of how many) and the pages so far. Nothing when quiet or when standard error is not a terminal;
    HTML, CSV and JSON stream in seconds and need none."""
    if quiet or fmt.value != "pdf":
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    headings = [s.heading for s in report.iter_sections()]
    bar = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("sections"),
        TextColumn("{task.fields[pages]:,} pages"), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True,
    )
    task = bar.add_task(f"{report.kind} PDF", total=len(headings), pages=0)

    def advance(pages: int, section: str) -> None:
        done = headings.index(section) if section in headings else 0
        bar.update(task, completed=done, pages=pages, description=f"{report.kind} PDF: {section}"[:60])

    with bar:
        yield advance
        bar.update(task, completed=len(headings))


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
        quiet: QuietOption = False,
    ) -> None:
        _generate(kind, database_url, readmodel_url, as_of, as_occurred_by, partner, authorization, fmt, out, quiet)

    command.__doc__ = doc
    report_app.command(kind)(command)


@report_app.command("compliance")
def compliance_command(
    database_url: DatabaseUrl = None,
    readmodel_url: ReadmodelUrl = None,
    as_of: AsOfOption = None,
    as_occurred_by: OccurredOption = None,
    partner: PartnerOption = None,
    authorization: AuthorizationOption = None,
    partner_scope: Annotated[str | None, typer.Option(
        "--partner-scope", show_default=False,
        help="a partner's own report (what its compliance officer gets over gRPC): the party id; only its and "
        "its subsidiaries' batches, the findings on them and their share of each authorization")] = None,
    fmt: FormatOption = "html",
    out: OutOption = None,
    quiet: QuietOption = False,
) -> None:
    """The compliance report: units by stage, findings, drawdown per authorization, shipments with their ECCN,
    authorization, parties, destination and ITN, classification evidence, record retention (the chain of
    custody is the custody report)."""
    import uuid

    try:
        scope = uuid.UUID(partner_scope.strip()) if partner_scope else None
    except ValueError:
        raise _fail(f"--partner-scope: a party id (a UUID), not {partner_scope!r}") from None
    _generate("compliance", database_url, readmodel_url, as_of, as_occurred_by, partner, authorization, fmt, out,
              quiet, scope=scope)


_command(
    "ownership",
    "The ownership report: per partner units by stage, model and site, compute held against allocation; site "
    "power against capacity; deployments over time; with charts.",
)
@report_app.command("custody")
def custody_command(
    database_url: DatabaseUrl = None,
    readmodel_url: ReadmodelUrl = None,
    as_of: AsOfOption = None,
    as_occurred_by: OccurredOption = None,
    partner: PartnerOption = None,
    authorization: AuthorizationOption = None,
    batch: BatchOption = None,
    serial: SerialOption = None,
    occurred_from: FromOption = None,
    occurred_to: ToOption = None,
    fmt: FormatOption = "html",
    out: OutOption = None,
    quiet: QuietOption = False,
) -> None:
    """The custody report: the chain of custody of the selected batches, event by event; filter it to a
    partner, an authorization, a batch, a serial number or a period of business time."""
    _generate("custody", database_url, readmodel_url, as_of, as_occurred_by, partner, authorization, fmt, out,
              quiet, (batch, serial, occurred_from, occurred_to))


@report_app.command("verify")
def verify_command(
    file: Annotated[Path, typer.Argument(help="a report file (HTML, PDF, CSV or JSON) that gpureg report wrote")],
    database_url: DatabaseUrl = None,
    readmodel_url: ReadmodelUrl = None,
    evidence: Annotated[Path | None, typer.Option(
        "--evidence", help="check offline instead: the journal evidence (`gpureg report evidence`)")] = None,
    public_key: Annotated[list[str] | None, typer.Option(
        "--public-key", help="with --evidence: the log's verifier key (or a file holding it)")] = None,
) -> None:
    """Regenerate a report from the store, from the inputs recorded in the file, and compare byte for
    byte. Exit 0 when the file is exactly what the registry produces, 1 when it is not. With
    --evidence, check offline that every event the report cites is in the signed journal."""
    if evidence is not None:
        from registry.journal.cli import verify_report_evidence

        verify_report_evidence(file, evidence, public_key)
        return
    from registry.domain.errors import RegistryError
    from registry.reports import ReportRequest, verify
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


@report_app.command("evidence")
def evidence_command(
    file: Annotated[Path, typer.Argument(help="a report file gpureg report wrote")],
    out: Annotated[Path | None, typer.Option("--out", help="default: FILE.journal.json")] = None,
    database_url: DatabaseUrl = None,
    readmodel_url: ReadmodelUrl = None,
) -> None:
    """Write the journal evidence for a report: the signed checkpoint it was built on and an
    inclusion proof for every event it cites (check it offline with `report verify --evidence`)."""
    from registry.journal.cli import write_report_evidence

    write_report_evidence(file, out or file.with_name(file.name + ".journal.json"), database_url, readmodel_url)


@report_app.command("checkpoints")
def checkpoints_command(
    database_url: DatabaseUrl = None,
    readmodel_url: ReadmodelUrl = None,
    every: Annotated[int, typer.Option(
        "--every", min=1, help="log positions between two checkpoints (a past-time report replays at most "
        "this many events after the checkpoint before its time)")] = 1000,
    drop: Annotated[bool, typer.Option("--drop", help="remove every checkpoint instead")] = False,
) -> None:
    """Add checkpoints of the as-of replay up to the log head, in the read-model database, so that a
    report as of a past time replays only the events after the latest checkpoint before it (the same
    bytes). Incremental: run it again (e.g. from cron) as the log grows."""
    import time

    from registry.reports.builders.checkpoints import CheckpointStore, drop_checkpoints, make_checkpoints

    with _store(database_url, readmodel_url) as store:
        if store.read_models is None:
            raise _fail("the store has no read-model database to keep checkpoints in")
        engine = store.read_models.engine
        if drop:
            drop_checkpoints(engine)
            typer.echo("dropped every checkpoint")
            return
        started = time.perf_counter()
        made = make_checkpoints(store.registry, engine, every)
        count, size = CheckpointStore(engine).size()
    typer.echo(
        f"added checkpoints at {len(made.positions)} positions up to the log head {made.head:,} "
        f"({made.bytes / 1e6:,.1f} MB) in {time.perf_counter() - started:.1f} s; "
        f"{count} checkpoints stored ({size / 1e6:,.1f} MB)"
    )
