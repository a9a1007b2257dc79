"""The EPCIS subscriptions' table in the event store's database (SQLite file and PostgreSQL): one
process at a time holds a subscription's lease, a scheduled subscription's last delivered run is
where a new process resumes, and a signature token is sealed at rest when a key is configured."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from registry.application.service import Registry
from registry.domain.errors import InvalidField
from registry.epcis import subscription_store
from registry.epcis.named_queries import NamedQueries
from registry.epcis.subscription_store import SUBSCRIPTIONS, SubscriptionRow, SubscriptionStore
from tests.builders import make_world
from tests.e2e.test_epcis_queries import _Hook


@pytest.fixture
def hook() -> Iterator[_Hook]:
    receiver = _Hook()
    yield receiver
    receiver.close()


def _subscription(owner: str = "auditor-1") -> SubscriptionRow:
    return SubscriptionRow("5e0c6d0e-8a43-4c1e-9b9e-2f7f1d2a0b01", owner, "all", {}, "https://a.example/cb", "",
                           None, "2026-12-04T00:00:00.000Z", 7, None, None, 0, None, False, 0)


def test_a_subscriptions_lease_is_one_processes_until_it_is_released_or_expires(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = SubscriptionStore.open(store_url), SubscriptionStore.open(store_url)  # two processes
    try:
        assert one.add_query("auditor-1", "all", {}, "2026-12-04T00:00:00.000Z", 10)
        assert two.add_subscription(_subscription(), 10)
        sid = _subscription().id
        assert one.claim(sid, "one") is not None
        assert one.claim(sid, "one") is not None  # renewed
        assert two.claim(sid, "two") is None
        two.progress(sid, "two", position=99, checked=5, notified_at="x", failed=False)  # not its lease
        [row] = one.subscriptions()
        assert (row.position, row.last_notified_at) == (7, None)

        one.release("one")
        claimed = two.claim(sid, "two")
        assert claimed is not None and claimed.position == 7
        two.progress(sid, "two", position=99, checked=5, notified_at="2026-12-04T00:00:01.000Z", failed=False)
        assert one.claim(sid, "one") is None

        monkeypatch.setattr(subscription_store, "LEASE_SECONDS", 0.0)  # two's next claim expires at once
        assert two.claim(sid, "two") is not None
        time.sleep(0.01)
        taken = one.claim(sid, "one")
        assert taken is not None and (taken.position, taken.checked) == (99, 5)
    finally:
        one.close()
        two.close()


def test_a_scheduled_subscription_resumes_in_a_new_process_after_its_last_delivered_run(
    registry: Registry, store_url: str, hook: _Hook
) -> None:
    """Hourly at minute 0: the first process delivers the run at hour H and stops; an order is
    recorded; a new process on the same store, an hour and five seconds later, runs the missed
    H+1 once with only the new order's events."""
    world = make_world(registry)
    first = NamedQueries(registry, SubscriptionStore.open(store_url))
    first.create("auditor-1", "all", {})
    made = first.subscribe("auditor-1", "all", {"dest": hook.url, "schedule": {"minute": "0", "second": "0"},
                                                "initialRecordTime": "2000-01-01T00:00:00Z"}, None)
    hour = (datetime.now(UTC) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    world.order(quantity=4)
    assert first.deliver(hour - timedelta(minutes=30)) == 0  # not one of its times
    assert first.deliver(hour) == 1
    delivered = set(hook.delivered())
    assert delivered
    first.stop()

    world.order(quantity=5, po_number="PO-2026-0002")
    second = NamedQueries(registry, SubscriptionStore.open(store_url))
    try:
        assert second.deliver(hour + timedelta(seconds=30)) == 0
        assert second.deliver(hour + timedelta(hours=1, seconds=5)) == 1
        _, body = hook.received[-1]
        results = json.loads(body)["epcisBody"]["queryResults"]
        assert results["subscriptionID"] == made.id
        resumed = [e["eventID"] for e in results["resultsBody"]["eventList"]]
        assert resumed and not delivered & set(resumed)
        assert second.deliver(hour + timedelta(hours=1, seconds=10)) == 0  # that run is done
        [listed] = second.subscriptions("auditor-1", "all")
        assert listed.public()["lastNotifiedAt"]
    finally:
        second.stop()


def test_a_signature_token_is_sealed_at_rest_with_the_key_and_still_signs_each_delivery(
    registry: Registry, store_url: str, tmp_path: Path, hook: _Hook
) -> None:
    """With ``epcis_secret_key`` the table holds AES-GCM ciphertext, not the token; a process
    without the key leaves the subscription to one that has it."""
    key = tmp_path / "epcis.key"
    key.write_text(os.urandom(32).hex())
    world = make_world(registry)
    keyed = NamedQueries(registry, SubscriptionStore.open(store_url, str(key)))
    keyless = NamedQueries(registry, SubscriptionStore.open(store_url))
    token = "the subscriber's HMAC key"
    try:
        keyed.create("auditor-1", "all", {})
        made = keyed.subscribe("auditor-1", "all", {"dest": hook.url, "stream": True, "signatureToken": token,
                                                    "initialRecordTime": "2000-01-01T00:00:00Z"}, None)
        with keyed.store.engine.connect() as conn:
            stored = conn.execute(select(SUBSCRIPTIONS.c.secret)).scalar_one()
        assert stored.startswith("aesgcm:") and token not in stored
        assert token not in json.dumps(made.public())

        world.order(quantity=4)
        assert keyless.deliver() == 0 and hook.received == []
        assert keyed.deliver() == 1
        headers, body = hook.received[-1]
        assert headers["gs1-signature"] == "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
    finally:
        keyed.stop()
        keyless.stop()


def test_without_the_key_a_token_bearing_subscription_is_refused_and_nothing_is_stored(
    registry: Registry, store_url: str, hook: _Hook, caplog: pytest.LogCaptureFixture
) -> None:
    """No key: a ``signatureToken`` is refused naming the field and the rule, and writes nothing;
    a subscription without one is taken."""
    keyless = NamedQueries(registry, SubscriptionStore.open(store_url))
    token = "a token that must never be stored readable"
    try:
        keyless.create("auditor-1", "all", {})
        with pytest.raises(InvalidField) as refused:
            keyless.subscribe("auditor-1", "all", {"dest": hook.url, "stream": True, "signatureToken": token}, None)
        [(field, rule)] = refused.value.violations
        assert field == "signatureToken" and "sealed-at-rest" in rule and "GPUREG_EPCIS_SECRET_KEY" in rule
        assert token not in str(refused.value)
        assert keyless.store.subscriptions() == []
        keyless.subscribe("auditor-1", "all", {"dest": hook.url, "stream": True}, None)
        [row] = keyless.store.subscriptions()
        assert row.secret == ""
    finally:
        keyless.stop()
    assert token not in caplog.text


def test_a_token_stored_as_given_by_an_earlier_version_is_sealed_when_a_keyed_process_opens_the_store(
    registry: Registry, store_url: str, tmp_path: Path, hook: _Hook, caplog: pytest.LogCaptureFixture
) -> None:
    key = tmp_path / "epcis.key"
    key.write_text(os.urandom(32).hex())
    token = "an earlier version's plain token"
    old = SubscriptionStore.open(store_url)
    try:
        old.add_query("auditor-1", "all", {}, "2026-12-04T00:00:00.000Z", 10)
        with old.engine.begin() as conn:  # as an earlier version wrote it
            row = _subscription()
            conn.execute(SUBSCRIPTIONS.insert().values(
                id=row.id, owner=row.owner, query_name=row.query_name, params="{}", dest=hook.url,
                secret="plain:" + token, party=None, created_at=row.created_at, position=0, since=None,
                last_notified_at=None, failures=0, schedule=None, report_if_empty=False, checked=0,
                lease_holder=None, lease_until=0))
        with caplog.at_level(logging.WARNING):
            NamedQueries(registry, SubscriptionStore.open(store_url)).stop()  # keyless: warned, unchanged
        assert "1 EPCIS subscription signature token(s) are stored unencrypted" in caplog.text
        keyed = NamedQueries(registry, SubscriptionStore.open(store_url, str(key)))
        try:
            with keyed.store.engine.connect() as conn:
                stored = conn.execute(select(SUBSCRIPTIONS.c.secret)).scalar_one()
            assert stored.startswith("aesgcm:") and token not in stored
            make_world(registry).order(quantity=4)
            assert keyed.deliver() == 1
            headers, body = hook.received[-1]
            assert headers["gs1-signature"] == "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
        finally:
            keyed.stop()
    finally:
        old.close()
    assert token not in caplog.text
