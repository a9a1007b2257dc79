"""The canonical bytes of one stored event: what a journal leaf hashes.

    leaf data = 0x01                              format version (1 byte)
                || uint64 position                 notification id, big-endian (8 bytes)
                || originator id                   the aggregate's UUID, RFC 4122 byte order (16 bytes)
                || uint64 originator_version       big-endian (8 bytes)
                || uint32 len(topic) || topic      UTF-8, as stored
                || uint32 len(state) || state      the stored state bytes exactly as in the store
    leaf hash = SHA-256(0x00 || leaf data)        (RFC 6962 / RFC 9162 MTH of one leaf)

Only stored bytes go in: an upcaster or a library upgrade changes how events decode, never
their stored topic and state, so a leaf never changes. docs/journal.md has the same table.
"""

from __future__ import annotations

from hashlib import sha256
from struct import Struct
from uuid import UUID

FORMAT = 1
_HEAD = Struct(">BQ16sQI")
_LEN = Struct(">I")


def leaf_data(position: int, originator_id: bytes, version: int, topic: str, state: bytes) -> bytes:
    """``originator_id`` is the UUID's 16 bytes."""
    t = topic.encode("utf-8")
    return _HEAD.pack(FORMAT, position, originator_id, version, len(t)) + t + _LEN.pack(len(state)) + state


def event_leaf_hash(position: int, originator_id: bytes, version: int, topic: str, state: bytes) -> bytes:
    t = topic.encode("utf-8")
    h = sha256(b"\x00" + _HEAD.pack(FORMAT, position, originator_id, version, len(t)) + t + _LEN.pack(len(state)))
    h.update(state)  # no copy of the (large) state
    return h.digest()


def id_bytes(originator_id: UUID | str) -> bytes:
    """A stored originator id as 16 bytes (SQLite stores the UUID's hex, PostgreSQL a uuid)."""
    if isinstance(originator_id, UUID):
        return originator_id.bytes
    return UUID(originator_id).bytes
