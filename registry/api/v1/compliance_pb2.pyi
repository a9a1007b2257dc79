import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from registry.api.v1 import commands_pb2 as _commands_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HitResolution(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HIT_RESOLUTION_UNSPECIFIED: _ClassVar[HitResolution]
    HIT_RESOLUTION_OPEN: _ClassVar[HitResolution]
    HIT_RESOLUTION_FALSE_POSITIVE: _ClassVar[HitResolution]
    HIT_RESOLUTION_CONFIRMED: _ClassVar[HitResolution]

class ControlStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTROL_STATUS_UNSPECIFIED: _ClassVar[ControlStatus]
    CONTROL_STATUS_CONTROLLED: _ClassVar[ControlStatus]
    CONTROL_STATUS_EXCLUDED_NOTE_2: _ClassVar[ControlStatus]
    CONTROL_STATUS_NOT_CONTROLLED: _ClassVar[ControlStatus]

class LedgerEntryKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEDGER_ENTRY_KIND_UNSPECIFIED: _ClassVar[LedgerEntryKind]
    LEDGER_ENTRY_KIND_DRAWN: _ClassVar[LedgerEntryKind]
    LEDGER_ENTRY_KIND_RETURNED: _ClassVar[LedgerEntryKind]

class FindingSeverity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FINDING_SEVERITY_UNSPECIFIED: _ClassVar[FindingSeverity]
    FINDING_SEVERITY_LOW: _ClassVar[FindingSeverity]
    FINDING_SEVERITY_MEDIUM: _ClassVar[FindingSeverity]
    FINDING_SEVERITY_HIGH: _ClassVar[FindingSeverity]
    FINDING_SEVERITY_CRITICAL: _ClassVar[FindingSeverity]

class FindingStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FINDING_STATUS_UNSPECIFIED: _ClassVar[FindingStatus]
    FINDING_STATUS_OPEN: _ClassVar[FindingStatus]
    FINDING_STATUS_ACKNOWLEDGED: _ClassVar[FindingStatus]
    FINDING_STATUS_RESOLVED: _ClassVar[FindingStatus]

class ComplianceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPLIANCE_STATUS_UNSPECIFIED: _ClassVar[ComplianceStatus]
    COMPLIANCE_STATUS_COMPLIANT: _ClassVar[ComplianceStatus]
    COMPLIANCE_STATUS_FINDINGS_OPEN: _ClassVar[ComplianceStatus]
    COMPLIANCE_STATUS_FINDINGS_RESOLVED: _ClassVar[ComplianceStatus]

class OverdueKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OVERDUE_KIND_UNSPECIFIED: _ClassVar[OverdueKind]
    OVERDUE_KIND_NOT_RECEIVED: _ClassVar[OverdueKind]
    OVERDUE_KIND_NOT_INSTALLED: _ClassVar[OverdueKind]
    OVERDUE_KIND_NOT_ATTESTED: _ClassVar[OverdueKind]
HIT_RESOLUTION_UNSPECIFIED: HitResolution
HIT_RESOLUTION_OPEN: HitResolution
HIT_RESOLUTION_FALSE_POSITIVE: HitResolution
HIT_RESOLUTION_CONFIRMED: HitResolution
CONTROL_STATUS_UNSPECIFIED: ControlStatus
CONTROL_STATUS_CONTROLLED: ControlStatus
CONTROL_STATUS_EXCLUDED_NOTE_2: ControlStatus
CONTROL_STATUS_NOT_CONTROLLED: ControlStatus
LEDGER_ENTRY_KIND_UNSPECIFIED: LedgerEntryKind
LEDGER_ENTRY_KIND_DRAWN: LedgerEntryKind
LEDGER_ENTRY_KIND_RETURNED: LedgerEntryKind
FINDING_SEVERITY_UNSPECIFIED: FindingSeverity
FINDING_SEVERITY_LOW: FindingSeverity
FINDING_SEVERITY_MEDIUM: FindingSeverity
FINDING_SEVERITY_HIGH: FindingSeverity
FINDING_SEVERITY_CRITICAL: FindingSeverity
FINDING_STATUS_UNSPECIFIED: FindingStatus
FINDING_STATUS_OPEN: FindingStatus
FINDING_STATUS_ACKNOWLEDGED: FindingStatus
FINDING_STATUS_RESOLVED: FindingStatus
COMPLIANCE_STATUS_UNSPECIFIED: ComplianceStatus
COMPLIANCE_STATUS_COMPLIANT: ComplianceStatus
COMPLIANCE_STATUS_FINDINGS_OPEN: ComplianceStatus
COMPLIANCE_STATUS_FINDINGS_RESOLVED: ComplianceStatus
OVERDUE_KIND_UNSPECIFIED: OverdueKind
OVERDUE_KIND_NOT_RECEIVED: OverdueKind
OVERDUE_KIND_NOT_INSTALLED: OverdueKind
OVERDUE_KIND_NOT_ATTESTED: OverdueKind

class ImportScreeningListRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "snapshot_id", "source", "content")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    snapshot_id: str
    source: str
    content: bytes
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., snapshot_id: _Optional[str] = ..., source: _Optional[str] = ..., content: _Optional[bytes] = ...) -> None: ...

class ScreenPartyRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "party_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    party_id: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., party_id: _Optional[str] = ...) -> None: ...

class ResolveScreeningHitRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "party_id", "hit_id", "resolution", "note")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    HIT_ID_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    party_id: str
    hit_id: str
    resolution: HitResolution
    note: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., party_id: _Optional[str] = ..., hit_id: _Optional[str] = ..., resolution: _Optional[_Union[HitResolution, str]] = ..., note: _Optional[str] = ...) -> None: ...

class ImportScreeningListResponse(_message.Message):
    __slots__ = ("aggregate_id", "version", "position", "replayed")
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    aggregate_id: str
    version: int
    position: int
    replayed: bool
    def __init__(self, aggregate_id: _Optional[str] = ..., version: _Optional[int] = ..., position: _Optional[int] = ..., replayed: _Optional[bool] = ...) -> None: ...

class ScreenPartyResponse(_message.Message):
    __slots__ = ("aggregate_id", "version", "position", "replayed")
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    aggregate_id: str
    version: int
    position: int
    replayed: bool
    def __init__(self, aggregate_id: _Optional[str] = ..., version: _Optional[int] = ..., position: _Optional[int] = ..., replayed: _Optional[bool] = ...) -> None: ...

class ResolveScreeningHitResponse(_message.Message):
    __slots__ = ("aggregate_id", "version", "position", "replayed")
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    aggregate_id: str
    version: int
    position: int
    replayed: bool
    def __init__(self, aggregate_id: _Optional[str] = ..., version: _Optional[int] = ..., position: _Optional[int] = ..., replayed: _Optional[bool] = ...) -> None: ...

