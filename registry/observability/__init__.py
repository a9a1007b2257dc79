"""What an operator sees: Prometheus metrics on a side port, a JSON access log per RPC, and
OpenTelemetry traces (docs/operations.md). Nothing here runs at import time; the composition root
(registry/bootstrap.py) builds an :class:`~registry.observability.setup.Observability`."""
