"""The EPCIS event hash (CBV 2.0 section 8.9): an eventID that any party computes alike.

A canonical "pre-hash" string of the event is hashed with SHA-256 and written as a named
information URI, ``ni:///sha-256;<hex>?ver=CBV2.0``. The pre-hash string is ``eventType=<type>``,
then the standard fields in the canonical order (each ``name=value``, list members sorted,
nested fields as ``parent`` + their children), then every other field (business transaction,
source and destination lists, ILMD, extensions) rendered the same way and sorted. Values are
canonicalised first: times to UTC with milliseconds and ``Z``; CBV terms and URNs to their web
vocabulary URIs; numbers without leading ``+``, leading/trailing zeros or a trailing ``.0``; EPC
URIs of GS1 keys to canonical GS1 Digital Link URIs; extension names to ``{namespace}local``.

The field order, the placement of the business transaction and source/destination lists among the
"other" fields and the number canonicalisation follow GS1's reference implementation
(``epcis-event-hash-generator`` 1.9.3), so eventIDs are equal to the ones it computes; the tests
check that on every event kind the registry exports. This module handles the fields the registry
uses (no sensor data, no certification info); EPC URIs are canonicalised for SGTIN, SGLN and LGTIN.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from registry.epcis.vocabulary import cbv_web_uri

#: Standard fields in canonical order, with the kind of their value.
_ORDER: list[tuple[str, str]] = [
    ("eventTime", "time"),
    ("eventTimeZoneOffset", "text"),
    ("certificationInfo", "text"),
    ("parentID", "text"),
    ("epcList", "epcs"),
    ("inputEPCList", "epcs"),
    ("childEPCs", "epcs"),
    ("quantityList", "quantities"),
    ("childQuantityList", "quantities"),
    ("inputQuantityList", "quantities"),
    ("outputEPCList", "epcs"),
    ("outputQuantityList", "quantities"),
    ("action", "text"),
    ("transformationID", "text"),
    ("bizStep", "bizStep"),
    ("disposition", "disposition"),
    ("readPoint", "id"),
    ("bizLocation", "id"),
]
_IGNORED = frozenset({"eventID", "recordTime", "type", "errorDeclaration", "@context"})
_LISTS = {
    "bizTransactionList": ("bizTransaction", "btt"),
    "sourceList": ("source", "sdt"),
    "destinationList": ("destination", "sdt"),
}
_SGTIN = re.compile(r"^urn:epc:id:sgtin:(\d{6,12})\.(\d{1,7})\.((?:%[0-9A-Fa-f]{2}|[!')(*+,.0-9:;=A-Za-z_-]){1,20})$")
_LGTIN = re.compile(
    r"^urn:epc:class:lgtin:(\d{6,12})\.(\d{1,7})\.((?:%[0-9A-Fa-f]{2}|[!')(*+,.0-9:;=A-Za-z_-]){1,20})$"
)
_SGLN = re.compile(r"^urn:epc:id:sgln:(\d{6,12})\.(\d{0,6})\.((?:%[0-9A-Fa-f]{2}|[!')(*+,.0-9:;=A-Za-z_-]){1,20})$")


def event_id(event: Mapping[str, Any], context: Mapping[str, str] | None = None) -> str:
    """The eventID of ``event`` (a JSON event as in an EPCISDocument's eventList).

    ``context`` maps the document's compact prefixes (``gpureg``) to their namespaces.
    """
    return "ni:///sha-256;" + hashlib.sha256(pre_hash(event, context).encode()).hexdigest() + "?ver=CBV2.0"


def pre_hash(event: Mapping[str, Any], context: Mapping[str, str] | None = None) -> str:
    prefixes = dict(context or {})
    parts = ["eventType=" + str(event["type"])]
    for name, kind in _ORDER:
        if name in event:
            parts.append(_standard(name, kind, event[name]))
    others: list[str] = []
    for name, value in event.items():
        if name in _IGNORED or any(name == n for n, _ in _ORDER):
            continue
        if name in _LISTS:
            others.append(_party_list(name, value))
        else:
            others.extend(_generic(_expand(name, prefixes), value, prefixes))
    others.sort()
    return "".join(parts) + "".join(others)


def _standard(name: str, kind: str, value: Any) -> str:
    if kind == "time":
        return f"{name}={canonical_time(str(value))}"
    if kind == "epcs":
        return name + "".join(sorted(f"epc={canonical_value(str(v))}" for v in value))
    if kind == "quantities":
        elements = []
        for q in value:
            text = "quantityElement" + f"epcClass={canonical_value(str(q['epcClass']))}"
            if "quantity" in q:
                text += f"quantity={canonical_value(_scalar(q['quantity']))}"
            if "uom" in q:
                text += f"uom={canonical_value(str(q['uom']))}"
            elements.append(text)
        return name + "".join(sorted(elements))
    if kind == "id":
        return f"{name}id={canonical_value(str(value['id']))}"
    if kind in ("bizStep", "disposition"):
        return f"{name}={canonical_value(cbv_web_uri(kind, str(value)))}"
    return f"{name}={canonical_value(_scalar(value))}"


def _party_list(name: str, entries: list[Mapping[str, str]]) -> str:
    member, vocabulary = _LISTS[name]
    rendered = sorted(
        (f"type={canonical_value(cbv_web_uri(vocabulary, e['type']))}" if "type" in e else "")
        + f"{member}={canonical_value(e[member])}"
        for e in entries
    )
    return name + "".join(rendered)


def _generic(name: str, value: Any, prefixes: Mapping[str, str]) -> list[str]:
    """Other fields: ``name=value``; an object as ``name`` + its sorted members; a list as one
    entry per member under the same name."""
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            out.extend(_generic(name, item, prefixes))
        return out
    if isinstance(value, Mapping):
        members: list[str] = []
        for key, item in value.items():
            members.extend(_generic(_expand(key, prefixes), item, prefixes))
        if len(members) > 1:
            members.sort()
        return [name + "".join(members)]
    text = _scalar(value).strip()
    if isinstance(value, str):
        text = _expand(text, prefixes, value=True).strip()
    return [f"{name}={canonical_value(text)}" if text else name]


def _expand(name: str, prefixes: Mapping[str, str], value: bool = False) -> str:
    prefix, sep, local = name.partition(":")
    if sep and prefix in prefixes:
        return prefixes[prefix] + local if value else "{" + prefixes[prefix] + "}" + local
    return name


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def canonical_time(text: str) -> str:
    """UTC, millisecond precision, ``Z``."""
    when = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    when = when.replace(microsecond=when.microsecond // 1000 * 1000)
    return when.isoformat(timespec="milliseconds")[:-6] + "Z"


_NUMBER_START = frozenset("0123456789+-.iInN \t\n\r\f\v")  # what float() can start with


def canonical_value(text: str) -> str:
    """CBV URNs to web URIs, numbers canonical, GS1 EPC URIs to canonical Digital Link URIs."""
    if "urn:epcglobal:cbv:" in text:
        for urn, web in (
            ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"),
            ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"),
            ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"),
            ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"),
            ("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"),
        ):
            text = text.replace(urn, web)
    if text[:1] in _NUMBER_START:
        text = _canonical_number(text)
    if text.startswith("urn:epc:"):
        return digital_link(text) or text
    return text


def _canonical_number(text: str) -> str:
    try:
        number = float(text)
    except ValueError:
        return text
    try:
        if int(number) == number:
            return str(int(number))
    except (ValueError, OverflowError):
        return text
    return str(number)


def check_digit(digits: str) -> int:
    """The GS1 check digit of ``digits`` (a GTIN or GLN without its check digit)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def _dl_escape(text: str) -> str:
    for char, code in (
        ("!", "%21"),
        ("(", "%28"),
        (")", "%29"),
        ("*", "%2A"),
        ("+", "%2B"),
        (",", "%2C"),
        (":", "%3A"),
    ):
        text = text.replace(char, code)
    return text


def digital_link(uri: str) -> str | None:
    """An SGTIN, LGTIN or SGLN EPC URI as its GS1 Digital Link URI (None: not one of them)."""
    m = _SGTIN.match(uri)
    if m and len(m.group(1)) + len(m.group(2)) == 13:
        company, item, serial = m.groups()
        gtin = item[:1] + company + item[1:]
        return f"https://id.gs1.org/01/{gtin}{check_digit(gtin)}/21/{_dl_escape(serial)}"
    m = _LGTIN.match(uri)
    if m and len(m.group(1)) + len(m.group(2)) == 13:
        company, item, lot = m.groups()
        gtin = item[:1] + company + item[1:]
        return f"https://id.gs1.org/01/{gtin}{check_digit(gtin)}/10/{_dl_escape(lot)}"
    m = _SGLN.match(uri)
    if m and len(m.group(1)) + len(m.group(2)) == 12:
        company, location, extension = m.groups()
        gln = company + location
        base = f"https://id.gs1.org/414/{gln}{check_digit(gln)}"
        return base if extension == "0" else f"{base}/254/{_dl_escape(extension)}"
    return None