class ClassifyModelRequest(_message.Message):
    __slots__ = ("model_id", "as_of", "ruleset_id")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    RULESET_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    as_of: _timestamp_pb2.Timestamp
    ruleset_id: str
    def __init__(self, model_id: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ruleset_id: _Optional[str] = ...) -> None: ...

class ClassifyModelResponse(_message.Message):
    __slots__ = ("classification", "ruleset")
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    RULESET_FIELD_NUMBER: _ClassVar[int]
    classification: Classification
    ruleset: Ruleset
    def __init__(self, classification: _Optional[_Union[Classification, _Mapping]] = ..., ruleset: _Optional[_Union[Ruleset, _Mapping]] = ...) -> None: ...

class ClassificationInputs(_message.Message):
    __slots__ = ("dense_tops", "bit_lengths", "die_area_mm2", "datacenter_marketed", "gpus_per_unit")
    class DenseTopsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class BitLengthsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    DENSE_TOPS_FIELD_NUMBER: _ClassVar[int]
    BIT_LENGTHS_FIELD_NUMBER: _ClassVar[int]
    DIE_AREA_MM2_FIELD_NUMBER: _ClassVar[int]
    DATACENTER_MARKETED_FIELD_NUMBER: _ClassVar[int]
    GPUS_PER_UNIT_FIELD_NUMBER: _ClassVar[int]
    dense_tops: _containers.ScalarMap[str, str]
    bit_lengths: _containers.ScalarMap[str, int]
    die_area_mm2: str
    datacenter_marketed: bool
    gpus_per_unit: int
    def __init__(self, dense_tops: _Optional[_Mapping[str, str]] = ..., bit_lengths: _Optional[_Mapping[str, int]] = ..., die_area_mm2: _Optional[str] = ..., datacenter_marketed: _Optional[bool] = ..., gpus_per_unit: _Optional[int] = ...) -> None: ...

class Classification(_message.Message):
    __slots__ = ("model_id", "model_name", "status", "eccn", "paragraphs", "tpp", "governing_precision", "tpp_by_precision", "performance_density", "reasons", "ruleset_id", "ruleset_citation", "inputs")
    class TppByPrecisionEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ECCN_FIELD_NUMBER: _ClassVar[int]
    PARAGRAPHS_FIELD_NUMBER: _ClassVar[int]
    TPP_FIELD_NUMBER: _ClassVar[int]
    GOVERNING_PRECISION_FIELD_NUMBER: _ClassVar[int]
    TPP_BY_PRECISION_FIELD_NUMBER: _ClassVar[int]
    PERFORMANCE_DENSITY_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    RULESET_ID_FIELD_NUMBER: _ClassVar[int]
    RULESET_CITATION_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    model_name: str
    status: ControlStatus
    eccn: str
    paragraphs: _containers.RepeatedScalarFieldContainer[str]
    tpp: str
    governing_precision: str
    tpp_by_precision: _containers.ScalarMap[str, str]
    performance_density: str
    reasons: _containers.RepeatedScalarFieldContainer[str]
    ruleset_id: str
    ruleset_citation: str
    inputs: ClassificationInputs
    def __init__(self, model_id: _Optional[str] = ..., model_name: _Optional[str] = ..., status: _Optional[_Union[ControlStatus, str]] = ..., eccn: _Optional[str] = ..., paragraphs: _Optional[_Iterable[str]] = ..., tpp: _Optional[str] = ..., governing_precision: _Optional[str] = ..., tpp_by_precision: _Optional[_Mapping[str, str]] = ..., performance_density: _Optional[str] = ..., reasons: _Optional[_Iterable[str]] = ..., ruleset_id: _Optional[str] = ..., ruleset_citation: _Optional[str] = ..., inputs: _Optional[_Union[ClassificationInputs, _Mapping]] = ...) -> None: ...

class Ruleset(_message.Message):
    __slots__ = ("ruleset_id", "title", "effective_from", "citation", "tpp_a", "tpp_a2", "pd_a2", "tpp_b1_low", "tpp_b1_high", "pd_b1_low", "tpp_b2", "pd_b2_low", "note2_tpp", "license_groups", "carve_out_groups", "destination_citation", "headquarters_citation")
    RULESET_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    CITATION_FIELD_NUMBER: _ClassVar[int]
    TPP_A_FIELD_NUMBER: _ClassVar[int]
    TPP_A2_FIELD_NUMBER: _ClassVar[int]
    PD_A2_FIELD_NUMBER: _ClassVar[int]
    TPP_B1_LOW_FIELD_NUMBER: _ClassVar[int]
    TPP_B1_HIGH_FIELD_NUMBER: _ClassVar[int]
    PD_B1_LOW_FIELD_NUMBER: _ClassVar[int]
    TPP_B2_FIELD_NUMBER: _ClassVar[int]
    PD_B2_LOW_FIELD_NUMBER: _ClassVar[int]
    NOTE2_TPP_FIELD_NUMBER: _ClassVar[int]
    LICENSE_GROUPS_FIELD_NUMBER: _ClassVar[int]
    CARVE_OUT_GROUPS_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_CITATION_FIELD_NUMBER: _ClassVar[int]
    HEADQUARTERS_CITATION_FIELD_NUMBER: _ClassVar[int]
    ruleset_id: str
    title: str
    effective_from: _timestamp_pb2.Timestamp
    citation: str
    tpp_a: str
    tpp_a2: str
    pd_a2: str
    tpp_b1_low: str
    tpp_b1_high: str
    pd_b1_low: str
    tpp_b2: str
    pd_b2_low: str
    note2_tpp: str
    license_groups: _containers.RepeatedScalarFieldContainer[str]
    carve_out_groups: _containers.RepeatedScalarFieldContainer[str]
    destination_citation: str
    headquarters_citation: str
    def __init__(self, ruleset_id: _Optional[str] = ..., title: _Optional[str] = ..., effective_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., citation: _Optional[str] = ..., tpp_a: _Optional[str] = ..., tpp_a2: _Optional[str] = ..., pd_a2: _Optional[str] = ..., tpp_b1_low: _Optional[str] = ..., tpp_b1_high: _Optional[str] = ..., pd_b1_low: _Optional[str] = ..., tpp_b2: _Optional[str] = ..., pd_b2_low: _Optional[str] = ..., note2_tpp: _Optional[str] = ..., license_groups: _Optional[_Iterable[str]] = ..., carve_out_groups: _Optional[_Iterable[str]] = ..., destination_citation: _Optional[str] = ..., headquarters_citation: _Optional[str] = ...) -> None: ...

