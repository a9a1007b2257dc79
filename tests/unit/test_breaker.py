"""Which PostgreSQL errors open the store's circuit breaker (registry/infrastructure/breaker.py):
those about the connection, never those about a statement."""

from __future__ import annotations

import psycopg
from eventsourcing.persistence import OperationalError
from psycopg import errors
from psycopg_pool import PoolTimeout

from registry.infrastructure.breaker import connection_lost


def _wrapped(driver_error: psycopg.Error) -> OperationalError:
    """As the library's datastore raises it: its own exception, the driver's as the cause."""
    try:
        try:
            raise driver_error
        except psycopg.Error as e:
            raise OperationalError(str(e)) from e
    except OperationalError as wrapped:
        return wrapped


def test_a_broken_connection_a_refused_connect_and_a_pool_timeout_are_connection_errors() -> None:
    assert connection_lost(_wrapped(psycopg.OperationalError("server closed the connection unexpectedly")))
    assert connection_lost(_wrapped(PoolTimeout("couldn't get a connection after 5.00 sec")))
    assert connection_lost(_wrapped(errors.AdminShutdown("terminating connection due to administrator command")))
    assert connection_lost(_wrapped(psycopg.InterfaceError("the connection is closed")))


def test_a_lock_timeout_a_serialization_failure_and_a_conflict_are_not() -> None:
    assert not connection_lost(_wrapped(errors.LockNotAvailable("canceling statement due to lock timeout")))
    assert not connection_lost(_wrapped(errors.SerializationFailure("could not serialize access")))
    assert not connection_lost(_wrapped(errors.UniqueViolation("duplicate key value")))
    assert not connection_lost(OperationalError("no driver error behind it"))
