"""``gpureg certs`` and ``gpureg tokens``: the registry CA, certificates and bearer tokens."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from registry.security.principal import CredentialError, Role

certs_app = typer.Typer(help="The registry CA and its TLS certificates (docs/security.md).", no_args_is_help=True)
tokens_app = typer.Typer(help="Bearer tokens: signing keys, issuing, revoking (docs/security.md).",
                         no_args_is_help=True)

PkiDir = Annotated[Path, typer.Option("--dir", help="the CA directory (ca.pem, ca.key.pem)")]
ROLES = ", ".join(r.value for r in Role)


def duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``8h``, ``30d``."""
    found = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if not found:
        raise typer.BadParameter("a duration like 90s, 15m, 8h or 30d")
    n, unit = int(found[1]), found[2]
    return timedelta(seconds=n * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


@certs_app.command("init")
def certs_init(
    directory: PkiDir = Path("var/pki"),
    name: Annotated[str, typer.Option(help="the CA's common name")] = "gpureg registry CA",
    days: Annotated[int, typer.Option(help="validity")] = 3650,
) -> None:
    """Create the registry CA (once): ca.pem (give to clients and servers) and ca.key.pem (keep offline)."""
    from registry.security.certs import Authority

    try:
        Authority.create(directory, name, days)
    except FileExistsError as e:
        raise typer.BadParameter(str(e)) from None
    typer.echo(f"registry CA created: {directory / 'ca.pem'} (private key {directory / 'ca.key.pem'}, mode 0600)")


@certs_app.command("server")
def certs_server(
    directory: PkiDir = Path("var/pki"),
    host: Annotated[list[str] | None, typer.Option(help="a DNS name or IP clients dial (repeatable)")] = None,
    days: Annotated[int, typer.Option(help="validity")] = 825,
) -> None:
    """Issue the server's TLS certificate (server.pem, server.key.pem in --dir)."""
    from registry.security.certs import Authority

    hosts = host or ["localhost", "127.0.0.1"]
    cert, key, serial = Authority.load(directory).issue_server(directory, hosts, days)
    typer.echo(f"server certificate {cert} (key {key}, serial {serial:x}) for {', '.join(hosts)}")


@certs_app.command("client")
def certs_client(
    subject: Annotated[str, typer.Option(help="the principal's id, recorded as the actor of its events")],
    role: Annotated[str, typer.Option(help=f"one of: {ROLES}")],
    party: Annotated[str | None, typer.Option(help="the party id (required for partner and site_operator)")] = None,
    directory: PkiDir = Path("var/pki"),
    out: Annotated[Path | None, typer.Option(
        help="where to write <subject>.pem and .key.pem (default: --dir/clients)")] = None,
    days: Annotated[int, typer.Option(help="validity")] = 365,
) -> None:
    """Issue a client certificate carrying the principal in subjectAltName URIs."""
    from registry.security.certs import Authority

    try:
        cert, key, serial = Authority.load(directory).issue_client(out or directory / "clients", subject, role, party,
                                                                  days)
    except CredentialError as e:
        raise typer.BadParameter(str(e)) from None
    typer.echo(f"client certificate {cert} (key {key}); revoke it with: gpureg tokens revoke cert:{serial:x}")


@tokens_app.command("keygen")
def tokens_keygen(
    kid: Annotated[str, typer.Option(help="the key id (the token header's kid)")],
    directory: Annotated[Path, typer.Option("--dir", help="key directory")] = Path("var/token-keys"),
) -> None:
    """Create an Ed25519 signing key <kid>.key.pem (0600) and its public key <kid>.pub.pem."""
    from registry.security.tokens import generate_key

    try:
        private, public = generate_key(directory, kid)
    except (FileExistsError, ValueError) as e:
        raise typer.BadParameter(str(e)) from None
    typer.echo(f"signing key {private}; the server trusts {public} (serve --token-keys {directory})")


@tokens_app.command("issue")
def tokens_issue(
    role: Annotated[str, typer.Option(help=f"one of: {ROLES}")],
    subject: Annotated[str, typer.Option(help="the principal's id, recorded as the actor of its events")],
    key: Annotated[Path, typer.Option(help="the signing key, <kid>.key.pem")],
    party: Annotated[str | None, typer.Option(help="the party id (required for partner and site_operator)")] = None,
    ttl: Annotated[str, typer.Option(help="lifetime: 90s, 15m, 8h, 30d")] = "1h",
    issuer: Annotated[str, typer.Option(envvar="GPUREG_TOKEN_ISSUER")] = "gpureg",
    audience: Annotated[str, typer.Option(envvar="GPUREG_TOKEN_AUDIENCE")] = "gpureg-api",
) -> None:
    """Print a signed bearer token (send it as 'authorization: Bearer <token>'); its jti goes to stderr."""
    from registry.security.tokens import issue_token

    try:
        token, jti = issue_token(key, subject=subject, role=role, party=party, ttl=duration(ttl),
                                 issuer=issuer, audience=audience)
    except (CredentialError, ValueError, OSError) as e:
        raise typer.BadParameter(str(e)) from None
    typer.echo(token)
    typer.echo(f"token id (jti) {jti}; revoke with: gpureg tokens revoke {jti}", err=True)


@tokens_app.command("revoke")
def tokens_revoke(
    entry: Annotated[str, typer.Argument(help="a token's jti, or cert:<hex serial> of a client certificate")],
    file: Annotated[Path, typer.Option(envvar="GPUREG_REVOCATION_FILE", help="the server's revocation file")] = Path(
        "var/revoked.txt"),
    note: Annotated[str, typer.Option(help="why (kept as a comment)")] = "",
) -> None:
    """Add a token id or certificate serial to the revocation list (servers re-read it within a second)."""
    from registry.security.tokens import revoke

    revoke(file, entry, note)
    typer.echo(f"revoked {entry} in {file}")
