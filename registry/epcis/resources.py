"""The EPCIS 2.0 REST binding's top-level resource listings (GS1's openapi.yaml, tag
``Top-level``): ``GET /bizSteps`` and ``GET /dispositions`` (the CBV 2.0 terms: the registry
supports no others), ``GET /epcs``, ``GET /bizLocations`` and ``GET /readPoints`` (the values the
events within the caller's reach name, in log order), and whether one value is a resource
(``GET /epcs/{epc}`` and the like: its sub-resource ``events``; otherwise ``404``)."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from registry.application.service import Registry
from registry.epcis import vocabulary as v
from registry.epcis.export import Event
from registry.epcis.sources import log_events

#: resource path -> the CBV vocabulary it lists, or the event fields whose values it lists
VOCABULARIES = {"bizSteps": "bizStep", "dispositions": "disposition"}
FIELDS = {
    "epcs": ("epcList", "childEPCs", "parentID", "inputEPCList", "outputEPCList"),
    "bizLocations": ("bizLocation",),
    "readPoints": ("readPoint",),
}


def _values(e: Event, fields: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    for key in fields:
        value = e.get(key)
        if isinstance(value, dict):
            value = value.get("id")
        if isinstance(value, list):
            found.extend(str(x) for x in value)
        elif value is not None:
            found.append(str(value))
    return found


def members(registry: Registry, kind: str, visible: Callable[[UUID], bool] | None = None) -> list[str]:
    """The members of the listing ``kind`` (``bizSteps``, ``epcs``, ...): a vocabulary's terms
    sorted, or the values the visible events name, each once, in log order (a whole-log read)."""
    if kind in VOCABULARIES:
        return sorted(v.cbv_terms(VOCABULARIES[kind]))
    fields = FIELDS[kind]
    seen: dict[str, None] = {}
    for _, event in log_events(registry, visible=visible):
        for value in _values(event, fields):
            seen.setdefault(value, None)
    return list(seen)


def known(registry: Registry, kind: str, value: str, visible: Callable[[UUID], bool] | None = None) -> bool:
    """Whether ``value`` is a member of ``kind`` (a CBV term in any of its forms, or a URI of the
    capturer's own vocabulary, for bizSteps and dispositions)."""
    if kind in VOCABULARIES:
        term = v.cbv_term(VOCABULARIES[kind], value)
        return term in v.cbv_terms(VOCABULARIES[kind]) or ":" in term
    return value in members(registry, kind, visible)
