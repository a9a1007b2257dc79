"""EPCIS 2.0 section 8.2.7.1.1: what "matches" means for the ``MATCH_`` query parameters.

A ``MATCH_`` value is an identifier or an **EPC pattern**. An identifier matches the same
identifier in any of its GS1 spellings: an SGTIN, LGTIN or SGLN EPC URI (``urn:epc:id:sgtin:...``)
and its GS1 Digital Link URI (``https://id.gs1.org/01/{gtin}/21/{serial}``, on any host) are one
identifier (compared in Digital Link form, as the event hash canonicalises them); any other URI
(the registry's own ``https://id.gpureg.example/...``) matches only itself.

An EPC pure identity pattern URI (Tag Data Standard section 8, ``urn:epc:idpat:{scheme}:...``)
has the EPC URI's fields, each either a value or ``*``, a ``*`` followed only by ``*``:

* ``urn:epc:idpat:sgtin:0614141.112345.*`` (one GTIN, any serial) and
  ``urn:epc:idpat:sgtin:0614141.*.*`` (one GS1 company prefix, any item) match SGTINs in either
  spelling; in ``MATCH_epcClass`` (and the other class parameters) they match class-level
  identifiers of those GTINs: an LGTIN (``urn:epc:class:lgtin:...`` or ``.../01/{gtin}/10/{lot}``)
  and the GTIN itself (the pattern, or ``https://id.gs1.org/01/{gtin}``);
* every other scheme (``sscc``, ``sgln``, ``grai``, ``giai``, ...) matches the EPC URIs of that
  scheme field by field (their Digital Link forms are not translated back: that needs the
  company prefix's length, which a Digital Link URI does not carry).

A GS1 Digital Link URI with a GTIN and nothing after it (``https://id.gs1.org/01/09520123456788``)
is read as the Digital Link form of ``urn:epc:idpat:sgtin:{gtin}.*``: every serial (in
``MATCH_epc``), and every lot and the GTIN class (in ``MATCH_epcClass``) of that GTIN.
A pattern off this grammar is refused, naming the parameter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from registry.domain.errors import InvalidField
from registry.epcis.event_hash import check_digit, digital_link

_IDPAT = re.compile(r"^urn:epc:idpat:([a-z0-9-]+):(.+)$")
#: A GS1 Digital Link URI naming a GTIN (AI 01) and optionally a serial (21) or lot (10).
_DL_GTIN = re.compile(r"^https?://[^/?#]+(?:/[^?#]*?)?/01/(\d{14})(?:/(21|10)/([^/?#]+))?(?:[/?#].*)?$")
_DL_BASE = "https://id.gs1.org/01/"
#: Which values of a MATCH_ parameter cannot match by plain string equality.
_GS1_HINTS = ("urn:epc:", "/01/")


def canonical(uri: str) -> str:
    """``uri`` in the one spelling two equal GS1 identifiers share (Digital Link on id.gs1.org)."""
    if uri.startswith("urn:epc:"):
        return digital_link(uri) or uri
    m = _DL_GTIN.match(uri) if "/01/" in uri else None
    if m is None:
        return uri
    gtin, ai, rest = m.groups()
    return f"{_DL_BASE}{gtin}" + (f"/{ai}/{rest}" if ai else "")


def _gtin_test(company: str, item: str | None, where: str) -> Callable[[str], bool]:
    """A test of a GTIN-14: of this company prefix (and item reference with its indicator digit)."""
    if item is not None:
        if len(company) + len(item) != 13:
            raise InvalidField.one(where, "rule epc-pattern: an SGTIN pattern's company prefix and item "
                                          "reference (with its indicator digit) have 13 digits together")
        digits = item[:1] + company + item[1:]
        gtin = f"{digits}{check_digit(digits)}"
        return lambda g: g == gtin
    return lambda g: g[1:1 + len(company)] == company


def _any_gtin(_gtin: str) -> bool:
    return True


def compile_values(values: Iterable[str], where: str, classes: bool = False) -> Callable[[Iterable[str]], bool]:
    """A test of an event's identifiers (those of the fields ``where`` names): True when one of
    them matches one of ``values`` (identifiers or EPC patterns). ``classes``: the values are
    matched against EPC classes (``MATCH_epcClass`` and its kin). Raises InvalidField naming
    ``where`` for a pattern off the grammar."""
    exact: set[str] = set()
    gs1: set[str] = set()
    gtin_tests: list[Callable[[str], bool]] = []
    field_tests: list[tuple[str, list[str]]] = []  # (scheme, fields with "*"): other schemes
    for value in values:
        m = _IDPAT.match(value)
        if m is not None:
            scheme, body = m.groups()
            fields = body.split(".")
            stars = [f == "*" for f in fields]
            if any(stars[i] and not stars[i + 1] for i in range(len(stars) - 1)) or not all(fields):
                raise InvalidField.one(where, f"rule epc-pattern: {value} is no EPC pattern (each field a value "
                                              "or *, every field after a * also *; Tag Data Standard section 8)")
            if scheme == "sgtin":
                if len(fields) != 3 or not all(f == "*" or f.isdigit() for f in fields[:2]):
                    raise InvalidField.one(where, f"rule epc-pattern: {value}: an SGTIN pattern is "
                                                  "urn:epc:idpat:sgtin:{company prefix}.{item reference}.{serial or *}")
                company, item, serial = fields
                if company == "*":
                    gtin_tests.append(_any_gtin)
                elif serial != "*":  # no wildcard: the EPC itself
                    exact.add(value)
                    gs1.add(canonical(f"urn:epc:id:sgtin:{body}"))
                else:
                    gtin_tests.append(_gtin_test(company, None if item == "*" else item, where))
                continue
            field_tests.append((scheme, fields))
            continue
        dl = _DL_GTIN.match(value) if "/01/" in value and value.startswith("http") else None
        if dl is not None and dl.group(2) is None:  # a GTIN without serial or lot: every one of it
            gtin_tests.append(dl.group(1).__eq__)
            continue
        exact.add(value)
        if value.startswith(_GS1_HINTS) or "/01/" in value:
            gs1.add(canonical(value))
    suffix = ("/10/", "") if classes else ("/21/",)

    def by_gtin(uri: str) -> bool:
        c = canonical(uri)
        if classes and c.startswith("urn:epc:idpat:sgtin:"):  # a GTIN-level class as a pattern
            company, item, _ = (c.removeprefix("urn:epc:idpat:sgtin:") + "..").split(".")[:3]
            if company.isdigit() and item.isdigit() and len(company) + len(item) == 13:
                digits = item[:1] + company + item[1:]
                c = f"{_DL_BASE}{digits}{check_digit(digits)}"
        if not c.startswith(_DL_BASE):
            return False
        rest = c[len(_DL_BASE):]
        gtin, tail = rest[:14], rest[14:]
        if not gtin.isdigit() or len(gtin) != 14:
            return False
        if not (tail.startswith(suffix[0]) or (classes and tail == "")):
            return False
        return any(test(gtin) for test in gtin_tests)

    def by_fields(uri: str) -> bool:
        for scheme, fields in field_tests:
            prefix = f"urn:epc:id:{scheme}:"
            if uri.startswith(prefix):
                got = uri[len(prefix):].split(".")
                if len(got) == len(fields) and all(f in ("*", g) for f, g in zip(fields, got, strict=True)):
                    return True
        return False

    plain = not gs1 and not gtin_tests and not field_tests

    def fits(uris: Iterable[str]) -> bool:
        for uri in uris:
            if uri in exact:
                return True
            if plain or not uri.startswith(("urn:epc:", "http")):
                continue
            if gs1 and canonical(uri) in gs1:
                return True
            if gtin_tests and by_gtin(uri):
                return True
            if field_tests and by_fields(uri):
                return True
        return False

    return fits
