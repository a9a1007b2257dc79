"""Per-principal limits on subscriptions: a stalled subscriber costs bounded memory and is
dropped with a resumable position; one principal holds a bounded number of streams; an
optional call rate limit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import events_pb2 as ev
from registry.api.v1 import queries_pb2 as q
from tests.e2e.conftest import RunningServer
from tests.e2e.security_world import Credentials

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 3000


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.slow
def test_a_stalled_subscriber_keeps_server_memory_flat_and_is_dropped_with_a_resumable_position(
    start_server: Callable[..., RunningServer], sqlite_url: str, tmp_path: Path
) -> None:
    creds = Credentials.create(tmp_path)
    server = start_server(sqlite_url, subscriber_stall_seconds=2.0, **creds.settings())
    api = server.stubs()
    admin = creds.md("admin")
    client = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.stalled_subscriber", server.address, creds.token("auditor", subject="slow")],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        api.commands.RegisterParty(c.RegisterPartyRequest(request_id=str(uuid.uuid4()),
            name="first", country="KR", roles=["purchaser"], headquarters_country="KR"), metadata=admin)
        assert client.stdout is not None and client.stdin is not None
        assert client.stdout.readline().strip() == "ready"
        os.kill(client.pid, signal.SIGSTOP)  # it stops reading its socket
        before = rss_kib()
        for i in range(EVENTS):  # about 2.4 KB each: 7 MB the server would hold for it
            api.commands.RegisterParty(c.RegisterPartyRequest(request_id=str(uuid.uuid4()),
                name=f"party {i}", country="KR", roles=["purchaser"], headquarters_country="KR",
                address="x" * 2000), metadata=admin)
        grown = rss_kib() - before
        deadline = time.monotonic() + 30
        while server.server.auth.subscriptions and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.1)
        assert not server.server.auth.subscriptions, "the stalled subscription was not dropped"  # type: ignore[union-attr]
        [(who, written, how)] = list(server.server.auth.dropped)  # type: ignore[union-attr]
        # ended by the stall timeout, or, when that had not fired yet, by gRPC closing the
        # connection of a peer that no longer acknowledges HTTP/2 pings and settings
        stalls = server.server.auth.denials[("RESOURCE_EXHAUSTED", "SUBSCRIBER_STALLED")]  # type: ignore[union-attr]
        assert (how, stalls) in (("stalled", 1), ("cancelled", 0))
        os.kill(client.pid, signal.SIGCONT)
        first = json.loads(client.stdout.readline())
        head = server.head()
        client.stdin.write(f"{head}\n")
        client.stdin.flush()
        second = json.loads(client.stdout.readline())
    finally:
        os.kill(client.pid, signal.SIGCONT)
        client.kill()
        client.wait()
    # the server stopped reading ahead once the sockets' buffers and the HTTP/2 window were full (about
    # 4 MB here), far short of the 7 MB the log gained: it held no more than one page for the subscriber.
    # `written` is the last message whose write completed; the one whose write timed out may still reach
    # the client from the buffers after SIGCONT, so the client may hold a little more than `written`
    # (a CI run saw 3,169 against 3,168), never what the server did not read.
    assert who == "slow" and written < head - 500 and first["last"] < head - 500
    # the stream ended with an error; the client resumes after the greatest position it received
    assert first["code"] in ("RESOURCE_EXHAUSTED", "CANCELLED", "UNAVAILABLE"), first
    # resuming after the greatest position received: every event exactly once, none lost
    positions = second["positions"]
    assert positions == sorted(set(positions)) and positions == list(range(1, head + 1))
    assert grown < 60 * 1024, f"server RSS grew {grown} KiB while a stalled subscriber was open"


def test_one_principal_holds_at_most_the_configured_number_of_subscriptions(
    start_server: Callable[..., RunningServer], sqlite_url: str, tmp_path: Path
) -> None:
    creds = Credentials.create(tmp_path)
    server = start_server(sqlite_url, max_subscriptions_per_principal=2, **creds.settings())
    api = server.stubs()
    token_md = creds.md("auditor", subject="watcher")
    streams = [api.events.SubscribeEvents(ev.SubscribeEventsRequest(), metadata=token_md) for _ in range(2)]
    for s in streams:
        next(s)
    with pytest.raises(grpc.RpcError) as refused:
        next(api.events.SubscribeEvents(ev.SubscribeEventsRequest(), metadata=token_md))
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    other = api.events.SubscribeEvents(ev.SubscribeEventsRequest(), metadata=creds.md("auditor", subject="other"))
    assert next(other).WhichOneof("content") == "checkpoint"  # another principal is not affected
    streams[0].cancel()
    deadline = time.monotonic() + 10
    while True:  # a closed stream frees its place
        try:
            again = api.events.SubscribeEvents(ev.SubscribeEventsRequest(), metadata=token_md)
            next(again)
            break
        except grpc.RpcError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    for s in (*streams, other, again):
        s.cancel()


def test_a_principal_over_the_rate_limit_is_told_to_back_off(
    start_server: Callable[..., RunningServer], sqlite_url: str, tmp_path: Path
) -> None:
    creds = Credentials.create(tmp_path)
    server = start_server(sqlite_url, rate_limit_per_second=5, **creds.settings())
    api = server.stubs()
    md = creds.md("auditor", subject="busy")
    codes = []
    for _ in range(30):
        try:
            api.queries.GetProjectionStatus(q.GetProjectionStatusRequest(), metadata=md)
            codes.append("OK")
        except grpc.RpcError as e:
            codes.append(e.code().name)
    assert codes[:10] == ["OK"] * 10 and "RESOURCE_EXHAUSTED" in codes
    api.queries.GetProjectionStatus(q.GetProjectionStatusRequest(), metadata=creds.md("auditor", subject="calm"))
