"""A throwaway PostgreSQL primary and streaming hot standby, for tests that need a replica.

Built with the server's own tools: ``initdb`` (trust auth on 127.0.0.1, ``wal_level=replica``),
``pg_ctl``, and ``pg_basebackup -R`` (which writes ``standby.signal`` and ``primary_conninfo``),
each on a free port, in a temporary directory removed afterwards. The binaries are found next to
``initdb`` on the PATH (``/usr/local/bin`` here links to ``/usr/lib/postgresql/15/bin``) or in
``pg_config --bindir``. PostgreSQL refuses to run as root: as root, the tools run as the
``postgres`` user through ``runuser`` (a ``gpureg-pg`` system user is created when there is no
``postgres`` user).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def _bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        real = Path(os.path.realpath(found)).parent
        if (real / "pg_basebackup").exists() and (real / "pg_ctl").exists():
            return real
    config = shutil.which("pg_config")
    if config:
        out = subprocess.run([config, "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if out and (Path(out) / "initdb").exists():
            return Path(out)
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    return None


def unavailable() -> str | None:
    """Why a replica pair cannot be started here, or None."""
    if _bindir() is None:
        return "initdb/pg_ctl/pg_basebackup not found (install postgresql)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: PostgreSQL refuses to run as root"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as_user() -> tuple[list[str], str | None]:
    """The command prefix that drops root, and the user (None: not root)."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "gpureg-pg"):
        try:
            pwd.getpwnam(name)
            return ["runuser", "-u", name, "--"], name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "gpureg-pg"],
                   check=True)
    return ["runuser", "-u", "gpureg-pg", "--"], "gpureg-pg"


@dataclass
class ReplicaPair:
    root: Path
    bindir: Path
    prefix: list[str]
    primary_port: int
    standby_port: int

    def url(self, port: int, schema: str | None = None) -> str:
        query = f"?schema={schema}" if schema else ""
        return f"postgresql://postgres@127.0.0.1:{port}/postgres{query}"

    @property
    def primary(self) -> str:
        return self.url(self.primary_port)

    @property
    def standby(self) -> str:
        return self.url(self.standby_port)

    def _tool(self, name: str, *args: str, timeout: float = 120) -> None:
        result = subprocess.run([*self.prefix, str(self.bindir / name), *args], capture_output=True, text=True,
                                timeout=timeout, check=False, cwd=self.root)
        if result.returncode != 0:
            logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in self.root.glob("*.log"))
            raise RuntimeError(f"{name} {' '.join(args)} failed: {result.stdout}{result.stderr}\n{logs}")

    def start(self) -> ReplicaPair:
        primary, standby = self.root / "primary", self.root / "standby"
        self._tool("initdb", "-D", str(primary), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        with (primary / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {self.primary_port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nwal_level = replica\nmax_wal_senders = 4\n"
                "hot_standby = on\nfsync = off\nfull_page_writes = off\nshared_buffers = 32MB\n"
                "max_connections = 60\n")
        self._tool("pg_ctl", "-D", str(primary), "-l", str(self.root / "primary.log"), "-w", "start")
        self._tool("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres",
                   "-D", str(standby), "-R", "-X", "stream", "--no-sync")
        with (standby / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"\nport = {self.standby_port}\nhot_standby_feedback = on\n")
        self._tool("pg_ctl", "-D", str(standby), "-l", str(self.root / "standby.log"), "-w", "start")
        return self

    def stop(self) -> None:
        for name in ("standby", "primary"):
            if (self.root / name / "postmaster.pid").exists():
                with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                    self._tool("pg_ctl", "-D", str(self.root / name), "-m", "immediate", "-w", "stop", timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


def start_replica_pair() -> ReplicaPair:
    bindir = _bindir()
    assert bindir is not None
    prefix, user = _run_as_user()
    root = Path(tempfile.mkdtemp(prefix="gpureg-pg-"))
    if user is not None:
        shutil.chown(root, user=user)
    pair = ReplicaPair(root, bindir, prefix, _free_port(), _free_port())
    try:
        return pair.start()
    except BaseException:
        pair.stop()
        raise


def wait_replayed(primary_url: str, standby_url: str, timeout: float = 30) -> None:
    """Until the standby has replayed everything the primary has written so far."""
    import psycopg

    with psycopg.connect(primary_url.split("?", maxsplit=1)[0], autocommit=True) as p:
        lsn = p.execute("SELECT pg_current_wal_lsn()").fetchone()[0]  # type: ignore[index]
    deadline = time.monotonic() + timeout
    with psycopg.connect(standby_url.split("?", maxsplit=1)[0], autocommit=True) as s:
        while time.monotonic() < deadline:
            row = s.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (str(lsn),)).fetchone()
            if row and row[0]:
                return
            time.sleep(0.02)
    raise TimeoutError("the standby did not catch up")
