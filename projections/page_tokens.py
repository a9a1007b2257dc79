"""Opaque page tokens of the read-model queries ("the page after this value")."""

from __future__ import annotations

import base64
import binascii

from registry.domain.errors import InvalidField


def encode_page_token(after: str | int) -> str:
    """An opaque token for "the page after ``after``" (a creation position or a serial)."""
    return base64.urlsafe_b64encode(f"v1:{after}".encode()).decode().rstrip("=")


def decode_page_token(token: str) -> str:
    """The value inside a token; '' for the first page; InvalidField for a foreign token."""
    if not token:
        return ""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raw = ""
    version, _, value = raw.partition(":")
    if version != "v1" or not value:
        raise InvalidField.one("page_token", "not a token this service returned")
    return value


__all__ = ["decode_page_token", "encode_page_token"]
