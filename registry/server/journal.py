"""JournalService: checkpoints, inclusion and consistency proofs, the streamed export, cosignatures.

Every call runs on the blocking pool; a journal refusal (a size beyond the tree, a position not in
it) is INVALID_ARGUMENT naming the request field, a missing checkpoint FAILED_PRECONDITION.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from typing import Any

from registry.api.v1 import journal_pb2 as pb
from registry.api.v1 import journal_pb2_grpc
from registry.domain.errors import InvalidField, NotFound
from registry.journal.note import Checkpoint, Note
from registry.journal.service import Journal, JournalError
from registry.server.calls import answer, refuse_if_expired
from registry.server.concurrency import Blocking
from registry.server.errors import status_for


class JournalServicer(journal_pb2_grpc.JournalServiceServicer):
    def __init__(self, journal: Journal, blocking: Blocking) -> None:
        self.journal = journal
        self.blocking = blocking

    async def GetCheckpoint(self, request: pb.GetCheckpointRequest, context: Any) -> pb.GetCheckpointResponse:
        def work() -> pb.GetCheckpointResponse:
            latest = self.journal.latest_checkpoint()
            if latest is None:
                raise NotFound("checkpoint", "latest")
            note, _size = latest
            cp = Checkpoint.parse_text(Note.parse(note).text)
            return pb.GetCheckpointResponse(note=note, tree_size=cp.size, root_hash=cp.root)

        async def run() -> pb.GetCheckpointResponse:
            return await self.blocking(work)

        return await answer(context, run)

    async def GetInclusionProof(
        self, request: pb.GetInclusionProofRequest, context: Any
    ) -> pb.GetInclusionProofResponse:
        def work() -> pb.GetInclusionProofResponse:
            try:
                proof = self.journal.inclusion_proof(request.position, request.tree_size)
            except JournalError as e:
                field = "tree_size" if "tree size" in str(e) else "position"
                raise InvalidField.one(field, str(e)) from None
            return pb.GetInclusionProofResponse(
                position=proof.position, leaf_index=proof.leaf_index, tree_size=proof.tree_size,
                leaf_hash=proof.leaf_hash, hashes=proof.hashes, root_hash=self.journal.root(proof.tree_size),
            )

        async def run() -> pb.GetInclusionProofResponse:
            return await self.blocking(work)

        return await answer(context, run)

    async def GetConsistencyProof(
        self, request: pb.GetConsistencyProofRequest, context: Any
    ) -> pb.GetConsistencyProofResponse:
        def work() -> pb.GetConsistencyProofResponse:
            try:
                first, second, hashes = self.journal.consistency_proof(request.first_size, request.second_size)
            except JournalError as e:
                field = "first_size" if "first size" in str(e) else "second_size"
                raise InvalidField.one(field, str(e)) from None
            return pb.GetConsistencyProofResponse(
                first_size=first, second_size=second, hashes=hashes,
                first_root_hash=self.journal.root_at(first), second_root_hash=self.journal.root_at(second),
            )

        async def run() -> pb.GetConsistencyProofResponse:
            return await self.blocking(work)

        return await answer(context, run)

    async def ExportJournal(
        self, request: pb.ExportJournalRequest, context: Any
    ) -> AsyncIterator[pb.ExportJournalResponse]:
        await refuse_if_expired(context)
        records: Iterator[dict[str, Any]] = self.journal.export(request.from_position)
        done = object()
        try:
            while True:
                batch = await self.blocking(_take, records, 500, done)
                for record in batch:
                    yield _export_message(record)
                if len(batch) < 500:
                    return
        except Exception as error:  # every error is mapped
            await context.abort_with_status(status_for(error))

    async def AddCosignature(self, request: pb.AddCosignatureRequest, context: Any) -> pb.AddCosignatureResponse:
        def work() -> pb.AddCosignatureResponse:
            try:
                return pb.AddCosignatureResponse(witness=self.journal.add_cosignature(request.note))
            except JournalError as e:
                raise InvalidField.one("note", str(e)) from None

        async def run() -> pb.AddCosignatureResponse:
            return await self.blocking(work)

        return await answer(context, run)


def _take(records: Iterator[dict[str, Any]], n: int, done: object) -> list[dict[str, Any]]:
    out = []
    for record in records:
        out.append(record)
        if len(out) == n:
            break
    return out


def _export_message(record: dict[str, Any]) -> pb.ExportJournalResponse:
    if "format" in record:
        return pb.ExportJournalResponse(header=pb.JournalExportHeader(
            format=record["format"], start_index=record["start_index"],
            prefix=[base64.b64decode(h) for h in record["prefix"]], checkpoint=record["checkpoint"],
        ))
    return pb.ExportJournalResponse(entry=pb.JournalEntry(
        leaf_index=record["index"], position=record["position"],
        originator_id=bytes.fromhex(record["originator_id"]), originator_version=record["originator_version"],
        topic=record["topic"], state=base64.b64decode(record["state"]),
        leaf_hash=base64.b64decode(record["leaf_hash"]),
    ))


def export_record(message: pb.ExportJournalResponse) -> dict[str, Any]:
    """An export message as the JSON-lines record ``gpureg journal export`` writes."""
    if message.HasField("header"):
        h = message.header
        return {"format": h.format, "start_index": h.start_index,
                "prefix": [base64.b64encode(p).decode() for p in h.prefix], "checkpoint": h.checkpoint}
    e = message.entry
    return {"index": e.leaf_index, "position": e.position, "originator_id": e.originator_id.hex(),
            "originator_version": e.originator_version, "topic": e.topic,
            "state": base64.b64encode(e.state).decode(), "leaf_hash": base64.b64encode(e.leaf_hash).decode()}
