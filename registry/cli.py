"""The ``gpureg`` command line. Each command builds what it needs through the composition root."""

from __future__ import annotations

from typing import Annotated

import typer

from projections.cli import projections_app
from registry.config import settings_from
from registry.epcis.cli import epcis_app
from registry.journal.cli import journal_app
from registry.reports.cli import report_app
from registry.security.cli import certs_app, tokens_app

app = typer.Typer(
    help="Sovereign GPU Registry: the event-sourced system of record for AI GPU batches.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Event store administration.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(projections_app, name="projections")
app.add_typer(report_app, name="report")
app.add_typer(journal_app, name="journal")
app.add_typer(certs_app, name="certs")
app.add_typer(tokens_app, name="tokens")
app.add_typer(epcis_app, name="epcis")

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="GPUREG_DATABASE_URL",
        help="sqlite:///var/registry.db (default) or postgresql://user@host:5432/db[?schema=s]",
        show_default=False,
    ),
]


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


@app.command("serve")
def serve(
    database_url: DatabaseUrl = None,
    listen: Annotated[
        str | None,
        typer.Option("--listen", envvar="GPUREG_LISTEN", show_default=False,
                     help="host:port to serve gRPC on (default 127.0.0.1:50051; port 0 picks a free one)"),
    ] = None,
    default_actor: Annotated[
        str | None,
        typer.Option("--default-actor", envvar="GPUREG_DEFAULT_ACTOR", show_default=False,
                     help="actor recorded when a call has no x-gpureg-actor header (default anonymous)"),
    ] = None,
    max_message_bytes: Annotated[
        int | None,
        typer.Option("--max-message-bytes", envvar="GPUREG_MAX_MESSAGE_BYTES", show_default=False,
                     help="largest request or response message (default 16 MiB)"),
    ] = None,
    grace_seconds: Annotated[
        float | None,
        typer.Option("--grace-seconds", envvar="GPUREG_GRACE_SECONDS", show_default=False,
                     help="on SIGTERM/SIGINT, how long in-flight calls may finish (default 10)"),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option("--log-level", envvar="GPUREG_LOG_LEVEL", show_default=False, help="default INFO"),
    ] = None,
    tls_cert: Annotated[str | None, typer.Option(
        "--tls-cert", envvar="GPUREG_TLS_CERT", show_default=False,
        help="PEM server certificate (enables TLS)")] = None,
    tls_key: Annotated[str | None, typer.Option(
        "--tls-key", envvar="GPUREG_TLS_KEY", show_default=False, help="PEM private key of --tls-cert")] = None,
    tls_client_ca: Annotated[str | None, typer.Option(
        "--tls-client-ca", envvar="GPUREG_TLS_CLIENT_CA", show_default=False,
        help="CA certificate clients' certificates must chain to (mutual TLS)")] = None,
    token_keys: Annotated[str | None, typer.Option(
        "--token-keys", envvar="GPUREG_TOKEN_KEYS", show_default=False,
        help="directory of <kid>.pub.pem keys whose bearer tokens are accepted (re-read on change)")] = None,
    revocation_file: Annotated[str | None, typer.Option(
        "--revocation-file", envvar="GPUREG_REVOCATION_FILE", show_default=False,
        help="revoked token ids and cert:<serial> lines (re-read on change)")] = None,
    epcis_port: Annotated[
        int | None,
        typer.Option("--epcis-port", envvar="GPUREG_EPCIS_PORT", show_default=False,
                     help="also serve the EPCIS 2.0 REST binding (POST /capture, GET /events) on this "
                          "port of the listen host (0 picks a free one; default: off)"),
    ] = None,
    metrics_listen: Annotated[
        str | None,
        typer.Option("--metrics-listen", envvar="GPUREG_METRICS_LISTEN", show_default=False,
                     help="host:port for Prometheus /metrics (make run: 127.0.0.1:9464); default: off"),
    ] = None,
    access_log: Annotated[
        bool | None,
        typer.Option("--access-log/--no-access-log", envvar="GPUREG_ACCESS_LOG", show_default=False,
                     help="one JSON line per RPC on stderr (default off)"),
    ] = None,
) -> None:
    """Serve the gRPC API (commands, queries, event subscriptions, health, reflection) until
    SIGTERM or SIGINT, then drain in-flight calls and exit."""
    import asyncio
    import logging

    from registry.bootstrap import build_server
    from registry.runtime import tune_for_serving
    from registry.server.app import run_until_signalled

    settings = settings_from(
        database_url, listen=listen, default_actor=default_actor,
        max_message_bytes=max_message_bytes, grace_seconds=grace_seconds, log_level=log_level,
        tls_cert=tls_cert, tls_key=tls_key, tls_client_ca=tls_client_ca, token_keys=token_keys,
        revocation_file=revocation_file,
        metrics_listen=metrics_listen, access_log=access_log,
    )
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from registry.server.transport import InsecureConfiguration

    try:
        server = build_server(settings)
    except InsecureConfiguration as e:
        typer.echo(f"gpureg serve: {e}", err=True)
        raise typer.Exit(2) from None
    tune_for_serving()
    try:
        if epcis_port is None:
            asyncio.run(run_until_signalled(server, typer.echo))
        else:
            from registry.bootstrap import build_epcis_http
            from registry.epcis.http import serve_with_grpc

            try:
                http = build_epcis_http(server, epcis_port)
            except InsecureConfiguration as e:
                typer.echo(f"gpureg serve: {e}", err=True)
                raise typer.Exit(2) from None
            asyncio.run(serve_with_grpc(server, http, typer.echo))
    finally:
        server.registry.close()


