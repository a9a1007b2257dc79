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


def country_code(field: str, code: str) -> str:
    """``code`` when it is an ISO 3166-1 alpha-2 code in upper case; else InvalidField on ``field``."""
    if len(code) != 2 or not code.isalpha() or not code.isupper():
        raise InvalidField.one(field, "must be an ISO 3166-1 alpha-2 code in upper case, like KR")
    return code
