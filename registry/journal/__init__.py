"""The verifiable journal: an RFC 6962 / RFC 9162 Merkle tree over the event log, C2SP checkpoints
(signed notes), proofs, verification and witnesses. docs/journal.md describes every format."""
