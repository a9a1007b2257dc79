"""What `gpureg serve` prints about itself."""

from __future__ import annotations

from registry.server.app import redacted


def test_the_announced_store_url_hides_the_password() -> None:
    assert (
        redacted("postgresql://gpureg:s3cret@db:5432/reg?schema=a")
        == "postgresql://gpureg:***@db:5432/reg?schema=a"
    )
    assert redacted("sqlite:///var/registry.db") == "sqlite:///var/registry.db"
