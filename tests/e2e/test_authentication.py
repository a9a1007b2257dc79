"""Who may connect: bearer tokens (expired, not yet valid, wrongly signed, wrong audience,
revoked, rotated keys), mutual TLS (a certificate from another CA, a plaintext client against a
TLS server, a revoked certificate), the recorded actor, and the refusal to serve the network
without authentication."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import queries_pb2 as q
from registry.config import Settings
from registry.security.certs import Authority
from registry.security.tokens import generate_key, revoke
from registry.server.transport import InsecureConfiguration, plan_security
from tests.e2e.conftest import RunningServer
from tests.e2e.security_world import Credentials, Pki, bearer

STATUS = q.GetProjectionStatusRequest()


def refusal(call: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as refused:
        call()
    return refused.value


@pytest.fixture
def creds(tmp_path: Path) -> Credentials:
    return Credentials.create(tmp_path)


@pytest.fixture
def tokens_server(start_server: Callable[..., RunningServer], sqlite_url: str, creds: Credentials) -> RunningServer:
    return start_server(sqlite_url, **creds.settings())


def test_a_valid_token_is_accepted_and_its_subject_is_the_recorded_actor_whatever_the_header_says(
    tokens_server: RunningServer, creds: Credentials
) -> None:
    api = tokens_server.stubs()
    md = [*creds.md("admin", subject="ops-lee"), ("x-gpureg-actor", "minister")]
    made = api.commands.RegisterParty(c.RegisterPartyRequest(request_id=str(uuid.uuid4()),
        name="NVIDIA Corporation", country="US", roles=["supplier"], headquarters_country="US"), metadata=md)
    event = tokens_server.registry.history(__import__("uuid").UUID(made.aggregate_id))[0]
    assert event.actor == "ops-lee"


@pytest.mark.parametrize(("case", "options", "reason"), [
    ("expired", {"ttl": timedelta(seconds=1), "now": datetime.now(UTC) - timedelta(hours=1)}, "expired"),
    ("not yet valid", {"not_before": datetime.now(UTC) + timedelta(hours=1)}, "not yet valid"),
    ("wrong audience", {"audience": "someone-else"}, "audience"),
    ("wrong issuer", {"issuer": "mallory"}, "issuer"),
])
def test_a_token_that_is_not_valid_now_or_not_for_this_registry_is_unauthenticated(
    tokens_server: RunningServer, creds: Credentials, case: str, options: dict[str, object], reason: str
) -> None:
    api = tokens_server.stubs()
    error = refusal(lambda: api.queries.GetProjectionStatus(STATUS, metadata=bearer(creds.token("admin", **options))))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, case
    assert reason in (error.details() or "")


def test_a_token_signed_by_an_untrusted_key_or_with_a_forged_signature_is_unauthenticated(
    tokens_server: RunningServer, creds: Credentials, tmp_path: Path
) -> None:
    api = tokens_server.stubs()
    generate_key(tmp_path / "elsewhere", "k1")  # same key id, another key
    forged = Credentials(tmp_path / "other")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keys").symlink_to(tmp_path / "elsewhere")
    error = refusal(lambda: api.queries.GetProjectionStatus(STATUS, metadata=bearer(forged.token("admin"))))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "signature" in (error.details() or "")
    # a genuine token whose claims were edited (role partner -> admin) fails its signature
    head, payload, signature = creds.token("auditor").split(".")
    import base64
    import json
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "admin"
    edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    error = refusal(lambda: api.queries.GetProjectionStatus(STATUS, metadata=bearer(f"{head}.{edited}.{signature}")))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_revoked_token_is_refused_within_seconds_without_a_restart(
    tokens_server: RunningServer, creds: Credentials, caplog: pytest.LogCaptureFixture
) -> None:
    api = tokens_server.stubs()
    from registry.security.tokens import issue_token
    token, jti = issue_token(creds.keys / "k1.key.pem", subject="samsung-ops", role="auditor")
    api.queries.GetProjectionStatus(STATUS, metadata=bearer(token))
    revoke(creds.revocations, jti, "laptop stolen")
    deadline = time.monotonic() + 5
    with caplog.at_level(logging.WARNING, logger="gpureg.access"):
        while True:
            try:
                api.queries.GetProjectionStatus(STATUS, metadata=bearer(token))
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.UNAUTHENTICATED
                assert "revoked" in (e.details() or "")
                break
            assert time.monotonic() < deadline, "the revocation was not honoured"
            time.sleep(0.2)
    record = next(r for r in caplog.records if "revoked" in r.getMessage())
    assert record.gpureg_access["code"] == "UNAUTHENTICATED"  # type: ignore[attr-defined]
    assert token not in caplog.text  # never a token in the log
    assert tokens_server.server.auth.denials[("UNAUTHENTICATED", "BAD_CREDENTIAL")] >= 1  # type: ignore[union-attr]


def test_a_new_signing_key_is_trusted_without_a_restart_and_the_old_keys_tokens_until_it_is_removed(
    tokens_server: RunningServer, creds: Credentials
) -> None:
    api = tokens_server.stubs()
    old = creds.token("auditor")
    generate_key(creds.keys, "k2")
    new = creds.token("auditor", kid="k2")
    deadline = time.monotonic() + 5
    while True:  # the key directory is re-read at most once a second
        try:
            api.queries.GetProjectionStatus(STATUS, metadata=bearer(new))
            break
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.UNAUTHENTICATED and time.monotonic() < deadline
            time.sleep(0.2)
    api.queries.GetProjectionStatus(STATUS, metadata=bearer(old))  # the old key still verifies
    (creds.keys / "k1.pub.pem").unlink()  # retired once its tokens have expired
    deadline = time.monotonic() + 5
    while True:
        try:
            api.queries.GetProjectionStatus(STATUS, metadata=bearer(old))
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.UNAUTHENTICATED
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    api.queries.GetProjectionStatus(STATUS, metadata=bearer(new))


# ---------------------------------------------------------------------- mutual TLS
@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki.create(tmp_path / "pki")


@pytest.fixture
def tls_server(start_server: Callable[..., RunningServer], sqlite_url: str, pki: Pki, tmp_path: Path) -> RunningServer:
    return start_server(sqlite_url, revocation_file=str(tmp_path / "revoked.txt"), **pki.settings())


def test_a_client_certificate_of_the_registry_ca_authenticates_and_names_the_actor(
    tls_server: RunningServer, pki: Pki
) -> None:
    channel = pki.channel(tls_server.address, pki.client("ops-park", "admin"))
    api = tls_server.stubs(channel)
    made = api.commands.RegisterParty(c.RegisterPartyRequest(request_id=str(uuid.uuid4()),
        name="SK Telecom", country="KR", roles=["purchaser"], headquarters_country="KR"),
        metadata=[("x-gpureg-actor", "minister")])
    assert tls_server.registry.history(uuid.UUID(made.aggregate_id))[0].actor == "ops-park"
    # the role in the certificate is what is allowed: an auditor may not write
    auditor = tls_server.stubs(pki.channel(tls_server.address, pki.client("audit-1", "auditor")))
    error = refusal(lambda: auditor.commands.RegisterParty(c.RegisterPartyRequest(request_id=str(uuid.uuid4()),
        name="X", country="KR", roles=["purchaser"], headquarters_country="KR")))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    auditor.queries.GetProjectionStatus(STATUS)


def test_a_client_certificate_from_another_ca_cannot_connect(
    tls_server: RunningServer, pki: Pki, tmp_path: Path
) -> None:
    rogue = Authority.create(tmp_path / "rogue")
    cert, key, _ = rogue.issue_client(tmp_path / "rogue", "mallory", "admin")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(pki.root / "ca.pem").read_bytes(),
        private_key=key.read_bytes(), certificate_chain=cert.read_bytes())
    api = tls_server.stubs(grpc.secure_channel(tls_server.address, credentials))
    error = refusal(lambda: api.queries.GetProjectionStatus(STATUS, timeout=5))
    assert error.code() == grpc.StatusCode.UNAVAILABLE  # the handshake fails: no call reaches the API


def test_a_client_without_a_certificate_or_in_plaintext_cannot_reach_a_mutual_tls_server(
    tls_server: RunningServer, pki: Pki
) -> None:
    no_cert = tls_server.stubs(pki.channel(tls_server.address, None))
    assert refusal(lambda: no_cert.queries.GetProjectionStatus(STATUS, timeout=5)).code() == grpc.StatusCode.UNAVAILABLE
    plaintext = tls_server.stubs(grpc.insecure_channel(tls_server.address))
    assert refusal(lambda: plaintext.queries.GetProjectionStatus(STATUS, timeout=5)).code() == grpc.StatusCode.UNAVAILABLE


def test_a_revoked_client_certificate_is_unauthenticated(
    tls_server: RunningServer, pki: Pki, tmp_path: Path
) -> None:
    cert, key, serial = Authority.load(pki.root).issue_client(pki.root / "clients", "ops-revoked", "admin")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(pki.root / "ca.pem").read_bytes(), private_key=key.read_bytes(),
        certificate_chain=cert.read_bytes())
    api = tls_server.stubs(grpc.secure_channel(tls_server.address, credentials))
    api.queries.GetProjectionStatus(STATUS)
    revoke(tmp_path / "revoked.txt", f"cert:{serial:x}")
    deadline = time.monotonic() + 5
    while True:
        try:
            api.queries.GetProjectionStatus(STATUS)
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.UNAUTHENTICATED
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)


# ---------------------------------------------------------------------- refusing to start
def test_serving_a_network_address_without_tls_and_authentication_refuses_to_start(sqlite_url: str) -> None:
    with pytest.raises(InsecureConfiguration) as refused:
        plan_security(Settings(database_url=sqlite_url, listen="0.0.0.0:0"))
    assert "--tls-client-ca" in str(refused.value) and "gpureg certs init" in str(refused.value)


def test_tls_without_any_client_authentication_refuses_to_start(sqlite_url: str, pki: Pki) -> None:
    settings = pki.settings() | {"tls_client_ca": None}
    with pytest.raises(InsecureConfiguration):
        plan_security(Settings(database_url=sqlite_url, listen="0.0.0.0:0", **settings))


def test_plaintext_on_loopback_without_credentials_is_the_announced_development_mode(
    sqlite_url: str, tmp_path: Path
) -> None:
    security = plan_security(Settings(database_url=sqlite_url, listen="127.0.0.1:0"))
    assert security.development and security.credentials is None
    assert "DEVELOPMENT MODE" in security.mode
    # with token keys, loopback plaintext still requires a token: no development identity
    assert not plan_security(Settings(database_url=sqlite_url, listen="127.0.0.1:0",
                                      token_keys=str(Credentials.create(tmp_path).keys))).development


def test_gpureg_serve_refuses_a_network_address_without_authentication_and_says_how_to_set_it_up(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    gpureg = str(Path(sys.executable).with_name("gpureg"))
    done = subprocess.run([gpureg, "serve", "--listen", "0.0.0.0:0", "--database-url", f"sqlite:///{tmp_path}/r.db"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "refusing to serve 0.0.0.0:0" in done.stderr and "gpureg certs init" in done.stderr


def test_gpureg_serve_on_loopback_without_credentials_announces_development_mode(tmp_path: Path) -> None:
    import subprocess
    import sys

    gpureg = str(Path(sys.executable).with_name("gpureg"))
    serve = subprocess.Popen([gpureg, "serve", "--listen", "127.0.0.1:0", "--database-url",
                              f"sqlite:///{tmp_path}/r.db"], stdout=subprocess.PIPE, text=True,
                             env={**__import__("os").environ, "GPUREG_PROJECTION_PROCESS": "false"})
    try:
        assert serve.stdout is not None
        first, second = serve.stdout.readline(), serve.stdout.readline()
        assert "listening on 127.0.0.1:" in first and "DEVELOPMENT MODE" in first
        assert "DEVELOPMENT MODE" in second and "NO authentication" in second
    finally:
        serve.terminate()
        serve.wait(timeout=60)
