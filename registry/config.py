"""Settings, from flags or ``GPUREG_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///var/registry.db"


class Settings(BaseSettings):
    """Everything the registry can be told. Every field has a ``GPUREG_`` environment variable.

    ``database_url`` picks the event store: ``sqlite:///path/to/file.db`` (the zero-setup
    default, WAL mode), ``sqlite:///:memory:`` (tests), or ``postgresql://user:pass@host:port/db``
    with an optional ``?schema=name`` (production; several servers and workers share it).
    """

    model_config = SettingsConfigDict(env_prefix="GPUREG_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    readmodel_url: str | None = Field(
        default=None, description="read-model database; defaults to database_url"
    )
    read_database_url: str | None = Field(
        default=None,
        description="a PostgreSQL streaming replica (hot standby) of database_url: read-model queries and "
                    "event subscriptions are served from it (docs/operations.md); unset: from the primary",
    )
    snapshot_interval: int = Field(default=50, ge=2)
    aggregate_cache_size: int = Field(default=2000, ge=0, description="aggregates kept in memory")
    max_occurred_ahead_seconds: float = Field(
        default=300.0, ge=0,
        description="how far a command's occurred_at may be ahead of the registry's clock (client "
                    "clock skew); later is refused as a fact that has not happened yet",
    )
    listen: str = "127.0.0.1:50051"
    default_actor: str = "anonymous"
    max_message_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024)
    log_level: str = "INFO"
    screening_threshold: float = Field(
        default=85.0, gt=0, le=100, description="fuzzy name-match score (0-100) that makes a screening hit"
    )
    run_projections: bool = Field(
        default=True, description="gpureg serve runs the projections in-process (off: run workers)"
    )
    projection_process: bool = Field(
        default=True,
        description="gpureg serve runs its projections in a child worker process (a second core) "
                    "rather than a thread; an in-memory SQLite store always uses the thread",
    )
    projection_poll_seconds: float = Field(
        default=0.1, gt=0, le=600,
        description="SQLite: how often in-process projections look for other processes' writes",
    )
    # gRPC server (``gpureg serve``)
    grace_seconds: float = Field(
        default=10.0, ge=0, description="on SIGTERM/SIGINT, how long in-flight calls may finish"
    )
    worker_threads: int = Field(default=8, ge=1, description="threads running blocking store calls")
    group_sync: bool = Field(
        default=True,
        description="SQLite file store: acknowledge each command after a WAL fsync shared with the "
                    "commands around it, done while the next one runs (off: one fsync inside each commit)",
    )
    pg_group_write: Literal["one", "two"] = Field(
        default="one",
        description="PostgreSQL: a group of commands is written in one round trip, its journal "
                    "leaves made by a database function ('one'), or in two with the leaves made by "
                    "the server ('two': the benchmark's side-by-side baseline)",
    )
    command_threads: int | None = Field(
        default=None, ge=1,
        description="threads running commands (writes); default 1 on SQLite, worker_threads on PostgreSQL",
    )
    subscription_poll_seconds: float = Field(
        default=0.5, gt=0, le=60, description="how often live subscriptions poll the log for other writers"
    )
    subscription_kept_mib: int = Field(
        default=96, ge=0,
        description="MiB of rendered events (and the stored events they came from) a server keeps so "
        "that later subscribers catching up do not render them again; 0 keeps none",
    )
    max_subscriptions_per_principal: int = Field(
        default=16, ge=1, description="open SubscribeEvents streams one principal may hold at once"
    )
    subscriber_stall_seconds: float = Field(
        default=30.0, gt=0, le=3600,
        description="a subscription whose client has not taken a message for this long is ended "
                    "(RESOURCE_EXHAUSTED, with the position to resume after)",
    )
    rate_limit_per_second: float = Field(
        default=0.0, ge=0, description="calls per second per principal (burst: two seconds' worth); 0 = no limit"
    )
    heartbeat_seconds: float = Field(
        default=5.0, ge=0.05, le=300, description="default quiet time before a subscription checkpoint"
    )
    # The verifiable journal (docs/journal.md)
    journal_key_file: str | None = Field(
        default=None, description="the log's Ed25519 note signing key (PRIVATE+KEY+... file; `gpureg journal "
                                  "keygen`); without it the journal is kept but no checkpoint is signed",
    )
    journal_public_keys: str = Field(
        default="", description="earlier (rotated-out) log verifier keys, comma-separated: their checkpoints "
                                "stay verifiable",
    )
    journal_witness_keys: str = Field(
        default="", description="witnesses' cosignature verifier keys, comma-separated: whose cosignatures "
                                "the registry accepts and serves with its checkpoints",
    )
    journal_checkpoint_events: int = Field(default=1000, ge=1, description="sign a checkpoint every N events")
    journal_checkpoint_seconds: float = Field(
        default=10.0, gt=0, description="... or every T seconds while the tree grows"
    )
    # Observability (registry/observability, docs/operations.md)
    metrics_listen: str | None = Field(
        default=None, description="host:port for Prometheus /metrics (port 0 picks one); unset: no metrics port"
    )
    access_log: bool = Field(default=False, description="one JSON access-log line per RPC on stderr")
    otlp_endpoint: str | None = Field(
        default=None, description="OTLP/gRPC endpoint for traces (also OTEL_EXPORTER_OTLP_ENDPOINT); unset: none"
    )

    # identity (docs/security.md): TLS, client certificates, bearer tokens
    tls_cert: str | None = Field(default=None, description="PEM server certificate (enables TLS)")
    tls_key: str | None = Field(default=None, description="PEM private key of tls_cert")
    tls_client_ca: str | None = Field(
        default=None, description="PEM CA certificate: clients must present a certificate it issued (mutual TLS)"
    )
    token_keys: str | None = Field(
        default=None, description="directory of <kid>.pub.pem Ed25519 keys whose bearer tokens are accepted"
    )
    token_issuer: str = "gpureg"  # noqa: S105  # a JWT "iss" value, not a secret
    token_audience: str = "gpureg-api"  # noqa: S105  # a JWT "aud" value, not a secret
    revocation_file: str | None = Field(
        default=None, description="revoked token ids (jti) and certificate serials (cert:<hex>), one a line"
    )
    epcis_secret_key: str | None = Field(
        default=None,
        description="file of a 32-byte key (64 hex digits) that encrypts EPCIS webhook signature tokens "
                    "at rest (AES-256-GCM); unset: stored as given, never answered or logged",
    )

    @property
    def command_lane_threads(self) -> int:
        """Threads for commands. SQLite admits one writer at a time, so on SQLite extra command
        threads only queue on its write lock and contend for the GIL: in the benchmark's
        16-client loop one thread answered about 1.4 times as many commands as eight, with a
        third of the p99 (docs/performance.md). PostgreSQL runs writers concurrently."""
        if self.command_threads is not None:
            return self.command_threads
        return 1 if self.database_url.split(":", 1)[0].split("+", 1)[0] == "sqlite" else self.worker_threads


def settings_from(database_url: str | None, **overrides: object) -> Settings:
    """Settings from the environment, with a command line's options (those given) on top."""
    values: dict[str, object] = {k: v for k, v in overrides.items() if v is not None}
    if database_url:
        values["database_url"] = database_url
    return Settings(**values)  # type: ignore[arg-type]
