"""Commands on different batches that all draw on one authorization (a hot shared aggregate) take
turns inside a server process, instead of racing each other through every retry: each is applied
once, none is answered ABORTED (the full bench's 64 clients on PostgreSQL were). A clearance
names its authorization, so it takes the authorization's turn from its first attempt and never
loses a race to another clearance of the same process: one append each."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from uuid import UUID

from registry.application import commands as c
from registry.bootstrap import build_registry
from registry.config import Settings
from registry.domain.reference import ExportAuthorization
from tests.builders import ACTOR, T0, make_world

WRITERS = 64


def test_clearances_of_many_batches_granted_at_once_on_one_authorization_all_succeed(store_url: str) -> None:
    registry = build_registry(Settings(database_url=store_url))
    try:
        world = make_world(registry)
        batches: list[UUID] = []
        for _ in range(WRITERS):
            batch = world.order(quantity=8)
            world.do("request_clearance", c.RequestClearance, batch_id=batch, eccn="3A090.a",
                     destination_country="KR", consignee_id=world.samsung, end_user_id=world.samsung,
                     quantity=8, end_use="AI factory", authorization_id=world.license,
                     occurred_at=T0 + timedelta(days=1))
            batches.append(batch)
        before = registry.get("authorization", world.license).version
        appends: list[int] = []
        insert_events = registry.recorder.insert_events

        def counted(*args: Any, **kwargs: Any) -> Any:
            appends.append(1)
            return insert_events(*args, **kwargs)

        registry.recorder.insert_events = counted  # type: ignore[method-assign]
        answers: list[Any] = []
        start = threading.Barrier(WRITERS)

        def grant(batch: UUID) -> None:
            command = c.parse(c.GrantClearance, {"batch_id": batch, "authorization_id": world.license,
                                                 "request_id": f"grant-{batch.hex}",
                                                 "occurred_at": T0 + timedelta(days=2)})
            start.wait()
            try:
                answers.append(registry.grant_clearance(ACTOR, command))
            except Exception as e:  # collected: the assertion names it
                answers.append(e)

        threads = [threading.Thread(target=grant, args=(b,)) for b in batches]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        assert [a for a in answers if isinstance(a, Exception)] == []
        auth: ExportAuthorization = registry.get("authorization", world.license)
        assert auth.version == before + WRITERS  # one drawdown per batch, none lost
        assert all(registry.get("batch", b).clearance_status == "granted" for b in batches)
        assert len(appends) == WRITERS  # no race lost: one append per clearance
    finally:
        registry.close()
