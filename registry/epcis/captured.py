"""Captured EPCIS events kept as captured (EPCIS 2.0 section 8.2: a query returns the events as
they were captured, with the repository's ``recordTime``).

A command captured from an EPCIS event carries the event in the canonical form of
:func:`canonical` (``Command.epcis_event``); the executor writes it on the command's request
record (``RequestRecord.Handled.captured``), in the same atomic write as the command's events, so
an acknowledged capture never loses it and a refused one writes nothing. An export renders a
stored event whose request id is ``epcis:{eventID}`` from that record (:func:`as_captured`).

The canonical form is the JSON text (keys sorted, no insignificant white space, UTF-8) of an object
``{"event": E}``: ``E`` is the event object as received after the standard's
validation, with the registry's own extension names spelled ``gpureg:`` (a document that binds
the registry's namespace to another prefix is read so), the CBV 2.0 terms of its ``bizStep``,
``disposition``, ``persistentDisposition``, business transaction, source/destination types and
error reason given as CBV URNs (``urn:epcglobal:cbv:bizstep:shipping``, which GS1's JSON schema
does not admit) spelled as the bare words (the same term: JSON-LD expands the bare word to
``https://ref.gs1.org/cbv/BizStep-shipping``; a web URI is kept as given), its ``eventID`` the one it was captured
under (the capturer's, or the event hash given to an event without one) and without
``recordTime`` (the repository's to set). The prefixes of the capturing document's ``@context``
that ``E``'s names use (other namespaces' extensions as JSON-LD compact IRIs, e.g. ``ex:seal``),
except the registry's own, become ``E``'s own ``@context`` (an object of them, before any context
the event carried itself): the event means the same in any document it is exported in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from registry.domain.claims import RequestRecord
from registry.epcis import vocabulary as v

Event = dict[str, Any]


def _names(value: Any, out: set[str]) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            out.add(str(key))
            _names(inner, out)
    elif isinstance(value, list):
        for inner in value:
            _names(inner, out)


def _term(kind: str, value: Any) -> Any:
    """A CBV value in the JSON binding's spelling: its bare term when it is a CBV 2.0 term given
    as a CBV URN (JSON-LD: the same IRI under GS1's context); else as is (a web URI too)."""
    if not isinstance(value, str) or not value.startswith("urn:epcglobal:cbv:"):
        return value
    bare = v.cbv_term(kind, value)
    return bare if bare in v.cbv_terms(kind) else value


def _typed(entries: Any, kind: str) -> Any:
    if not isinstance(entries, list):
        return entries
    return [{**e, "type": _term(kind, e["type"])} if isinstance(e, Mapping) and "type" in e else e
            for e in entries]


def _cbv(body: dict[str, Any]) -> dict[str, Any]:
    """The event's CBV values spelled as the JSON binding does (GS1's JSON schema admits no
    ``urn:epcglobal:cbv:`` URN, which EPCIS 1.x documents and XML use)."""
    out = dict(body)
    for name, kind in (("bizStep", "bizStep"), ("disposition", "disposition")):
        if name in out:
            out[name] = _term(kind, out[name])
    persistent = out.get("persistentDisposition")
    if isinstance(persistent, Mapping):
        out["persistentDisposition"] = {
            k: [_term("disposition", t) for t in val] if isinstance(val, list) else val
            for k, val in persistent.items()
        }
    if "bizTransactionList" in out:
        out["bizTransactionList"] = _typed(out["bizTransactionList"], "btt")
    for name in ("sourceList", "destinationList"):
        if name in out:
            out[name] = _typed(out[name], "sdt")
    declaration = out.get("errorDeclaration")
    if isinstance(declaration, Mapping) and "reason" in declaration:
        out["errorDeclaration"] = {**declaration, "reason": _term("er", declaration["reason"])}
    return out


def canonical(event: Mapping[str, Any], event_id: str, prefixes: Mapping[str, str]) -> str:
    """The canonical form of a captured event (see the module's docstring)."""
    body = _cbv({k: val for k, val in event.items() if k not in ("recordTime", "eventID")})
    names: set[str] = set()
    _names(body, names)
    used = {name.split(":", 1)[0] for name in names if ":" in name}
    kept = {p: iri for p, iri in prefixes.items()
            if p in used and isinstance(iri, str) and (p, iri) != (v.PREFIX, v.NAMESPACE)}
    if kept:  # the document's prefixes the event uses, as the event's own context (JSON-LD)
        own = body.get("@context")
        body["@context"] = kept if own is None else [kept, *(own if isinstance(own, list) else [own])]
    return json.dumps({"event": {"eventID": event_id, **body}},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class CapturedEvents:
    """The captured form of stored events, read from their request records.

    A reader of the log meets each request record just after the events of its command (one
    write): it hands the record over (:meth:`note`) and the event is not read again; otherwise
    (a batch's history, a partner's batches) each lookup reads the record (one SELECT)."""

    def __init__(self, registry: Any) -> None:
        self._registry = registry
        self._noted: dict[str, str] = {}  # request id -> captured text, of records met in the log

    def note(self, handled: Any) -> None:
        """A request record's event met in the log (``RequestRecord.Handled``)."""
        self._noted[handled.request_id] = getattr(handled, "captured", "")

    def met(self, request_id: str) -> bool:
        """Whether the record of ``request_id`` was met in the log (since :meth:`forget`)."""
        return request_id in self._noted

    def forget(self) -> None:
        """Drop the records met so far (their events have been rendered)."""
        self._noted.clear()

    def of(self, request_id: str) -> Event | None:
        """The event captured under ``request_id`` (None: kept by no record, e.g. captured before
        the registry kept captured events, or a command of the registry's own API)."""
        text = self._noted.get(request_id)
        if text is None:
            stored = self._registry.recorder.select_events(RequestRecord.id_for(request_id), limit=1)
            if not stored:
                return None
            text = getattr(self._registry.mapper.to_domain_event(stored[0]), "captured", "")
        if not isinstance(text, str) or not text:
            return None
        found: Event = json.loads(text)["event"]
        return found


class CapturedEvent(dict[str, Any]):
    """An event as captured (a JSON object like any other), knowing the batch it was recorded on:
    a captured event need not name the registry's batch (``gpureg:batchID``)."""

    batch_id: str | None = None


def as_captured(captured: Event, event_id: str, record_time: str, batch_id: str) -> Event:
    """The event as captured, under its eventID, with the repository's ``recordTime``."""
    out = CapturedEvent({"eventID": event_id})
    out.update((k, val) for k, val in captured.items() if k not in ("eventID", "recordTime"))
    out["recordTime"] = record_time
    out.batch_id = batch_id
    return out


def batch_of(event: Event) -> str | None:
    """The batch an exported event was recorded on (as ``gpureg:batchID`` names it)."""
    batch = getattr(event, "batch_id", None)
    return batch if isinstance(batch, str) else event.get("gpureg:batchID")