@app.command("demo")
def demo(
    database_url: DatabaseUrl = None,
    scale: Annotated[float, typer.Option(help="fraction of the 260,000-GPU deployment (0.01 = about 2,600)")] = 1.0,
    seed: Annotated[int, typer.Option(help="the same seed gives the same registry")] = 2025,
    target: Annotated[
        str | None,
        typer.Option(help="host:port of a running server; default: start one on --database-url"),
    ] = None,
    concurrency: Annotated[int, typer.Option(help="calls in flight (batches load in parallel)")] = 16,
    wait: Annotated[bool, typer.Option(help="wait until the read models have caught up")] = True,
    ca: Annotated[str | None, typer.Option(envvar="GPUREG_CLIENT_CA", show_default=False,
                                           help="--target's TLS: the registry CA (PEM)")] = None,
    cert: Annotated[str | None, typer.Option(envvar="GPUREG_CLIENT_CERT", show_default=False,
                                             help="client certificate (gpureg certs client)")] = None,
    key: Annotated[str | None, typer.Option(envvar="GPUREG_CLIENT_KEY", show_default=False,
                                            help="its private key")] = None,
    token_file: Annotated[str | None, typer.Option(envvar="GPUREG_CLIENT_TOKEN_FILE", show_default=False,
                                                   help="a bearer token (gpureg tokens issue)")] = None,
) -> None:
    """Load a seeded version of the Korea deployment through the gRPC API, with planted anomalies."""
    import asyncio
    from contextlib import nullcontext

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from registry.demo.grpc_load import load_over_grpc, wait_for_projections
    from registry.demo.scenario import korea_deployment
    from registry.demo.server_process import serve_in_subprocess
    from registry.security.client import ClientCredentials

    credentials = ClientCredentials.from_files(ca, cert, key, token_file)

    settings = settings_from(database_url)
    typer.echo(f"building the Korea deployment at scale {scale:g} (seed {seed}) ...")
    scenario = korea_deployment(scale=scale, seed=seed)
    typer.echo(
        f"{scenario.gpu_count:,} GPUs in {scenario.batch_count:,} batches, "
        f"{len(scenario):,} commands, {len(scenario.anomalies)} planted anomalies"
    )
    server = nullcontext(None) if target else serve_in_subprocess(settings.database_url)
    with server as process:
        address = target or process.address  # type: ignore[union-attr]
        if process is not None:
            typer.echo(f"started gpureg serve on {address} (store {settings.database_url})")
        with Progress(
            TextColumn("{task.description:<11}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
        ) as bar:
            task = bar.add_task("commands", total=len(scenario))
            stats = asyncio.run(load_over_grpc(
                address, scenario, concurrency=concurrency, progress=lambda n: bar.advance(task, n),
                credentials=credentials))
            waited = 0.0
            if wait:
                caught_up = bar.add_task("projections", total=stats.last_position)
                waited = asyncio.run(wait_for_projections(
                    address, stats.last_position, credentials=credentials,
                    progress=lambda done, total: bar.update(caught_up, completed=done, total=total)))
    rate = stats.steps / stats.seconds if stats.seconds else 0.0
    typer.echo(
        f"loaded {stats.steps:,} commands in {stats.seconds:.1f} s ({rate:,.0f}/s; "
        f"{stats.replayed:,} already there, {stats.retries} retries); log position {stats.last_position:,}"
        + (f"; projections caught up {waited:.1f} s later ({stats.seconds + waited:.1f} s in all)" if wait else "")
    )
    typer.echo("planted anomalies (the compliance projection must find each):")
    for a in scenario.anomalies:
        typer.echo(f"  - {a.kind}: batch {a.batch_id} ({a.detail})")
    typer.echo(query_hint(settings.database_url, target))


def query_hint(database_url: str, target: str | None) -> str:
    """The demo's closing lines: how to query what it loaded. With --target, the server it loaded
    into (still running); otherwise a server to start on the demo's own store (the demo's server
    has stopped), on gpureg serve's default address."""
    address = target or "127.0.0.1:50051"
    start = "" if target else f"gpureg serve --database-url {database_url}, then "
    return (
        f"query it: {start}e.g.\n"
        "  node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge "
        f"-d '{{\"page_size\": 5}}' http://{address}/registry.api.v1.QueryService/ListBatches\n"
        "  node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge "
        f"-d '{{\"statuses\": [\"FINDING_STATUS_OPEN\"]}}' http://{address}/registry.api.v1.ComplianceService/ListFindings"
    )


def main() -> None:
    """Run the CLI. A store that cannot be opened, a bad setting or a port in use ends it with one
    line naming the problem (exit code 1) rather than a traceback."""
    from registry.domain.errors import RegistryError
    from registry.infrastructure.store import StoreUnavailable
    from registry.server.app import ListenError

    try:
        app()
    except (StoreUnavailable, ListenError, RegistryError) as e:
        typer.echo(f"gpureg: error: {e}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
