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


class AddressType(StrEnum):
    """What a party's address is, as the exporter found it (BIS red flag, 13 May 2025: residential
    or vague addresses for commercial quantities). Not stated ("") is unknown: no flag."""

    COMMERCIAL = "commercial"
    RESIDENTIAL = "residential"
    VAGUE = "vague"


class OnlinePresence(StrEnum):
    """How much of the party the exporter could find online (BIS red flag: little online presence).
    Not stated ("") is unknown: no flag."""

    ESTABLISHED = "established"
    LITTLE = "little"


class ForwarderStanding(StrEnum):
    """Whether a freight forwarder is one the exporter usually works with (BIS red flag: unusual
    freight forwarders). Not stated ("") is unknown: no flag."""

    USUAL = "usual"
    UNUSUAL = "unusual"


def optional_code(field: str, value: str, codes: type[StrEnum]) -> str:
    """``value`` when it is "" (unknown) or one of ``codes``; else InvalidField on ``field``."""
    if value and value not in codes.__members__.values():
        raise InvalidField.one(field, f"one of {[c.value for c in codes]}, or empty when unknown")
    return value


class AuthorizationType(StrEnum):
    LICENSE = "license"
    LICENSE_EXCEPTION = "license_exception"
    NO_LICENSE_REQUIRED = "no_license_required"


# License exceptions used only after a notification to BIS, which answers with an authorization
# number (15 CFR 740.8(a)(1), NAC; its AES license code is C67). ACA (740.8(a)(2)) needs no
# notification, so it has no number of its own.
NOTIFIED_EXCEPTIONS = frozenset({"NAC"})


# The AES/EEI license codes BIS gives a license and no license required (AESTIR Appendix F, Table A):
# C30 for a license BIS issued, C33 for NLR (C32, the former NLR code, was retired on 1 Oct 2016).
# A license exception's code is ruleset data (``Ruleset.aes_license_codes``: NAC is C67).
AES_LICENSE_CODE_LICENSE = "C30"
AES_LICENSE_CODE_NLR = "C33"


def aes_license_code(auth_type: str, exception_aes_code: str = "") -> str:
    """The license code an EEI filing carries for an export under an authorization of ``auth_type``:
    C30 (license), C33 (NLR), or for a license exception the code its ruleset gives it
    (``exception_aes_code``, "" when the ruleset has none)."""
    if auth_type == AuthorizationType.LICENSE:
        return AES_LICENSE_CODE_LICENSE
    if auth_type == AuthorizationType.NO_LICENSE_REQUIRED:
        return AES_LICENSE_CODE_NLR
    if auth_type == AuthorizationType.LICENSE_EXCEPTION:
        return exception_aes_code
    return ""


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
