"""The gRPC interface: servicers, the error table, the caller-identity seam and the server.

Nothing here decides business rules: requests become validated commands
(:func:`registry.application.commands.parse`), the :class:`~registry.application.service.Registry`
decides, and :mod:`registry.server.errors` says how each refusal looks on the wire.
Build a server through :func:`registry.bootstrap.build_server`.
"""
