"""A subscriber in its own process, for tests/e2e/test_subscription_limits.py.

``python -m tests.e2e.stalled_subscriber <address> <token>``: subscribes from the start of the
log (one event per message), prints ``ready`` after the first message, then reads on whenever
it runs (the test stops it with SIGSTOP meanwhile). When its stream ends it prints one JSON line:
the messages received, the greatest position, the status code and the ``after_position`` the
server named; then it resumes after its greatest position until it reaches the head given on
stdin, and prints the positions it received in all, as a second JSON line.
"""

from __future__ import annotations

import json
import sys

import grpc
from google.rpc import error_details_pb2, status_pb2

from registry.api.v1 import events_pb2 as ev
from registry.api.v1 import events_pb2_grpc


def main() -> None:
    address, token = sys.argv[1], sys.argv[2]
    stub = events_pb2_grpc.EventServiceStub(grpc.insecure_channel(address))
    md = [("authorization", f"Bearer {token}")]
    positions: list[int] = []
    received = 0
    stream = stub.SubscribeEvents(ev.SubscribeEventsRequest(after_position=0, max_events_per_message=1, include_request_records=True), metadata=md)
    code, resume = "OK", ""
    try:
        for message in stream:
            received += 1
            positions += [e.position for e in message.events.events]
            if received == 1:
                print("ready", flush=True)
    except grpc.RpcError as e:
        code = e.code().name
        for key, value in e.trailing_metadata() or ():
            if key == "grpc-status-details-bin":
                status = status_pb2.Status.FromString(value)
                for detail in status.details:
                    info = error_details_pb2.ErrorInfo()
                    if detail.Unpack(info):
                        resume = info.metadata.get("after_position", "")
    print(json.dumps({"received": received, "last": max(positions, default=0), "code": code,
                      "after_position": resume}), flush=True)
    head = int(sys.stdin.readline())
    after = max(positions, default=0)
    stream = stub.SubscribeEvents(ev.SubscribeEventsRequest(after_position=after, max_events_per_message=1000, include_request_records=True),
                                  metadata=md)
    for message in stream:
        positions += [e.position for e in message.events.events]
        if message.WhichOneof("content") == "checkpoint" and message.checkpoint.position >= head:
            break
    stream.cancel()
    print(json.dumps({"positions": positions}), flush=True)


if __name__ == "__main__":
    main()