class ProposedRuleset(_message.Message):
    __slots__ = ("ruleset_id", "title", "citation", "tpp_a", "tpp_a2", "pd_a2", "tpp_b1_low", "tpp_b1_high", "pd_b1_low", "tpp_b2", "pd_b2_low", "note2_tpp")
    RULESET_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    CITATION_FIELD_NUMBER: _ClassVar[int]
    TPP_A_FIELD_NUMBER: _ClassVar[int]
    TPP_A2_FIELD_NUMBER: _ClassVar[int]
    PD_A2_FIELD_NUMBER: _ClassVar[int]
    TPP_B1_LOW_FIELD_NUMBER: _ClassVar[int]
    TPP_B1_HIGH_FIELD_NUMBER: _ClassVar[int]
    PD_B1_LOW_FIELD_NUMBER: _ClassVar[int]
    TPP_B2_FIELD_NUMBER: _ClassVar[int]
    PD_B2_LOW_FIELD_NUMBER: _ClassVar[int]
    NOTE2_TPP_FIELD_NUMBER: _ClassVar[int]
    ruleset_id: str
    title: str
    citation: str
    tpp_a: str
    tpp_a2: str
    pd_a2: str
    tpp_b1_low: str
    tpp_b1_high: str
    pd_b1_low: str
    tpp_b2: str
    pd_b2_low: str
    note2_tpp: str
    def __init__(self, ruleset_id: _Optional[str] = ..., title: _Optional[str] = ..., citation: _Optional[str] = ..., tpp_a: _Optional[str] = ..., tpp_a2: _Optional[str] = ..., pd_a2: _Optional[str] = ..., tpp_b1_low: _Optional[str] = ..., tpp_b1_high: _Optional[str] = ..., pd_b1_low: _Optional[str] = ..., tpp_b2: _Optional[str] = ..., pd_b2_low: _Optional[str] = ..., note2_tpp: _Optional[str] = ...) -> None: ...

class GetRuleChangeImpactRequest(_message.Message):
    __slots__ = ("as_of", "ruleset_id", "proposed_ruleset")
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    RULESET_ID_FIELD_NUMBER: _ClassVar[int]
    PROPOSED_RULESET_FIELD_NUMBER: _ClassVar[int]
    as_of: _timestamp_pb2.Timestamp
    ruleset_id: str
    proposed_ruleset: ProposedRuleset
    def __init__(self, as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ruleset_id: _Optional[str] = ..., proposed_ruleset: _Optional[_Union[ProposedRuleset, _Mapping]] = ...) -> None: ...

class GetRuleChangeImpactResponse(_message.Message):
    __slots__ = ("baseline_ruleset", "candidate_ruleset", "models")
    BASELINE_RULESET_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_RULESET_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    baseline_ruleset: Ruleset
    candidate_ruleset: Ruleset
    models: _containers.RepeatedCompositeFieldContainer[ModelImpact]
    def __init__(self, baseline_ruleset: _Optional[_Union[Ruleset, _Mapping]] = ..., candidate_ruleset: _Optional[_Union[Ruleset, _Mapping]] = ..., models: _Optional[_Iterable[_Union[ModelImpact, _Mapping]]] = ...) -> None: ...

class ModelImpact(_message.Message):
    __slots__ = ("model_id", "model_name", "before", "after", "batches")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    model_name: str
    before: Classification
    after: Classification
    batches: _containers.RepeatedCompositeFieldContainer[ImpactedBatch]
    def __init__(self, model_id: _Optional[str] = ..., model_name: _Optional[str] = ..., before: _Optional[_Union[Classification, _Mapping]] = ..., after: _Optional[_Union[Classification, _Mapping]] = ..., batches: _Optional[_Iterable[_Union[ImpactedBatch, _Mapping]]] = ...) -> None: ...

class ImpactedBatch(_message.Message):
    __slots__ = ("batch_id", "po_number", "stage", "quantity", "clearance_status", "clearance_eccn", "destination_country")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    PO_NUMBER_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    CLEARANCE_STATUS_FIELD_NUMBER: _ClassVar[int]
    CLEARANCE_ECCN_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    po_number: str
    stage: str
    quantity: int
    clearance_status: str
    clearance_eccn: str
    destination_country: str
    def __init__(self, batch_id: _Optional[str] = ..., po_number: _Optional[str] = ..., stage: _Optional[str] = ..., quantity: _Optional[int] = ..., clearance_status: _Optional[str] = ..., clearance_eccn: _Optional[str] = ..., destination_country: _Optional[str] = ...) -> None: ...

class PartyRole(_message.Message):
    __slots__ = ("role", "party_id")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    role: str
    party_id: str
    def __init__(self, role: _Optional[str] = ..., party_id: _Optional[str] = ...) -> None: ...

