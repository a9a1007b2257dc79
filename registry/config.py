"""Settings, from flags or ``GPUREG_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

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
    command_threads: int | None = Field(
        default=None, ge=1,
        description="threads running commands (writes); default 1 on SQLite, worker_threads on PostgreSQL",
    )
    subscription_poll_seconds: float = Field(
        default=0.5, gt=0, le=60, description="how often live subscriptions poll the log for other writers"
    )
    heartbeat_seconds: float = Field(
        default=5.0, ge=0.05, le=300, description="default quiet time before a subscription checkpoint"
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
