"""``gpureg serve``'s default: projections in a child worker process, woken on every write,
restarted when it dies, and never outliving the server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import grpc

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import commands_pb2_grpc
from registry.api.v1 import queries_pb2 as q
from tests.e2e.conftest import RunningServer
from tests.e2e.world import build_world, new_request_id, place_order

GPUREG = Path(sys.executable).with_name("gpureg")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z"))


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_read_models_follow_writes_from_a_child_process_that_is_restarted_when_it_dies(
    start_server: Callable[..., RunningServer], sqlite_url: str
) -> None:
    server = start_server(sqlite_url, projection_process=True)
    read_side = server.server.read_side
    assert read_side is not None and read_side.runner is None and read_side.process is not None
    child = read_side.process.pid
    assert child is not None and child != os.getpid()
    api = server.stubs()
    w = build_world(api)

    first = place_order(api, w, quantity=8)
    listed = api.queries.ListBatches(q.ListBatchesRequest(min_position=server.head()), timeout=60)
    assert [b.batch_id for b in listed.batches] == [first]

    os.kill(child, signal.SIGKILL)
    assert _gone_within(child, 10)
    second = place_order(api, w, quantity=16)
    listed = api.queries.ListBatches(q.ListBatchesRequest(min_position=server.head()), timeout=60)
    assert sorted(b.batch_id for b in listed.batches) == sorted([first, second])
    assert read_side.process.starts == 2 and read_side.process.pid != child

    replacement = read_side.process.pid
    assert replacement is not None
    server.stop()
    assert not _alive(replacement)


def _projection_children(pid: int) -> list[int]:
    """The projection worker processes ``pid`` started (from any of its threads)."""
    children = [c for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]
    return [int(c) for c in children
            if "projections" in Path(f"/proc/{c}/cmdline").read_text().replace("\0", " ")]


def test_the_projection_process_dies_within_a_second_of_gpureg_serve_being_killed_even_while_starting(
    sqlite_url: str,
) -> None:
    serve = subprocess.Popen(
        [str(GPUREG), "serve", "--listen", "127.0.0.1:0", "--database-url", sqlite_url],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert serve.stdout is not None
        assert "listening on" in serve.stdout.readline()
        (worker,) = _projection_children(serve.pid)  # still importing its modules, most likely

        serve.kill()
        serve.wait()

        assert _gone_within(worker, 1.0)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()


def test_the_projection_process_stops_when_gpureg_serve_is_killed(sqlite_url: str) -> None:
    serve = subprocess.Popen(
        [str(GPUREG), "serve", "--listen", "127.0.0.1:0", "--database-url", sqlite_url],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert serve.stdout is not None
        found = re.search(r"listening on (127\.0\.0\.1:\d+)", serve.stdout.readline())
        assert found
        with grpc.insecure_channel(found.group(1)) as channel:
            commands_pb2_grpc.CommandServiceStub(channel).RegisterParty(
                c.RegisterPartyRequest(request_id=new_request_id(), name="KT Cloud", country="KR", roles=["operator"], headquarters_country="KR"),
                timeout=30)
        workers = _projection_children(serve.pid)
        assert len(workers) == 1

        serve.kill()  # no chance to stop its child: the child notices its stdin close
        serve.wait()
        assert _gone_within(workers[0], 30)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
