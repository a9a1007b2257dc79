"""Adapters to the outside world: the event store, the database URL, process plumbing."""
