"""A projection worker stops on SIGTERM even when the signal lands while its main thread holds
the lock of the event it waits on (a once-in-hundreds CI hang before the stop moved to a thread)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from projections.worker_process import stop_on_signals


@pytest.fixture
def sigusr1() -> Iterator[int]:
    previous = signal.getsignal(signal.SIGUSR1)
    try:
        yield signal.SIGUSR1
    finally:
        signal.signal(signal.SIGUSR1, previous)


@pytest.mark.timeout(20, method="thread")
def test_a_signal_while_the_main_thread_holds_the_stop_events_lock_still_stops(sigusr1: int) -> None:
    stop = threading.Event()
    stop_on_signals(stop.set, signals=(sigusr1,))
    # Event.wait holds this lock (CPython keeps it in the event's Condition) before it sleeps
    # and after it wakes; a handler that set the event itself would wait on it for ever here.
    with stop._cond:  # type: ignore[attr-defined]
        os.kill(os.getpid(), sigusr1)
        time.sleep(0.1)  # the handler runs in this thread, inside this block
        assert not stop.is_set()
    assert stop.wait(10), "the stop was never requested"


@pytest.mark.timeout(20, method="thread")
def test_a_signal_stops_a_main_thread_that_is_waiting_on_the_stop_event(sigusr1: int) -> None:
    stop = threading.Event()
    stop_on_signals(stop.set, signals=(sigusr1,))
    threading.Timer(0.05, os.kill, (os.getpid(), sigusr1)).start()
    assert stop.wait(10)
