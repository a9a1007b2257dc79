"""The code lists of the reference data: party roles, authorization types and country codes."""

from __future__ import annotations

from enum import StrEnum

from registry.domain.errors import InvalidField


class PartyRole(StrEnum):
    SUPPLIER = "supplier"
    PURCHASER = "purchaser"
    CONSIGNEE = "consignee"
    END_USER = "end_user"
    CARRIER = "carrier"
    OPERATOR = "operator"
    EXPORTER = "exporter"
    FORWARDER = "forwarder"


class AuthorizationType(StrEnum):
    LICENSE = "license"
    LICENSE_EXCEPTION = "license_exception"
    NO_LICENSE_REQUIRED = "no_license_required"


# License exceptions used only after a notification to BIS, which answers with an authorization
# number (15 CFR 740.8(a)(1), NAC; its AES license code is C67). ACA (740.8(a)(2)) needs no
# notification, so it has no number of its own.
NOTIFIED_EXCEPTIONS = frozenset({"NAC"})


def needs_number(auth_type: str, exception_code: str) -> bool:
    """A license and a notified license exception carry a number; ACA and NLR need none."""
    if auth_type == AuthorizationType.LICENSE:
        return True
    return auth_type == AuthorizationType.LICENSE_EXCEPTION and (
        exception_code.strip().upper() in NOTIFIED_EXCEPTIONS
    )


def country_code(field: str, code: str) -> str:
    """``code`` when it is an ISO 3166-1 alpha-2 code in upper case; else InvalidField on ``field``."""
    if len(code) != 2 or not code.isalpha() or not code.isupper():
        raise InvalidField.one(field, "must be an ISO 3166-1 alpha-2 code in upper case, like KR")
    return code
