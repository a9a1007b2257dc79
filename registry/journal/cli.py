"""``gpureg journal ...``: keys, initialisation, checkpoints, verification, export, the witness."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from registry.journal.note import Verifier

journal_app = typer.Typer(
    help="The verifiable journal: an RFC 6962 Merkle tree over the event log, signed checkpoints, "
         "proofs and witnesses (docs/journal.md).",
    no_args_is_help=True,
)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="GPUREG_DATABASE_URL", show_default=False,
                 help="the event store (default sqlite:///var/registry.db)"),
]
PublicKeys = Annotated[
    list[str] | None,
    typer.Option("--public-key", help="a log verifier key (<name>+<hex id>+<base64 key>) or a file holding one; "
                                      "repeat for rotated-out keys", show_default=False),
]


def _settings(database_url: str | None):  # type: ignore[no-untyped-def]
    from registry.config import Settings

    return Settings(database_url=database_url) if database_url else Settings()


def read_keys(values: list[str] | None) -> list[Verifier]:
    keys: list[Verifier] = []
    for value in values or []:
        text = Path(value).read_text(encoding="utf-8") if Path(value).is_file() else value
        keys.extend(Verifier.parse(line) for line in text.splitlines() if line.strip())
    return keys


@journal_app.command("keygen")
def keygen(
    name: Annotated[str, typer.Option(
        "--name", help="the key name: the checkpoint origin, e.g. registry.example.kr/gpureg")],
    out: Annotated[Path, typer.Option("--out", help="private key file to create (mode 0600; never overwritten)")],
    cosigner: Annotated[bool, typer.Option("--cosigner", help="a witness's cosignature key (type 0x04)")] = False,
) -> None:
    """Create an Ed25519 key; prints its public verifier key (the private key is only written to --out)."""
    from registry.journal.note import ALG_COSIGNATURE_V1, ALG_ED25519, Signer

    signer = Signer.generate(name, ALG_COSIGNATURE_V1 if cosigner else ALG_ED25519)
    try:
        signer.save(out)
    except FileExistsError:
        typer.echo(f"--out: {out} exists; a key file is never overwritten", err=True)
        raise typer.Exit(2) from None
    typer.echo(signer.verifier.encode())


@journal_app.command("init")
def init(database_url: DatabaseUrl = None) -> None:
    """Give a store from before the journal its leaves (also done automatically at start)."""
    from registry.bootstrap import build_journal, build_registry

    settings = _settings(database_url)
    registry = build_registry(settings)
    try:
        written = build_journal(settings, registry).ensure()
        typer.echo(f"journal ready ({written} existing events became leaves)")
    finally:
        registry.close()


@journal_app.command("checkpoint")
def checkpoint(database_url: DatabaseUrl = None) -> None:
    """Sign a checkpoint of the journal now (needs GPUREG_JOURNAL_KEY_FILE); prints it."""
    from registry.bootstrap import build_journal, build_registry
    from registry.journal.service import JournalError

    settings = _settings(database_url)
    registry = build_registry(settings)
    try:
        journal = build_journal(settings, registry)
        journal.ensure()
        note = journal.checkpoint()
        typer.echo(note or "the journal is empty: nothing to sign", nl=False)
    except JournalError as e:
        typer.echo(f"journal: {e}", err=True)
        raise typer.Exit(1) from None
    finally:
        registry.close()


@journal_app.command("verify")
def verify_cmd(
    database_url: DatabaseUrl = None,
    file: Annotated[Path | None, typer.Option("--file", help="verify this exported journal offline instead")] = None,
    public_key: PublicKeys = None,
    checkpoint_files: Annotated[
        list[Path] | None,
        typer.Option("--checkpoint", help="also check against this signed checkpoint (from a witness, a report)"),
    ] = None,
    allow_unsigned_tail: Annotated[
        bool, typer.Option("--allow-unsigned-tail",
                           help="events after the last checkpoint are a warning, not a failure")
    ] = False,
) -> None:
    """Recompute every leaf and root; exit 1 naming the first bad position and what is wrong there."""
    from registry.journal.verify import verify_export

    keys = read_keys(public_key)
    extra = [p.read_text(encoding="utf-8") for p in checkpoint_files or []]
    if file is not None:
        if not keys:
            typer.echo("--public-key: required to verify an export offline", err=True)
            raise typer.Exit(2)
        with file.open(encoding="utf-8") as f:
            report = verify_export(f, keys, extra_checkpoints=extra, allow_unsigned_tail=allow_unsigned_tail)
        source = str(file)
    else:
        from registry.bootstrap import build_journal, build_registry

        settings = _settings(database_url)
        registry = build_registry(settings)
        try:
            journal = build_journal(settings, registry)
            if not keys and not journal.log_keys:
                typer.echo("--public-key: required (or GPUREG_JOURNAL_KEY_FILE)", err=True)
                raise typer.Exit(2)
            report = journal.verify_store(keys=keys, extra_checkpoints=extra,
                                          allow_unsigned_tail=allow_unsigned_tail)
        finally:
            registry.close()
        source = settings.database_url.split("?", 1)[0]
    rate = report.events / report.seconds if report.seconds > 0 else 0.0
    for w in report.warnings:
        typer.echo(f"warning: {w}", err=True)
    if report.problem is not None:
        typer.echo(f"journal BROKEN at {report.problem}", err=True)
        typer.echo(f"({source}: checked {report.events} events before stopping)", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"journal OK: {report.events} events, tree size {report.size}, root {report.root.hex()}, "
        f"{report.checkpoints} signed checkpoint(s), signed up to {report.signed_size}; "
        f"{report.seconds:.3f} s ({rate:,.0f} events/s)"
    )


@journal_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="the journal file to write ('-' for stdout)")],
    database_url: DatabaseUrl = None,
    from_position: Annotated[int, typer.Option("--from-position", help="first position to export")] = 0,
) -> None:
    """Export the journal (events, leaf hashes, the latest checkpoint) as JSON lines."""
    from registry.bootstrap import build_journal, build_registry

    settings = _settings(database_url)
    registry = build_registry(settings)
    try:
        journal = build_journal(settings, registry)
        sink = sys.stdout if str(out) == "-" else out.open("w", encoding="utf-8")
        try:
            for record in journal.export(from_position):
                sink.write(json.dumps(record, separators=(",", ":")) + "\n")
        finally:
            if sink is not sys.stdout:
                sink.close()
    finally:
        registry.close()


@journal_app.command("witness")
def witness_cmd(
    server: Annotated[str, typer.Option("--server", help="the registry's gRPC address, host:port")],
    log_key: PublicKeys = None,
    key_file: Annotated[Path, typer.Option(
        "--key-file", help="this witness's key (`gpureg journal keygen --cosigner`)")] = Path("witness.key"),
    state: Annotated[Path, typer.Option("--state", help="the last accepted checkpoint (JSON)")] = Path("witness.json"),
    once: Annotated[bool, typer.Option("--once", help="one round, then exit (0 accepted, 3 alarm, 1 error)")] = False,
    interval: Annotated[float, typer.Option("--interval", help="seconds between rounds")] = 60.0,
) -> None:
    """Fetch checkpoints, check each extends the last one accepted, cosign; exit 3 on a fork or rewrite."""
    import logging

    from registry.journal.note import Signer
    from registry.journal.witness import run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    keys = read_keys(log_key)
    if not keys:
        typer.echo("--public-key: the log's verifier key is required", err=True)
        raise typer.Exit(2)
    raise typer.Exit(run(server, keys, Signer.load(key_file), state, once=once, interval=interval))


def write_report_evidence(file: Path, out: Path, database_url: str | None, readmodel_url: str | None) -> None:
    """``gpureg report evidence`` (registry/journal/evidence.py)."""
    from registry.bootstrap import build_journal
    from registry.domain.errors import RegistryError
    from registry.journal import evidence
    from registry.journal.service import JournalError
    from registry.reports.builders import ReportSession
    from registry.reports.store_access import StoreMissing, open_store
    from registry.reports.verify import read_recorded

    data = file.read_bytes()
    try:
        _fmt, request, _digest = read_recorded(data)
        with open_store(database_url, readmodel_url) as store, ReportSession(store) as session:
            report = session.regenerate(request)
            log_position, cited = evidence.cited_positions(report)
            journal = build_journal(_settings(database_url), store.registry)
            doc = evidence.build(journal, data, log_position, cited)
    except (RegistryError, JournalError, StoreMissing) as e:
        typer.echo(f"cannot build the evidence: {e}", err=True)
        raise typer.Exit(1) from None
    out.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    typer.echo(f"wrote journal evidence for {len(doc['events'])} cited event(s), log position {log_position}, "
               f"to {out}")


def verify_report_evidence(file: Path, evidence_file: Path, public_key: list[str] | None) -> None:
    """``gpureg report verify FILE --evidence E --public-key K``: offline, no store."""
    from registry.journal import evidence

    keys = read_keys(public_key)
    if not keys:
        typer.echo("--public-key: required with --evidence", err=True)
        raise typer.Exit(2)
    doc = json.loads(evidence_file.read_text(encoding="utf-8"))
    problems = evidence.check(doc, file.read_bytes(), keys)
    if problems:
        for p in problems:
            typer.echo(f"EVIDENCE FAILS: {p}")
        raise typer.Exit(1)
    typer.echo(f"EVIDENCE HOLDS: {len(doc['events'])} cited event(s) are in the signed journal "
               f"(log position {doc['log_position']})")
