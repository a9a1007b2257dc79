"""EPCIS 2.0 / CBV 2.0's own rules on a captured document and its events, checked before an event
is mapped to a registry command (:mod:`registry.epcis.capture`): the document's header
(section 9.1), every event's required fields (section 7.4.1), each event type's own fields
(sections 7.4.2-7.4.6: an ObjectEvent names what it observed, an AggregationEvent ADD or DELETE
its ``parentID``, a TransformationEvent its inputs and outputs, ...), the structure of the
common fields (quantity elements, business transactions, sources and destinations, read point
and business location, persistent disposition) and the CBV 2.0 vocabularies (``bizStep``,
``disposition``, business transaction, source/destination and error reason types: a CBV term
bare, as its CBV URN or as its web URI, or a URI of the capturer's own vocabulary). A refusal
names the field and the rule; these are the rules GS1's JSON schema states, plus the
standard's text where the schema is silent (``parentID`` of an AggregationEvent ADD/DELETE)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from registry.epcis import vocabulary as v

#: The longest eventID capture keeps whole with the event (its request id ``epcis:{eventID}``,
#: 200 characters): :func:`registry.epcis.export.captured_event_id`.
MAX_EVENT_ID = 200 - len("epcis:")


class Refused(Exception):
    """An event refused: the field (EPCIS name, or command field) and the rule."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


#: EPCIS 2.0 section 7.4: event types whose ``action`` is required (TransformationEvent has none).
_WITH_ACTION = frozenset({"ObjectEvent", "AggregationEvent", "TransactionEvent", "AssociationEvent"})
#: GS1's JSON schema (``Event.eventTimeZoneOffset``): -13:59 .. +14:00.
_OFFSET = re.compile(r"^[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00)$")
_VERSION = re.compile(r"^2(\.\d+)*$")  # an EPCIS 2.x document
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")  # scheme ":" something (RFC 3986, no spaces)
#: RFC 3339 date-time (JSON schema ``format: date-time``, xsd:dateTimeStamp): an offset required.
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_UOM = re.compile(r"^[A-Z0-9]{2,3}$")  # UN/CEFACT Rec 20 code (GS1's schema: ``uom``)
#: The CBV's own namespaces: a value there must be a CBV 2.0 term of the field's vocabulary.
_CBV_NAMESPACES = ("urn:epcglobal:cbv:", v.CBV_WEB, "https://ns.gs1.org/cbv/", "http://ns.gs1.org/cbv/")
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
_EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")


def is_uri(value: Any) -> bool:
    return isinstance(value, str) and bool(_URI.match(value))