class GetLicenseRequirementsRequest(_message.Message):
    __slots__ = ("model_id", "destination_country", "parties", "as_of")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    PARTIES_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    destination_country: str
    parties: _containers.RepeatedCompositeFieldContainer[PartyRole]
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, model_id: _Optional[str] = ..., destination_country: _Optional[str] = ..., parties: _Optional[_Iterable[_Union[PartyRole, _Mapping]]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetLicenseRequirementsResponse(_message.Message):
    __slots__ = ("classification", "license_required", "requirements", "destination_groups", "country_groups_version", "headquarters_checks")
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    LICENSE_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENTS_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_GROUPS_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_GROUPS_VERSION_FIELD_NUMBER: _ClassVar[int]
    HEADQUARTERS_CHECKS_FIELD_NUMBER: _ClassVar[int]
    classification: Classification
    license_required: bool
    requirements: _containers.RepeatedCompositeFieldContainer[LicenseRequirement]
    destination_groups: _containers.RepeatedScalarFieldContainer[str]
    country_groups_version: str
    headquarters_checks: _containers.RepeatedCompositeFieldContainer[HeadquartersCheck]
    def __init__(self, classification: _Optional[_Union[Classification, _Mapping]] = ..., license_required: _Optional[bool] = ..., requirements: _Optional[_Iterable[_Union[LicenseRequirement, _Mapping]]] = ..., destination_groups: _Optional[_Iterable[str]] = ..., country_groups_version: _Optional[str] = ..., headquarters_checks: _Optional[_Iterable[_Union[HeadquartersCheck, _Mapping]]] = ...) -> None: ...

class LicenseRequirement(_message.Message):
    __slots__ = ("rule_id", "title", "citation", "detail", "license_exceptions", "party_id", "role")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    CITATION_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    LICENSE_EXCEPTIONS_FIELD_NUMBER: _ClassVar[int]
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    title: str
    citation: str
    detail: str
    license_exceptions: _containers.RepeatedScalarFieldContainer[str]
    party_id: str
    role: str
    def __init__(self, rule_id: _Optional[str] = ..., title: _Optional[str] = ..., citation: _Optional[str] = ..., detail: _Optional[str] = ..., license_exceptions: _Optional[_Iterable[str]] = ..., party_id: _Optional[str] = ..., role: _Optional[str] = ...) -> None: ...

class OwnershipLink(_message.Message):
    __slots__ = ("party_id", "name", "country", "headquarters_country", "relation", "d5_or_macau")
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    HEADQUARTERS_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    D5_OR_MACAU_FIELD_NUMBER: _ClassVar[int]
    party_id: str
    name: str
    country: str
    headquarters_country: str
    relation: str
    d5_or_macau: bool
    def __init__(self, party_id: _Optional[str] = ..., name: _Optional[str] = ..., country: _Optional[str] = ..., headquarters_country: _Optional[str] = ..., relation: _Optional[str] = ..., d5_or_macau: _Optional[bool] = ...) -> None: ...

class HeadquartersCheck(_message.Message):
    __slots__ = ("role", "party_id", "chain", "applies", "triggered_by_party_id", "cycle_at_party_id", "missing_parent_id", "country_groups_version", "decided_by", "review_party_ids")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    APPLIES_FIELD_NUMBER: _ClassVar[int]
    TRIGGERED_BY_PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    CYCLE_AT_PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    MISSING_PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_GROUPS_VERSION_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    REVIEW_PARTY_IDS_FIELD_NUMBER: _ClassVar[int]
    role: str
    party_id: str
    chain: _containers.RepeatedCompositeFieldContainer[OwnershipLink]
    applies: bool
    triggered_by_party_id: str
    cycle_at_party_id: str
    missing_parent_id: str
    country_groups_version: str
    decided_by: str
    review_party_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, role: _Optional[str] = ..., party_id: _Optional[str] = ..., chain: _Optional[_Iterable[_Union[OwnershipLink, _Mapping]]] = ..., applies: _Optional[bool] = ..., triggered_by_party_id: _Optional[str] = ..., cycle_at_party_id: _Optional[str] = ..., missing_parent_id: _Optional[str] = ..., country_groups_version: _Optional[str] = ..., decided_by: _Optional[str] = ..., review_party_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetAuthorizationLedgerRequest(_message.Message):
    __slots__ = ("authorization_id",)
    AUTHORIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    authorization_id: str
    def __init__(self, authorization_id: _Optional[str] = ...) -> None: ...

class GetAuthorizationLedgerResponse(_message.Message):
    __slots__ = ("ledger",)
    LEDGER_FIELD_NUMBER: _ClassVar[int]
    ledger: AuthorizationLedger
    def __init__(self, ledger: _Optional[_Union[AuthorizationLedger, _Mapping]] = ...) -> None: ...

class LedgerEntry(_message.Message):
    __slots__ = ("kind", "batch_id", "quantity", "value", "currency", "reason", "related_batch_id", "actor", "occurred_at", "authorization_version")
    KIND_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RELATED_BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_VERSION_FIELD_NUMBER: _ClassVar[int]
    kind: LedgerEntryKind
    batch_id: str
    quantity: int
    value: str
    currency: str
    reason: str
    related_batch_id: str
    actor: str
    occurred_at: _timestamp_pb2.Timestamp
    authorization_version: int
    def __init__(self, kind: _Optional[_Union[LedgerEntryKind, str]] = ..., batch_id: _Optional[str] = ..., quantity: _Optional[int] = ..., value: _Optional[str] = ..., currency: _Optional[str] = ..., reason: _Optional[str] = ..., related_batch_id: _Optional[str] = ..., actor: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., authorization_version: _Optional[int] = ...) -> None: ...

class BatchHolding(_message.Message):
    __slots__ = ("batch_id", "quantity")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    quantity: int
    def __init__(self, batch_id: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class AuthorizationLedger(_message.Message):
    __slots__ = ("authorization_id", "number", "auth_type", "exception_code", "currency", "valid_from", "valid_to", "quantity_limit", "value_limit", "drawn_quantity", "returned_quantity", "remaining_quantity", "drawn_value", "returned_value", "remaining_value", "holdings", "entries")
    AUTHORIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    AUTH_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXCEPTION_CODE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_TO_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    VALUE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    DRAWN_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    RETURNED_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    REMAINING_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    DRAWN_VALUE_FIELD_NUMBER: _ClassVar[int]
    RETURNED_VALUE_FIELD_NUMBER: _ClassVar[int]
    REMAINING_VALUE_FIELD_NUMBER: _ClassVar[int]
    HOLDINGS_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    authorization_id: str
    number: str
    auth_type: _commands_pb2.AuthorizationType
    exception_code: str
    currency: str
    valid_from: _timestamp_pb2.Timestamp
    valid_to: _timestamp_pb2.Timestamp
    quantity_limit: int
    value_limit: str
    drawn_quantity: int
    returned_quantity: int
    remaining_quantity: int
    drawn_value: str
    returned_value: str
    remaining_value: str
    holdings: _containers.RepeatedCompositeFieldContainer[BatchHolding]
    entries: _containers.RepeatedCompositeFieldContainer[LedgerEntry]
    def __init__(self, authorization_id: _Optional[str] = ..., number: _Optional[str] = ..., auth_type: _Optional[_Union[_commands_pb2.AuthorizationType, str]] = ..., exception_code: _Optional[str] = ..., currency: _Optional[str] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., quantity_limit: _Optional[int] = ..., value_limit: _Optional[str] = ..., drawn_quantity: _Optional[int] = ..., returned_quantity: _Optional[int] = ..., remaining_quantity: _Optional[int] = ..., drawn_value: _Optional[str] = ..., returned_value: _Optional[str] = ..., remaining_value: _Optional[str] = ..., holdings: _Optional[_Iterable[_Union[BatchHolding, _Mapping]]] = ..., entries: _Optional[_Iterable[_Union[LedgerEntry, _Mapping]]] = ...) -> None: ...

class ListExpiringAuthorizationsRequest(_message.Message):
    __slots__ = ("within_days", "as_of", "page_size", "page_token")
    WITHIN_DAYS_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    within_days: int
    as_of: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, within_days: _Optional[int] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListExpiringAuthorizationsResponse(_message.Message):
    __slots__ = ("authorizations", "next_page_token", "as_of")
    AUTHORIZATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    authorizations: _containers.RepeatedCompositeFieldContainer[ExpiringAuthorization]
    next_page_token: str
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, authorizations: _Optional[_Iterable[_Union[ExpiringAuthorization, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ExpiringAuthorization(_message.Message):
    __slots__ = ("authorization_id", "number", "auth_type", "valid_to", "days_left", "remaining_quantity", "remaining_value")
    AUTHORIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    AUTH_TYPE_FIELD_NUMBER: _ClassVar[int]
    VALID_TO_FIELD_NUMBER: _ClassVar[int]
    DAYS_LEFT_FIELD_NUMBER: _ClassVar[int]
    REMAINING_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    REMAINING_VALUE_FIELD_NUMBER: _ClassVar[int]
    authorization_id: str
    number: str
    auth_type: _commands_pb2.AuthorizationType
    valid_to: _timestamp_pb2.Timestamp
    days_left: int
    remaining_quantity: int
    remaining_value: str
    def __init__(self, authorization_id: _Optional[str] = ..., number: _Optional[str] = ..., auth_type: _Optional[_Union[_commands_pb2.AuthorizationType, str]] = ..., valid_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., days_left: _Optional[int] = ..., remaining_quantity: _Optional[int] = ..., remaining_value: _Optional[str] = ...) -> None: ...

class ListScreeningListsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "source")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    source: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class ListScreeningListsResponse(_message.Message):
    __slots__ = ("snapshots", "next_page_token")
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    snapshots: _containers.RepeatedCompositeFieldContainer[ScreeningListSnapshot]
    next_page_token: str
    def __init__(self, snapshots: _Optional[_Iterable[_Union[ScreeningListSnapshot, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ScreeningListSnapshot(_message.Message):
    __slots__ = ("snapshot_id", "source", "sha256", "entry_count", "imported_at", "recorded_at", "imported_by", "latest")
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    ENTRY_COUNT_FIELD_NUMBER: _ClassVar[int]
    IMPORTED_AT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    IMPORTED_BY_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    snapshot_id: str
    source: str
    sha256: str
    entry_count: int
    imported_at: _timestamp_pb2.Timestamp
    recorded_at: _timestamp_pb2.Timestamp
    imported_by: str
    latest: bool
    def __init__(self, snapshot_id: _Optional[str] = ..., source: _Optional[str] = ..., sha256: _Optional[str] = ..., entry_count: _Optional[int] = ..., imported_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., imported_by: _Optional[str] = ..., latest: _Optional[bool] = ...) -> None: ...

class GetScreeningCaseRequest(_message.Message):
    __slots__ = ("party_id",)
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    party_id: str
    def __init__(self, party_id: _Optional[str] = ...) -> None: ...

class GetScreeningCaseResponse(_message.Message):
    __slots__ = ("screening_case",)
    SCREENING_CASE_FIELD_NUMBER: _ClassVar[int]
    screening_case: ScreeningCase
    def __init__(self, screening_case: _Optional[_Union[ScreeningCase, _Mapping]] = ...) -> None: ...

class ScreeningCase(_message.Message):
    __slots__ = ("party_id", "party_name", "case_id", "version", "blocking", "screened_against_latest", "screenings", "hits")
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    PARTY_NAME_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BLOCKING_FIELD_NUMBER: _ClassVar[int]
    SCREENED_AGAINST_LATEST_FIELD_NUMBER: _ClassVar[int]
    SCREENINGS_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    party_id: str
    party_name: str
    case_id: str
    version: int
    blocking: bool
    screened_against_latest: bool
    screenings: _containers.RepeatedCompositeFieldContainer[ScreeningRun]
    hits: _containers.RepeatedCompositeFieldContainer[ScreeningHit]
    def __init__(self, party_id: _Optional[str] = ..., party_name: _Optional[str] = ..., case_id: _Optional[str] = ..., version: _Optional[int] = ..., blocking: _Optional[bool] = ..., screened_against_latest: _Optional[bool] = ..., screenings: _Optional[_Iterable[_Union[ScreeningRun, _Mapping]]] = ..., hits: _Optional[_Iterable[_Union[ScreeningHit, _Mapping]]] = ...) -> None: ...

class ScreeningRun(_message.Message):
    __slots__ = ("source", "snapshot_id", "sha256", "party_name", "threshold", "screened_at", "hit_count", "near_misses")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    PARTY_NAME_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SCREENED_AT_FIELD_NUMBER: _ClassVar[int]
    HIT_COUNT_FIELD_NUMBER: _ClassVar[int]
    NEAR_MISSES_FIELD_NUMBER: _ClassVar[int]
    source: str
    snapshot_id: str
    sha256: str
    party_name: str
    threshold: float
    screened_at: _timestamp_pb2.Timestamp
    hit_count: int
    near_misses: _containers.RepeatedCompositeFieldContainer[NearMiss]
    def __init__(self, source: _Optional[str] = ..., snapshot_id: _Optional[str] = ..., sha256: _Optional[str] = ..., party_name: _Optional[str] = ..., threshold: _Optional[float] = ..., screened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., hit_count: _Optional[int] = ..., near_misses: _Optional[_Iterable[_Union[NearMiss, _Mapping]]] = ...) -> None: ...

class NearMiss(_message.Message):
    __slots__ = ("entry_id", "source_list", "name", "matched_name", "score")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LIST_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MATCHED_NAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    source_list: str
    name: str
    matched_name: str
    score: float
    def __init__(self, entry_id: _Optional[str] = ..., source_list: _Optional[str] = ..., name: _Optional[str] = ..., matched_name: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class ScreeningListEntry(_message.Message):
    __slots__ = ("entry_id", "source_list", "name", "alt_names", "addresses", "countries", "extra")
    class ExtraEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LIST_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALT_NAMES_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    COUNTRIES_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    source_list: str
    name: str
    alt_names: _containers.RepeatedScalarFieldContainer[str]
    addresses: _containers.RepeatedScalarFieldContainer[str]
    countries: _containers.RepeatedScalarFieldContainer[str]
    extra: _containers.ScalarMap[str, str]
    def __init__(self, entry_id: _Optional[str] = ..., source_list: _Optional[str] = ..., name: _Optional[str] = ..., alt_names: _Optional[_Iterable[str]] = ..., addresses: _Optional[_Iterable[str]] = ..., countries: _Optional[_Iterable[str]] = ..., extra: _Optional[_Mapping[str, str]] = ...) -> None: ...

class HitResolutionStep(_message.Message):
    __slots__ = ("resolution", "note", "actor", "resolved_at")
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    resolution: HitResolution
    note: str
    actor: str
    resolved_at: _timestamp_pb2.Timestamp
    def __init__(self, resolution: _Optional[_Union[HitResolution, str]] = ..., note: _Optional[str] = ..., actor: _Optional[str] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ScreeningHit(_message.Message):
    __slots__ = ("hit_id", "resolution", "blocking", "current", "score", "matched_name", "party_name", "source", "snapshot_id", "sha256", "entry", "first_seen_at", "trail")
    HIT_ID_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    BLOCKING_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    MATCHED_NAME_FIELD_NUMBER: _ClassVar[int]
    PARTY_NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    TRAIL_FIELD_NUMBER: _ClassVar[int]
    hit_id: str
    resolution: HitResolution
    blocking: bool
    current: bool
    score: float
    matched_name: str
    party_name: str
    source: str
    snapshot_id: str
    sha256: str
    entry: ScreeningListEntry
    first_seen_at: _timestamp_pb2.Timestamp
    trail: _containers.RepeatedCompositeFieldContainer[HitResolutionStep]
    def __init__(self, hit_id: _Optional[str] = ..., resolution: _Optional[_Union[HitResolution, str]] = ..., blocking: _Optional[bool] = ..., current: _Optional[bool] = ..., score: _Optional[float] = ..., matched_name: _Optional[str] = ..., party_name: _Optional[str] = ..., source: _Optional[str] = ..., snapshot_id: _Optional[str] = ..., sha256: _Optional[str] = ..., entry: _Optional[_Union[ScreeningListEntry, _Mapping]] = ..., first_seen_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trail: _Optional[_Iterable[_Union[HitResolutionStep, _Mapping]]] = ...) -> None: ...

class AcknowledgeFindingRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "finding_id", "note")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    FINDING_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    finding_id: str
    note: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finding_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class AcknowledgeFindingResponse(_message.Message):
    __slots__ = ("aggregate_id", "version", "position", "replayed")
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    aggregate_id: str
    version: int
    position: int
    replayed: bool
    def __init__(self, aggregate_id: _Optional[str] = ..., version: _Optional[int] = ..., position: _Optional[int] = ..., replayed: _Optional[bool] = ...) -> None: ...

class ResolveFindingRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "finding_id", "note")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    FINDING_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    finding_id: str
    note: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finding_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class ResolveFindingResponse(_message.Message):
    __slots__ = ("aggregate_id", "version", "position", "replayed")
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    aggregate_id: str
    version: int
    position: int
    replayed: bool
    def __init__(self, aggregate_id: _Optional[str] = ..., version: _Optional[int] = ..., position: _Optional[int] = ..., replayed: _Optional[bool] = ...) -> None: ...

class PlaceLegalHoldRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "hold_id", "batch_id", "agency", "reference", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    hold_id: str
    batch_id: str
    agency: str
    reference: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., hold_id: _Optional[str] = ..., batch_id: _Optional[str] = ..., agency: _Optional[str] = ..., reference: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PlaceLegalHoldResponse(_message.Message):
    __slots__ = ("aggregate_id", "version", "position", "replayed")
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    aggregate_id: str
    version: int
    position: int
    replayed: bool
    def __init__(self, aggregate_id: _Optional[str] = ..., version: _Optional[int] = ..., position: _Optional[int] = ..., replayed: _Optional[bool] = ...) -> None: ...

class ReleaseLegalHoldRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "hold_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    hold_id: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., hold_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReleaseLegalHoldResponse(_message.Message):
    __slots__ = ("aggregate_id", "version", "position", "replayed")
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    aggregate_id: str
    version: int
    position: int
    replayed: bool
    def __init__(self, aggregate_id: _Optional[str] = ..., version: _Optional[int] = ..., position: _Optional[int] = ..., replayed: _Optional[bool] = ...) -> None: ...

class LegalHold(_message.Message):
    __slots__ = ("hold_id", "agency", "reference", "reason", "placed_by", "placed_at", "active", "released_by", "released_at", "release_reason")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PLACED_BY_FIELD_NUMBER: _ClassVar[int]
    PLACED_AT_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    RELEASED_BY_FIELD_NUMBER: _ClassVar[int]
    RELEASED_AT_FIELD_NUMBER: _ClassVar[int]
    RELEASE_REASON_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    agency: str
    reference: str
    reason: str
    placed_by: str
    placed_at: _timestamp_pb2.Timestamp
    active: bool
    released_by: str
    released_at: _timestamp_pb2.Timestamp
    release_reason: str
    def __init__(self, hold_id: _Optional[str] = ..., agency: _Optional[str] = ..., reference: _Optional[str] = ..., reason: _Optional[str] = ..., placed_by: _Optional[str] = ..., placed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., active: _Optional[bool] = ..., released_by: _Optional[str] = ..., released_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., release_reason: _Optional[str] = ...) -> None: ...

class OnwardMovement(_message.Message):
    __slots__ = ("kind", "country", "place", "quantity", "serials", "occurred_at", "recorded_by", "note", "recipient_id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    PLACE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_BY_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_ID_FIELD_NUMBER: _ClassVar[int]
    kind: str
    country: str
    place: str
    quantity: int
    serials: _containers.RepeatedScalarFieldContainer[str]
    occurred_at: _timestamp_pb2.Timestamp
    recorded_by: str
    note: str
    recipient_id: str
    def __init__(self, kind: _Optional[str] = ..., country: _Optional[str] = ..., place: _Optional[str] = ..., quantity: _Optional[int] = ..., serials: _Optional[_Iterable[str]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_by: _Optional[str] = ..., note: _Optional[str] = ..., recipient_id: _Optional[str] = ...) -> None: ...

class RevealingEvent(_message.Message):
    __slots__ = ("position", "event_type", "aggregate_id", "occurred_at")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    position: int
    event_type: str
    aggregate_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, position: _Optional[int] = ..., event_type: _Optional[str] = ..., aggregate_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FindingTrailEntry(_message.Message):
    __slots__ = ("seq", "action", "actor", "note", "position", "event_type", "occurred_at", "recorded_at")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    seq: int
    action: str
    actor: str
    note: str
    position: int
    event_type: str
    occurred_at: _timestamp_pb2.Timestamp
    recorded_at: _timestamp_pb2.Timestamp
    def __init__(self, seq: _Optional[int] = ..., action: _Optional[str] = ..., actor: _Optional[str] = ..., note: _Optional[str] = ..., position: _Optional[int] = ..., event_type: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Finding(_message.Message):
    __slots__ = ("finding_id", "rule_id", "title", "citation", "severity", "status", "batch_id", "partner_id", "party_id", "site_id", "authorization_id", "shipment_id", "quantity", "serials", "reasons", "revealed_by", "first_detected_at", "status_changed_at", "trail")
    FINDING_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    CITATION_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    SHIPMENT_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    REVEALED_BY_FIELD_NUMBER: _ClassVar[int]
    FIRST_DETECTED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    TRAIL_FIELD_NUMBER: _ClassVar[int]
    finding_id: str
    rule_id: str
    title: str
    citation: str
    severity: FindingSeverity
    status: FindingStatus
    batch_id: str
    partner_id: str
    party_id: str
    site_id: str
    authorization_id: str
    shipment_id: str
    quantity: int
    serials: _containers.RepeatedScalarFieldContainer[str]
    reasons: _containers.RepeatedScalarFieldContainer[str]
    revealed_by: RevealingEvent
    first_detected_at: _timestamp_pb2.Timestamp
    status_changed_at: _timestamp_pb2.Timestamp
    trail: _containers.RepeatedCompositeFieldContainer[FindingTrailEntry]
    def __init__(self, finding_id: _Optional[str] = ..., rule_id: _Optional[str] = ..., title: _Optional[str] = ..., citation: _Optional[str] = ..., severity: _Optional[_Union[FindingSeverity, str]] = ..., status: _Optional[_Union[FindingStatus, str]] = ..., batch_id: _Optional[str] = ..., partner_id: _Optional[str] = ..., party_id: _Optional[str] = ..., site_id: _Optional[str] = ..., authorization_id: _Optional[str] = ..., shipment_id: _Optional[str] = ..., quantity: _Optional[int] = ..., serials: _Optional[_Iterable[str]] = ..., reasons: _Optional[_Iterable[str]] = ..., revealed_by: _Optional[_Union[RevealingEvent, _Mapping]] = ..., first_detected_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status_changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trail: _Optional[_Iterable[_Union[FindingTrailEntry, _Mapping]]] = ...) -> None: ...

class GetBatchComplianceRequest(_message.Message):
    __slots__ = ("batch_id", "min_position")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_POSITION_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    min_position: int
    def __init__(self, batch_id: _Optional[str] = ..., min_position: _Optional[int] = ...) -> None: ...

class SerialCompliance(_message.Message):
    __slots__ = ("serial", "status", "finding_ids")
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FINDING_IDS_FIELD_NUMBER: _ClassVar[int]
    serial: str
    status: ComplianceStatus
    finding_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, serial: _Optional[str] = ..., status: _Optional[_Union[ComplianceStatus, str]] = ..., finding_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ExportRecord(_message.Message):
    __slots__ = ("shipment_id", "shipped_at", "quantity", "received", "destination_country", "destination_site_id", "retention_basis_at", "retention_until", "carrier_id", "intermediate_consignee_ids", "forwarder_id", "held", "destruction_allowed_from", "eccn", "destination_control_statement", "exporter_id", "itn", "end_use", "value", "currency", "authorization_id", "authorization_number", "authorization_type", "exception_code", "authorization_valid_to", "authorization_drawn_quantity", "authorization_remaining_quantity", "authorization_remaining_value", "tpp", "performance_density", "datacenter_marketed", "classification_paragraphs", "classification_ruleset_id", "aes_license_code")
    SHIPMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SHIPPED_AT_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_SITE_ID_FIELD_NUMBER: _ClassVar[int]
    RETENTION_BASIS_AT_FIELD_NUMBER: _ClassVar[int]
    RETENTION_UNTIL_FIELD_NUMBER: _ClassVar[int]
    CARRIER_ID_FIELD_NUMBER: _ClassVar[int]
    INTERMEDIATE_CONSIGNEE_IDS_FIELD_NUMBER: _ClassVar[int]
    FORWARDER_ID_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    DESTRUCTION_ALLOWED_FROM_FIELD_NUMBER: _ClassVar[int]
    ECCN_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_CONTROL_STATEMENT_FIELD_NUMBER: _ClassVar[int]
    EXPORTER_ID_FIELD_NUMBER: _ClassVar[int]
    ITN_FIELD_NUMBER: _ClassVar[int]
    END_USE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXCEPTION_CODE_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_VALID_TO_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_DRAWN_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_REMAINING_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_REMAINING_VALUE_FIELD_NUMBER: _ClassVar[int]
    TPP_FIELD_NUMBER: _ClassVar[int]
    PERFORMANCE_DENSITY_FIELD_NUMBER: _ClassVar[int]
    DATACENTER_MARKETED_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_PARAGRAPHS_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_RULESET_ID_FIELD_NUMBER: _ClassVar[int]
    AES_LICENSE_CODE_FIELD_NUMBER: _ClassVar[int]
    shipment_id: str
    shipped_at: _timestamp_pb2.Timestamp
    quantity: int
    received: int
    destination_country: str
    destination_site_id: str
    retention_basis_at: _timestamp_pb2.Timestamp
    retention_until: _timestamp_pb2.Timestamp
    carrier_id: str
    intermediate_consignee_ids: _containers.RepeatedScalarFieldContainer[str]
    forwarder_id: str
    held: bool
    destruction_allowed_from: _timestamp_pb2.Timestamp
    eccn: str
    destination_control_statement: str
    exporter_id: str
    itn: str
    end_use: str
    value: str
    currency: str
    authorization_id: str
    authorization_number: str
    authorization_type: str
    exception_code: str
    authorization_valid_to: _timestamp_pb2.Timestamp
    authorization_drawn_quantity: int
    authorization_remaining_quantity: int
    authorization_remaining_value: str
    tpp: str
    performance_density: str
    datacenter_marketed: bool
    classification_paragraphs: _containers.RepeatedScalarFieldContainer[str]
    classification_ruleset_id: str
    aes_license_code: str
    def __init__(self, shipment_id: _Optional[str] = ..., shipped_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., quantity: _Optional[int] = ..., received: _Optional[int] = ..., destination_country: _Optional[str] = ..., destination_site_id: _Optional[str] = ..., retention_basis_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., retention_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., carrier_id: _Optional[str] = ..., intermediate_consignee_ids: _Optional[_Iterable[str]] = ..., forwarder_id: _Optional[str] = ..., held: _Optional[bool] = ..., destruction_allowed_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., eccn: _Optional[str] = ..., destination_control_statement: _Optional[str] = ..., exporter_id: _Optional[str] = ..., itn: _Optional[str] = ..., end_use: _Optional[str] = ..., value: _Optional[str] = ..., currency: _Optional[str] = ..., authorization_id: _Optional[str] = ..., authorization_number: _Optional[str] = ..., authorization_type: _Optional[str] = ..., exception_code: _Optional[str] = ..., authorization_valid_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., authorization_drawn_quantity: _Optional[int] = ..., authorization_remaining_quantity: _Optional[int] = ..., authorization_remaining_value: _Optional[str] = ..., tpp: _Optional[str] = ..., performance_density: _Optional[str] = ..., datacenter_marketed: _Optional[bool] = ..., classification_paragraphs: _Optional[_Iterable[str]] = ..., classification_ruleset_id: _Optional[str] = ..., aes_license_code: _Optional[str] = ...) -> None: ...

class GetBatchComplianceResponse(_message.Message):
    __slots__ = ("batch_id", "po_number", "buyer_id", "status", "findings", "serial_count", "serials", "compliant_serial_count", "exports", "as_of", "position", "legal_holds", "onward_movements")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    PO_NUMBER_FIELD_NUMBER: _ClassVar[int]
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    SERIAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    COMPLIANT_SERIAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    EXPORTS_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    LEGAL_HOLDS_FIELD_NUMBER: _ClassVar[int]
    ONWARD_MOVEMENTS_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    po_number: str
    buyer_id: str
    status: ComplianceStatus
    findings: _containers.RepeatedCompositeFieldContainer[Finding]
    serial_count: int
    serials: _containers.RepeatedCompositeFieldContainer[SerialCompliance]
    compliant_serial_count: int
    exports: _containers.RepeatedCompositeFieldContainer[ExportRecord]
    as_of: _timestamp_pb2.Timestamp
    position: int
    legal_holds: _containers.RepeatedCompositeFieldContainer[LegalHold]
    onward_movements: _containers.RepeatedCompositeFieldContainer[OnwardMovement]
    def __init__(self, batch_id: _Optional[str] = ..., po_number: _Optional[str] = ..., buyer_id: _Optional[str] = ..., status: _Optional[_Union[ComplianceStatus, str]] = ..., findings: _Optional[_Iterable[_Union[Finding, _Mapping]]] = ..., serial_count: _Optional[int] = ..., serials: _Optional[_Iterable[_Union[SerialCompliance, _Mapping]]] = ..., compliant_serial_count: _Optional[int] = ..., exports: _Optional[_Iterable[_Union[ExportRecord, _Mapping]]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., position: _Optional[int] = ..., legal_holds: _Optional[_Iterable[_Union[LegalHold, _Mapping]]] = ..., onward_movements: _Optional[_Iterable[_Union[OnwardMovement, _Mapping]]] = ...) -> None: ...

class ListFindingsRequest(_message.Message):
    __slots__ = ("partner_id", "batch_id", "rule_ids", "severities", "statuses", "page_size", "page_token", "min_position")
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_IDS_FIELD_NUMBER: _ClassVar[int]
    SEVERITIES_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MIN_POSITION_FIELD_NUMBER: _ClassVar[int]
    partner_id: str
    batch_id: str
    rule_ids: _containers.RepeatedScalarFieldContainer[str]
    severities: _containers.RepeatedScalarFieldContainer[FindingSeverity]
    statuses: _containers.RepeatedScalarFieldContainer[FindingStatus]
    page_size: int
    page_token: str
    min_position: int
    def __init__(self, partner_id: _Optional[str] = ..., batch_id: _Optional[str] = ..., rule_ids: _Optional[_Iterable[str]] = ..., severities: _Optional[_Iterable[_Union[FindingSeverity, str]]] = ..., statuses: _Optional[_Iterable[_Union[FindingStatus, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., min_position: _Optional[int] = ...) -> None: ...

class ListFindingsResponse(_message.Message):
    __slots__ = ("findings", "next_page_token")
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    findings: _containers.RepeatedCompositeFieldContainer[Finding]
    next_page_token: str
    def __init__(self, findings: _Optional[_Iterable[_Union[Finding, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetFindingRequest(_message.Message):
    __slots__ = ("finding_id", "min_position")
    FINDING_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_POSITION_FIELD_NUMBER: _ClassVar[int]
    finding_id: str
    min_position: int
    def __init__(self, finding_id: _Optional[str] = ..., min_position: _Optional[int] = ...) -> None: ...

class GetFindingResponse(_message.Message):
    __slots__ = ("finding",)
    FINDING_FIELD_NUMBER: _ClassVar[int]
    finding: Finding
    def __init__(self, finding: _Optional[_Union[Finding, _Mapping]] = ...) -> None: ...

class ListOverdueItemsRequest(_message.Message):
    __slots__ = ("as_of", "transit_days", "install_days", "include_waiting", "min_position", "attestation_days")
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    TRANSIT_DAYS_FIELD_NUMBER: _ClassVar[int]
    INSTALL_DAYS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_WAITING_FIELD_NUMBER: _ClassVar[int]
    MIN_POSITION_FIELD_NUMBER: _ClassVar[int]
    ATTESTATION_DAYS_FIELD_NUMBER: _ClassVar[int]
    as_of: _timestamp_pb2.Timestamp
    transit_days: int
    install_days: int
    include_waiting: bool
    min_position: int
    attestation_days: int
    def __init__(self, as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., transit_days: _Optional[int] = ..., install_days: _Optional[int] = ..., include_waiting: _Optional[bool] = ..., min_position: _Optional[int] = ..., attestation_days: _Optional[int] = ...) -> None: ...

class OverdueItem(_message.Message):
    __slots__ = ("kind", "rule_id", "batch_id", "shipment_id", "since", "due", "overdue", "days_waiting", "units", "serials", "finding_id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    SHIPMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    DUE_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_FIELD_NUMBER: _ClassVar[int]
    DAYS_WAITING_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    FINDING_ID_FIELD_NUMBER: _ClassVar[int]
    kind: OverdueKind
    rule_id: str
    batch_id: str
    shipment_id: str
    since: _timestamp_pb2.Timestamp
    due: _timestamp_pb2.Timestamp
    overdue: bool
    days_waiting: int
    units: int
    serials: _containers.RepeatedScalarFieldContainer[str]
    finding_id: str
    def __init__(self, kind: _Optional[_Union[OverdueKind, str]] = ..., rule_id: _Optional[str] = ..., batch_id: _Optional[str] = ..., shipment_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., overdue: _Optional[bool] = ..., days_waiting: _Optional[int] = ..., units: _Optional[int] = ..., serials: _Optional[_Iterable[str]] = ..., finding_id: _Optional[str] = ...) -> None: ...

class ListOverdueItemsResponse(_message.Message):
    __slots__ = ("items", "as_of", "transit_days", "install_days")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    TRANSIT_DAYS_FIELD_NUMBER: _ClassVar[int]
    INSTALL_DAYS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[OverdueItem]
    as_of: _timestamp_pb2.Timestamp
    transit_days: int
    install_days: int
    def __init__(self, items: _Optional[_Iterable[_Union[OverdueItem, _Mapping]]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., transit_days: _Optional[int] = ..., install_days: _Optional[int] = ...) -> None: ...
