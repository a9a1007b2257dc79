"""Identifiers and vocabulary of the registry's EPCIS 2.0 documents (docs/epcis.md).

GPUs, batches, sites and parties have no GS1 keys in this registry (a GPU model carries no GTIN,
a site no GLN), so they are named by private HTTP URIs under :data:`ID_BASE`, which EPCIS 2.0
allows for any identifier; bizStep, disposition, business transaction and source/destination
types are the bare CBV 2.0 terms the JSON binding allows. Facts EPCIS has no field for (ECCN,
authorization, clearance, rack, host, ...) are extension fields in the project's namespace
:data:`NAMESPACE`, prefix ``gpureg``, described by the JSON-LD context ``gpureg-context.jsonld``.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any
from urllib.parse import quote, unquote
from uuid import UUID

GS1_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
NAMESPACE = "https://ns.gpureg.example/epcis/"
PREFIX = "gpureg"
ID_BASE = "https://id.gpureg.example/"
#: The context every exported document names: GS1's, then the project's prefix.
DOCUMENT_CONTEXT: list[Any] = [GS1_CONTEXT, {PREFIX: NAMESPACE}]

# Business transaction types the CBV has no term for: the project's own URIs.
BTT_EXPORT_AUTHORIZATION = f"{NAMESPACE}btt/export-authorization"
BTT_ASSIGNMENT = f"{NAMESPACE}btt/assignment"
BTT_TRANSFER = f"{NAMESPACE}btt/transfer"

#: CBV 2.0 terms and the web vocabulary URI each bare term stands for (CBV 2.0 section 6/7).
CBV_WEB = "https://ref.gs1.org/cbv/"
CBV_URN = {
    "urn:epcglobal:cbv:bizstep:": f"{CBV_WEB}BizStep-",
    "urn:epcglobal:cbv:disp:": f"{CBV_WEB}Disp-",
    "urn:epcglobal:cbv:btt:": f"{CBV_WEB}BTT-",
    "urn:epcglobal:cbv:sdt:": f"{CBV_WEB}SDT-",
    "urn:epcglobal:cbv:er:": f"{CBV_WEB}ER-",
}
BIZ_STEPS = frozenset(
    {
        "accepting",
        "arriving",
        "assembling",
        "collecting",
        "commissioning",
        "consigning",
        "creating_class_instance",
        "cycle_counting",
        "decommissioning",
        "departing",
        "destroying",
        "disassembling",
        "dispensing",
        "encoding",
        "entering_exiting",
        "holding",
        "inspecting",
        "installing",
        "killing",
        "loading",
        "other",
        "packing",
        "picking",
        "receiving",
        "removing",
        "repackaging",
        "repairing",
        "replacing",
        "reserving",
        "retail_selling",
        "shipping",
        "staging_outbound",
        "stock_taking",
        "stocking",
        "storing",
        "transporting",
        "unloading",
        "unpacking",
        "void_shipping",
        "sensor_reporting",
        "sampling",
    }
)
DISPOSITIONS = frozenset(
    {
        "active",
        "container_closed",
        "damaged",
        "destroyed",
        "dispensed",
        "disposed",
        "encoded",
        "expired",
        "in_progress",
        "in_transit",
        "inactive",
        "no_pedigree_match",
        "non_sellable_other",
        "partially_dispensed",
        "recalled",
        "reserved",
        "retail_sold",
        "returned",
        "sellable_accessible",
        "sellable_not_accessible",
        "stolen",
        "unknown",
        "available",
        "completeness_verified",
        "completeness_inferred",
        "conformant",
        "container_open",
        "mismatch_instance",
        "mismatch_class",
        "mismatch_quantity",
        "needs_replacement",
        "non_conformant",
        "unavailable",
    }
)
BTT_TYPES = frozenset(
    {
        "bol",
        "cert",
        "desadv",
        "inv",
        "pedigree",
        "po",
        "poc",
        "prodorder",
        "recadv",
        "rma",
        "testprd",
        "testres",
        "upevt",
    }
)
SOURCE_DEST_TYPES = frozenset({"owning_party", "possessing_party", "location"})
#: Error reasons of an errorDeclaration (CBV 2.0, ``https://ref.gs1.org/cbv/ER-...``).
ERROR_REASONS = frozenset({"did_not_occur", "incorrect_data"})
#: EPCIS 2.0's event types (section 7.4) and an event's ``action`` values (section 7.4.1).
EVENT_TYPES = ("AggregationEvent", "AssociationEvent", "ObjectEvent", "TransactionEvent", "TransformationEvent")
ACTIONS = frozenset({"ADD", "OBSERVE", "DELETE"})
_WEB_PREFIX = {"bizStep": "BizStep-", "disposition": "Disp-", "btt": "BTT-", "sdt": "SDT-", "er": "ER-"}
_TERMS = {
    "bizStep": BIZ_STEPS,
    "disposition": DISPOSITIONS,
    "btt": BTT_TYPES,
    "sdt": SOURCE_DEST_TYPES,
    "er": ERROR_REASONS,
}


def cbv_terms(kind: str) -> frozenset[str]:
    """The CBV 2.0 terms of a vocabulary (``bizStep``, ``disposition``, ``btt``, ``sdt``, ``er``)."""
    return _TERMS[kind]


def cbv_term(kind: str, value: str) -> str:
    """The bare CBV term of a value given bare, as a CBV URN or as a web vocabulary URI
    (``shipping``, ``urn:epcglobal:cbv:bizstep:shipping``, ``https://ref.gs1.org/cbv/BizStep-shipping``);
    any other URI is returned unchanged (a private vocabulary)."""
    for urn, web in CBV_URN.items():
        if value.startswith(urn):
            value = web + value[len(urn) :]
            break
    web_prefix = CBV_WEB + _WEB_PREFIX[kind]
    if value.startswith(web_prefix):
        return value[len(web_prefix) :]
    return value


def cbv_web_uri(kind: str, value: str) -> str:
    """The CBV web vocabulary URI of a bare CBV term (what the event hash uses); URIs unchanged."""
    for urn, web in CBV_URN.items():
        if value.startswith(urn):
            return web + value[len(urn) :]
    if value in _TERMS[kind]:
        return CBV_WEB + _WEB_PREFIX[kind] + value
    return value


def ext(name: str) -> str:
    """An extension field's compact name (``gpureg:eccn``)."""
    return f"{PREFIX}:{name}"


_PLAIN = re.compile(r"^[A-Za-z0-9._~-]+$")  # needs no percent-encoding


def _uri(kind: str, key: str) -> str:
    return f"{ID_BASE}{kind}/{key if _PLAIN.match(key) else quote(key, safe='')}"


def gpu_uri(serial: str) -> str:
    return _uri("gpu", serial)


def batch_class_uri(batch_id: UUID) -> str:
    """The class of a quantity-only batch's units (epcClass of a quantityList)."""
    return _uri("batch", str(batch_id))


def site_uri(site_id: UUID) -> str:
    return _uri("site", str(site_id))


def party_uri(party_id: UUID) -> str:
    return _uri("party", str(party_id))


def po_uri(po_number: str) -> str:
    return _uri("po", po_number)


def shipment_uri(shipment_id: str) -> str:
    return _uri("shipment", shipment_id)


def authorization_uri(authorization_id: UUID) -> str:
    return _uri("authorization", str(authorization_id))


def rma_uri(rma_number: str) -> str:
    return _uri("rma", rma_number)


def parse_private(kind: str, uri: str) -> str | None:
    """The key of a private URI of ``kind`` (``gpu``, ``site``, ...), or None if it is not one."""
    prefix = f"{ID_BASE}{kind}/"
    if not uri.startswith(prefix) or "/" in uri[len(prefix) :]:
        return None
    key = unquote(uri[len(prefix) :])
    return key or None


def parse_uuid(kind: str, uri: str) -> UUID | None:
    key = parse_private(kind, uri)
    if key is None:
        return None
    try:
        return UUID(key)
    except ValueError:
        return None


def project_context() -> dict[str, Any]:
    """The project's JSON-LD context document (gpureg-context.jsonld)."""
    import json

    text = resources.files("registry.epcis").joinpath("gpureg-context.jsonld").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