def date_time(value: Any) -> datetime | None:
    """An RFC 3339 date-time with its offset (``2026-03-10T08:00:00-07:00``, ``...Z``), or None."""
    if not isinstance(value, str) or not _DATE_TIME.match(value):
        return None
    try:
        when = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def header_violations(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The EPCISDocument's own required fields: ``@context``, ``schemaVersion`` (2.x),
    ``creationDate`` (a date-time with offset)."""
    out: list[tuple[str, str]] = []
    if not document.get("@context"):
        out.append(("@context", "rule required: the JSON-LD context (GS1's epcis-context.jsonld)"))
    version = document.get("schemaVersion")
    if version is None:
        out.append(("schemaVersion", 'rule required: "2.0" for an EPCIS 2.0 document'))
    elif not isinstance(version, str) or not _VERSION.match(version):
        out.append(("schemaVersion", f'rule schema-version: "2.0" (EPCIS 2.x), not {version!r}'))
    if "creationDate" not in document:
        out.append(("creationDate", "rule required: when the document was created"))
    elif date_time(document["creationDate"]) is None:
        out.append(("creationDate", "rule date-time: an ISO 8601 date-time with offset"))
    return out


def cbv_value(kind: str, value: Any, where: str) -> None:
    """CBV 2.0's vocabulary rule for one value of ``kind`` (``bizStep``, ``disposition``,
    ``btt``, ``sdt``, ``er``): a CBV term, bare (``shipping``), as its CBV URN
    (``urn:epcglobal:cbv:bizstep:shipping``) or web URI (``https://ref.gs1.org/cbv/BizStep-shipping``);
    or a URI of the capturer's own vocabulary (``https://example.com/steps/x``). An unknown bare
    word, or an unknown term in the CBV's own namespaces, is refused naming ``where``."""
    names = {"bizStep": "bizStep", "disposition": "disposition", "btt": "business transaction type",
             "sdt": "source/destination type", "er": "error reason"}
    terms = v.cbv_terms(kind)
    if not isinstance(value, str) or not value:
        raise Refused(where, f"rule cbv-vocabulary: a {names[kind]} is a string (a CBV 2.0 term or a URI)")
    if value in terms:
        return
    term = v.cbv_term(kind, value)
    if term in terms and term != value:
        return  # the CBV URN or web URI of a CBV term
    if value.startswith(_CBV_NAMESPACES):
        raise Refused(where, f"rule cbv-vocabulary: {value} is no CBV 2.0 {names[kind]}; the CBV's terms: "
                             f"{sorted(terms)}")
    if not _URI.match(value):
        raise Refused(where, f"rule cbv-vocabulary: {value!r} is no CBV 2.0 {names[kind]} (one of {sorted(terms)}, "
                             "bare or as urn:epcglobal:cbv:... / https://ref.gs1.org/cbv/...) and not a URI of "
                             "a vocabulary of your own")


def check_event(event: Mapping[str, Any]) -> None:
    """EPCIS 2.0 section 7.4.1 (every event) and 7.4.2-7.4.6 (each type's fields), as GS1's JSON
    schema states them, and the CBV 2.0 vocabularies, before the event is mapped: a refusal
    names the field."""
    if "eventTime" not in event:
        raise Refused("eventTime", "rule required: every event has an eventTime")
    if date_time(event["eventTime"]) is None:
        raise Refused("eventTime", "rule date-time: an ISO 8601 (RFC 3339) date-time with its offset "
                                   "(2026-03-10T08:00:00-07:00 or ...Z)")
    offset = event.get("eventTimeZoneOffset")
    if offset is None:
        raise Refused("eventTimeZoneOffset", "rule required: every event has its time zone offset (+09:00)")
    if not isinstance(offset, str) or not _OFFSET.match(offset):
        raise Refused("eventTimeZoneOffset", f"rule time-zone-offset: +hh:mm or -hh:mm, not {offset!r}")
    if "eventID" in event and not is_uri(event["eventID"]):
        raise Refused("eventID", "rule uri: an eventID is a URI (ni:///sha-256;... or urn:uuid:...)")
    if len(str(event.get("eventID", ""))) > MAX_EVENT_ID:
        raise Refused("eventID", f"rule event-id-length: at most {MAX_EVENT_ID} characters (the registry keeps "
                                 "the eventID whole with the event, to export it unchanged)")
    kind = event["type"]
    if kind not in v.EVENT_TYPES:
        raise Refused("type", f"rule event-type: one of {list(v.EVENT_TYPES)}, not {kind!r}")
    if kind in _WITH_ACTION:
        if "action" not in event:
            raise Refused("action", f"rule required: a {kind} has an action (ADD, OBSERVE or DELETE)")
        if event["action"] not in v.ACTIONS:
            raise Refused("action", f"rule action: ADD, OBSERVE or DELETE, not {event['action']!r}")
    _check_fields(event)
    _TYPE_RULES[kind](event)
    if "errorDeclaration" in event:
        check_error_declaration(event["errorDeclaration"])


def _check_fields(e: Mapping[str, Any]) -> None:
    """The common fields' structure and vocabularies (EPCIS 2.0 section 7.3)."""
    for name in ("bizStep", "disposition"):
        if name in e:
            cbv_value(name, e[name], name)
    if "persistentDisposition" in e:
        _persistent_disposition(e["persistentDisposition"])
    for name in ("readPoint", "bizLocation"):
        if name in e:
            place = e[name]
            if not isinstance(place, Mapping) or not is_uri(place.get("id")):
                raise Refused(f"{name}.id", f"rule uri: a {name} is an object whose id is a URI")
    for name in _EPC_LISTS:
        if name in e:
            _uri_list(e[name], name)
    if "parentID" in e and not is_uri(e["parentID"]):
        raise Refused("parentID", "rule uri: a parentID is a URI (an EPC or another identifier)")
    for name in _QUANTITY_LISTS:
        if name in e:
            _quantity_list(e[name], name)
    if "bizTransactionList" in e:
        for i, entry in enumerate(_list(e["bizTransactionList"], "bizTransactionList")):
            where = f"bizTransactionList[{i}]"
            if not isinstance(entry, Mapping) or not is_uri(entry.get("bizTransaction")):
                raise Refused(f"{where}.bizTransaction", "rule required: a business transaction's identifier (a URI)")
            if "type" in entry:
                cbv_value("btt", entry["type"], f"{where}.type")
    for name, member in (("sourceList", "source"), ("destinationList", "destination")):
        if name in e:
            for i, entry in enumerate(_list(e[name], name)):
                where = f"{name}[{i}]"
                if not isinstance(entry, Mapping) or "type" not in entry:
                    raise Refused(f"{where}.type", f"rule required: a {member}'s type (owning_party, "
                                                   "possessing_party, location or a URI)")
                cbv_value("sdt", entry["type"], f"{where}.type")
                if not is_uri(entry.get(member)):
                    raise Refused(f"{where}.{member}", f"rule required: the {member} (a URI)")
    if "ilmd" in e and not isinstance(e["ilmd"], Mapping):
        raise Refused("ilmd", "rule object: instance/lot master data is a JSON object")


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise Refused(where, "rule array: must be an array")
    return value


def _uri_list(value: Any, where: str) -> None:
    for i, item in enumerate(_list(value, where)):
        if not is_uri(item):
            raise Refused(f"{where}[{i}]", "rule uri: each member is an identifier URI (an EPC)")


def _quantity_list(value: Any, where: str) -> None:
    """EPCIS 2.0 section 7.3.3.3, QuantityElement: ``epcClass`` (a URI, required), ``quantity``
    (a number, optional: omitted when the quantity is unknown), ``uom`` only with a quantity (a
    UN/CEFACT code). Whether a registry command can do without the quantity is the mapping's
    (:func:`registry.epcis.capture._quantity`), never this structural check."""
    for i, element in enumerate(_list(value, where)):
        at = f"{where}[{i}]"
        if not isinstance(element, Mapping):
            raise Refused(at, "rule quantity-element: an object with epcClass (and quantity, when known)")
        if "epcClass" not in element:
            raise Refused(f"{at}.epcClass", "rule required: a quantity element names its class (epcClass, a URI)")
        if not is_uri(element["epcClass"]):
            raise Refused(f"{at}.epcClass", "rule uri: an epcClass is a URI")
        uom = element.get("uom")
        if "quantity" not in element:
            if uom is not None:
                raise Refused(f"{at}.uom", "rule uom-with-quantity: a unit of measure only with a quantity "
                                           "(EPCIS 2.0 section 7.3.3.3)")
            continue  # an unknown quantity of that class: valid EPCIS
        quantity = element["quantity"]
        if isinstance(quantity, bool) or not isinstance(quantity, int | float) or quantity < 0:
            raise Refused(f"{at}.quantity", "rule decimal: a non-negative number")
        if uom is not None and not (isinstance(uom, str) and _UOM.match(uom)):
            raise Refused(f"{at}.uom", "rule uom: a UN/CEFACT Rec 20 unit code (2 or 3 capitals or digits)")


def _persistent_disposition(value: Any) -> None:
    """EPCIS 2.0 section 7.3.7: ``set`` and/or ``unset``, each a non-empty array of dispositions."""
    if not isinstance(value, Mapping) or not ({"set", "unset"} & set(value)) or set(value) - {"set", "unset"}:
        raise Refused("persistentDisposition", "rule persistent-disposition: an object with set and/or unset")
    for name in ("set", "unset"):
        if name in value:
            listed = _list(value[name], f"persistentDisposition.{name}")
            if not listed:
                raise Refused(f"persistentDisposition.{name}", "rule array: at least one disposition")
            for i, item in enumerate(listed):
                cbv_value("disposition", item, f"persistentDisposition.{name}[{i}]")


def _non_empty(e: Mapping[str, Any], *names: str) -> bool:
    return any(isinstance(e.get(n), list) and e[n] for n in names)


def _object_event(e: Mapping[str, Any]) -> None:
    """Section 7.4.2: what was observed (epcList or quantityList; a sensor report at a read point),
    and instance/lot master data only when the objects are created (ADD)."""
    if "epcList" not in e and not _non_empty(e, "quantityList") and not (
        _non_empty(e, "sensorElementList") and "readPoint" in e
    ):
        raise Refused("epcList", "rule what-observed: an ObjectEvent names its objects (epcList or quantityList)")
    if "ilmd" in e and e.get("action") != "ADD":
        raise Refused("ilmd", "rule ilmd-on-add: instance/lot master data only with action ADD (commissioning)")


def _aggregation_event(e: Mapping[str, Any]) -> None:
    """Section 7.4.3: ``parentID`` with ADD and DELETE (optional with OBSERVE); the children
    (childEPCs or childQuantityList) except for a DELETE of the whole aggregation."""
    if e.get("action") in ("ADD", "DELETE") and "parentID" not in e:
        raise Refused("parentID", f"rule required: an AggregationEvent {e.get('action')} names its parentID")
    if e.get("action") != "DELETE" and not _non_empty(e, "childEPCs", "childQuantityList"):
        raise Refused("childEPCs", "rule children-named: an AggregationEvent ADD or OBSERVE names its children "
                                   "(childEPCs or childQuantityList)")


def _association_event(e: Mapping[str, Any]) -> None:
    """Section 7.4.6: ``parentID`` always; the children except for a DELETE of the association."""
    if "parentID" not in e:
        raise Refused("parentID", "rule required: an AssociationEvent names its parentID")
    if e.get("action") != "DELETE" and not _non_empty(e, "childEPCs", "childQuantityList"):
        raise Refused("childEPCs", "rule children-named: an AssociationEvent ADD or OBSERVE names its children "
                                   "(childEPCs or childQuantityList)")


def _transformation_event(e: Mapping[str, Any]) -> None:
    """Section 7.4.5: inputs (inputEPCList or inputQuantityList) and outputs (outputEPCList or
    outputQuantityList); with a ``transformationID`` one side may be in another event."""
    if "action" in e:
        raise Refused("action", "rule no-action: a TransformationEvent has no action")
    inputs = _non_empty(e, "inputEPCList", "inputQuantityList")
    outputs = _non_empty(e, "outputEPCList", "outputQuantityList")
    if "transformationID" in e:
        if not is_uri(e["transformationID"]):
            raise Refused("transformationID", "rule uri: a transformationID is a URI")
        if not inputs and not outputs:
            raise Refused("inputEPCList", "rule inputs-outputs: a TransformationEvent names inputs or outputs")
        return
    if not inputs:
        raise Refused("inputEPCList", "rule inputs-outputs: a TransformationEvent without transformationID names "
                                      "its inputs (inputEPCList or inputQuantityList)")
    if not outputs:
        raise Refused("outputEPCList", "rule inputs-outputs: a TransformationEvent without transformationID names "
                                       "its outputs (outputEPCList or outputQuantityList)")


def _transaction_event(e: Mapping[str, Any]) -> None:
    """Section 7.4.4: the business transactions (non-empty)."""
    if not e.get("bizTransactionList"):
        raise Refused("bizTransactionList", "rule required: a TransactionEvent names a business transaction")


_TYPE_RULES = {
    "ObjectEvent": _object_event,
    "AggregationEvent": _aggregation_event,
    "TransactionEvent": _transaction_event,
    "TransformationEvent": _transformation_event,
    "AssociationEvent": _association_event,
}


def check_error_declaration(declaration: Any) -> None:
    """EPCIS 2.0 section 7.4.1.2: an error declaration says that an earlier event with this
    content (and eventID) is in error; its fields as GS1's schema states them. What it maps to
    (an order's correction, or a refusal) is the capture's."""
    where = "errorDeclaration"
    if not isinstance(declaration, Mapping):
        raise Refused(where, "rule error-declaration: an object with declarationTime")
    if "declarationTime" not in declaration:
        raise Refused(f"{where}.declarationTime", "rule required: when the error was declared")
    if date_time(declaration["declarationTime"]) is None:
        raise Refused(f"{where}.declarationTime", "rule date-time: an ISO 8601 date-time with offset")
    if declaration.get("reason") is not None:
        try:
            cbv_value("er", declaration["reason"], f"{where}.reason")
        except Refused as exc:
            raise Refused(exc.field, "rule error-reason: did_not_occur, incorrect_data or a URI; " + exc.rule) from None
    corrective = declaration.get("correctiveEventIDs", [])
    if not isinstance(corrective, list) or not all(is_uri(i) for i in corrective):
        raise Refused(f"{where}.correctiveEventIDs", "rule uri: an array of eventIDs (URIs)")
