import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from registry.api.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetPartyRequest(_message.Message):
    __slots__ = ("party_id",)
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    party_id: str
    def __init__(self, party_id: _Optional[str] = ...) -> None: ...

class GetPartyResponse(_message.Message):
    __slots__ = ("party",)
    PARTY_FIELD_NUMBER: _ClassVar[int]
    party: PartyFacts
    def __init__(self, party: _Optional[_Union[PartyFacts, _Mapping]] = ...) -> None: ...

class PartyFacts(_message.Message):
    __slots__ = ("party_id", "name", "country", "roles", "headquarters_country", "address", "immediate_parent_id", "named_ultimate_parent_id", "ultimate_parent_id", "ultimate_parent_name", "ultimate_parent_headquarters_country", "headquarters_rule_applies", "headquarters_rule_decided_by", "country_groups_version", "intermediate_owner_flag_ids", "address_type", "online_presence", "forwarder_standing", "screening", "version")
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    HEADQUARTERS_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    IMMEDIATE_PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAMED_ULTIMATE_PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    ULTIMATE_PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    ULTIMATE_PARENT_NAME_FIELD_NUMBER: _ClassVar[int]
    ULTIMATE_PARENT_HEADQUARTERS_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    HEADQUARTERS_RULE_APPLIES_FIELD_NUMBER: _ClassVar[int]
    HEADQUARTERS_RULE_DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_GROUPS_VERSION_FIELD_NUMBER: _ClassVar[int]
    INTERMEDIATE_OWNER_FLAG_IDS_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_TYPE_FIELD_NUMBER: _ClassVar[int]
    ONLINE_PRESENCE_FIELD_NUMBER: _ClassVar[int]
    FORWARDER_STANDING_FIELD_NUMBER: _ClassVar[int]
    SCREENING_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    party_id: str
    name: str
    country: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    headquarters_country: str
    address: str
    immediate_parent_id: str
    named_ultimate_parent_id: str
    ultimate_parent_id: str
    ultimate_parent_name: str
    ultimate_parent_headquarters_country: str
    headquarters_rule_applies: bool
    headquarters_rule_decided_by: str
    country_groups_version: str
    intermediate_owner_flag_ids: _containers.RepeatedScalarFieldContainer[str]
    address_type: str
    online_presence: str
    forwarder_standing: str
    screening: PartyScreeningStatus
    version: int
    def __init__(self, party_id: _Optional[str] = ..., name: _Optional[str] = ..., country: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., headquarters_country: _Optional[str] = ..., address: _Optional[str] = ..., immediate_parent_id: _Optional[str] = ..., named_ultimate_parent_id: _Optional[str] = ..., ultimate_parent_id: _Optional[str] = ..., ultimate_parent_name: _Optional[str] = ..., ultimate_parent_headquarters_country: _Optional[str] = ..., headquarters_rule_applies: _Optional[bool] = ..., headquarters_rule_decided_by: _Optional[str] = ..., country_groups_version: _Optional[str] = ..., intermediate_owner_flag_ids: _Optional[_Iterable[str]] = ..., address_type: _Optional[str] = ..., online_presence: _Optional[str] = ..., forwarder_standing: _Optional[str] = ..., screening: _Optional[_Union[PartyScreeningStatus, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class PartyScreeningStatus(_message.Message):
    __slots__ = ("status", "screened_against_latest", "blocking", "open_hits", "confirmed_hits", "false_positive_hits", "last_screened_at", "sources")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SCREENED_AGAINST_LATEST_FIELD_NUMBER: _ClassVar[int]
    BLOCKING_FIELD_NUMBER: _ClassVar[int]
    OPEN_HITS_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_HITS_FIELD_NUMBER: _ClassVar[int]
    FALSE_POSITIVE_HITS_FIELD_NUMBER: _ClassVar[int]
    LAST_SCREENED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    status: str
    screened_against_latest: bool
    blocking: bool
    open_hits: int
    confirmed_hits: int
    false_positive_hits: int
    last_screened_at: _timestamp_pb2.Timestamp
    sources: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, status: _Optional[str] = ..., screened_against_latest: _Optional[bool] = ..., blocking: _Optional[bool] = ..., open_hits: _Optional[int] = ..., confirmed_hits: _Optional[int] = ..., false_positive_hits: _Optional[int] = ..., last_screened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sources: _Optional[_Iterable[str]] = ...) -> None: ...

class GetBatchRequest(_message.Message):
    __slots__ = ("batch_id", "version")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    version: int
    def __init__(self, batch_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetBatchResponse(_message.Message):
    __slots__ = ("batch",)
    BATCH_FIELD_NUMBER: _ClassVar[int]
    batch: _resources_pb2.Batch
    def __init__(self, batch: _Optional[_Union[_resources_pb2.Batch, _Mapping]] = ...) -> None: ...

class ListBatchEventsRequest(_message.Message):
    __slots__ = ("batch_id", "page_size", "page_token")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    page_size: int
    page_token: str
    def __init__(self, batch_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListBatchEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Event]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[_resources_pb2.Event, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListBatchesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "partner_id", "model_id", "stage", "site_id", "country", "min_position")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    MIN_POSITION_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    partner_id: str
    model_id: str
    stage: str
    site_id: str
    country: str
    min_position: int
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., partner_id: _Optional[str] = ..., model_id: _Optional[str] = ..., stage: _Optional[str] = ..., site_id: _Optional[str] = ..., country: _Optional[str] = ..., min_position: _Optional[int] = ...) -> None: ...

class ListBatchesResponse(_message.Message):
    __slots__ = ("batches", "next_page_token")
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    batches: _containers.RepeatedCompositeFieldContainer[_resources_pb2.BatchSummary]
    next_page_token: str
    def __init__(self, batches: _Optional[_Iterable[_Union[_resources_pb2.BatchSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetOwnershipRequest(_message.Message):
    __slots__ = ("partner_id", "min_position")
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_POSITION_FIELD_NUMBER: _ClassVar[int]
    partner_id: str
    min_position: int
    def __init__(self, partner_id: _Optional[str] = ..., min_position: _Optional[int] = ...) -> None: ...

class GetOwnershipResponse(_message.Message):
    __slots__ = ("partners",)
    PARTNERS_FIELD_NUMBER: _ClassVar[int]
    partners: _containers.RepeatedCompositeFieldContainer[PartnerOwnership]
    def __init__(self, partners: _Optional[_Iterable[_Union[PartnerOwnership, _Mapping]]] = ...) -> None: ...

class PartnerOwnership(_message.Message):
    __slots__ = ("partner_id", "name", "country", "gpus_by_stage", "gpus_held", "gpus_installed", "compute_tpp", "dense_pflops", "allocated_gpus", "allocation_used", "models")
    class GpusByStageEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    GPUS_BY_STAGE_FIELD_NUMBER: _ClassVar[int]
    GPUS_HELD_FIELD_NUMBER: _ClassVar[int]
    GPUS_INSTALLED_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_TPP_FIELD_NUMBER: _ClassVar[int]
    DENSE_PFLOPS_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_GPUS_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_USED_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    partner_id: str
    name: str
    country: str
    gpus_by_stage: _containers.ScalarMap[str, int]
    gpus_held: int
    gpus_installed: int
    compute_tpp: str
    dense_pflops: str
    allocated_gpus: int
    allocation_used: str
    models: _containers.RepeatedCompositeFieldContainer[ModelHolding]
    def __init__(self, partner_id: _Optional[str] = ..., name: _Optional[str] = ..., country: _Optional[str] = ..., gpus_by_stage: _Optional[_Mapping[str, int]] = ..., gpus_held: _Optional[int] = ..., gpus_installed: _Optional[int] = ..., compute_tpp: _Optional[str] = ..., dense_pflops: _Optional[str] = ..., allocated_gpus: _Optional[int] = ..., allocation_used: _Optional[str] = ..., models: _Optional[_Iterable[_Union[ModelHolding, _Mapping]]] = ...) -> None: ...

class ModelHolding(_message.Message):
    __slots__ = ("model_id", "model_name", "units_by_stage", "gpus_by_stage", "gpus_held", "compute_tpp", "dense_pflops")
    class UnitsByStageEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class GpusByStageEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    UNITS_BY_STAGE_FIELD_NUMBER: _ClassVar[int]
    GPUS_BY_STAGE_FIELD_NUMBER: _ClassVar[int]
    GPUS_HELD_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_TPP_FIELD_NUMBER: _ClassVar[int]
    DENSE_PFLOPS_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    model_name: str
    units_by_stage: _containers.ScalarMap[str, int]
    gpus_by_stage: _containers.ScalarMap[str, int]
    gpus_held: int
    compute_tpp: str
    dense_pflops: str
    def __init__(self, model_id: _Optional[str] = ..., model_name: _Optional[str] = ..., units_by_stage: _Optional[_Mapping[str, int]] = ..., gpus_by_stage: _Optional[_Mapping[str, int]] = ..., gpus_held: _Optional[int] = ..., compute_tpp: _Optional[str] = ..., dense_pflops: _Optional[str] = ...) -> None: ...

class GetSiteInventoryRequest(_message.Message):
    __slots__ = ("site_id", "min_position")
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_POSITION_FIELD_NUMBER: _ClassVar[int]
    site_id: str
    min_position: int
    def __init__(self, site_id: _Optional[str] = ..., min_position: _Optional[int] = ...) -> None: ...

class GetSiteInventoryResponse(_message.Message):
    __slots__ = ("sites",)
    SITES_FIELD_NUMBER: _ClassVar[int]
    sites: _containers.RepeatedCompositeFieldContainer[SiteInventory]
    def __init__(self, sites: _Optional[_Iterable[_Union[SiteInventory, _Mapping]]] = ...) -> None: ...

class SiteInventory(_message.Message):
    __slots__ = ("site_id", "name", "country", "operator_id", "power_capacity_kw", "installed_gpus", "installed_tdp_kw", "power_headroom_kw", "over_capacity", "units_by_stage", "models")
    class UnitsByStageEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    POWER_CAPACITY_KW_FIELD_NUMBER: _ClassVar[int]
    INSTALLED_GPUS_FIELD_NUMBER: _ClassVar[int]
    INSTALLED_TDP_KW_FIELD_NUMBER: _ClassVar[int]
    POWER_HEADROOM_KW_FIELD_NUMBER: _ClassVar[int]
    OVER_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    UNITS_BY_STAGE_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    site_id: str
    name: str
    country: str
    operator_id: str
    power_capacity_kw: str
    installed_gpus: int
    installed_tdp_kw: str
    power_headroom_kw: str
    over_capacity: bool
    units_by_stage: _containers.ScalarMap[str, int]
    models: _containers.RepeatedCompositeFieldContainer[SiteModelInventory]
    def __init__(self, site_id: _Optional[str] = ..., name: _Optional[str] = ..., country: _Optional[str] = ..., operator_id: _Optional[str] = ..., power_capacity_kw: _Optional[str] = ..., installed_gpus: _Optional[int] = ..., installed_tdp_kw: _Optional[str] = ..., power_headroom_kw: _Optional[str] = ..., over_capacity: _Optional[bool] = ..., units_by_stage: _Optional[_Mapping[str, int]] = ..., models: _Optional[_Iterable[_Union[SiteModelInventory, _Mapping]]] = ...) -> None: ...

class SiteModelInventory(_message.Message):
    __slots__ = ("model_id", "model_name", "units_by_stage", "installed_gpus", "tdp_kw")
    class UnitsByStageEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    UNITS_BY_STAGE_FIELD_NUMBER: _ClassVar[int]
    INSTALLED_GPUS_FIELD_NUMBER: _ClassVar[int]
    TDP_KW_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    model_name: str
    units_by_stage: _containers.ScalarMap[str, int]
    installed_gpus: int
    tdp_kw: str
    def __init__(self, model_id: _Optional[str] = ..., model_name: _Optional[str] = ..., units_by_stage: _Optional[_Mapping[str, int]] = ..., installed_gpus: _Optional[int] = ..., tdp_kw: _Optional[str] = ...) -> None: ...

class GetCustodyTrailRequest(_message.Message):
    __slots__ = ("batch_id", "min_position")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_POSITION_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    min_position: int
    def __init__(self, batch_id: _Optional[str] = ..., min_position: _Optional[int] = ...) -> None: ...

class GetCustodyTrailResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[CustodyEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[CustodyEntry, _Mapping]]] = ...) -> None: ...

class CustodyEntry(_message.Message):
    __slots__ = ("position", "batch_id", "version", "event_type", "actor", "request_id", "occurred_at", "recorded_at", "quantity", "serials", "site_id", "detail_json")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_JSON_FIELD_NUMBER: _ClassVar[int]
    position: int
    batch_id: str
    version: int
    event_type: str
    actor: str
    request_id: str
    occurred_at: _timestamp_pb2.Timestamp
    recorded_at: _timestamp_pb2.Timestamp
    quantity: int
    serials: _containers.RepeatedScalarFieldContainer[str]
    site_id: str
    detail_json: str
    def __init__(self, position: _Optional[int] = ..., batch_id: _Optional[str] = ..., version: _Optional[int] = ..., event_type: _Optional[str] = ..., actor: _Optional[str] = ..., request_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., quantity: _Optional[int] = ..., serials: _Optional[_Iterable[str]] = ..., site_id: _Optional[str] = ..., detail_json: _Optional[str] = ...) -> None: ...

class GetProjectionStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetProjectionStatusResponse(_message.Message):
    __slots__ = ("head", "projections")
    HEAD_FIELD_NUMBER: _ClassVar[int]
    PROJECTIONS_FIELD_NUMBER: _ClassVar[int]
    head: int
    projections: _containers.RepeatedCompositeFieldContainer[ProjectionStatus]
    def __init__(self, head: _Optional[int] = ..., projections: _Optional[_Iterable[_Union[ProjectionStatus, _Mapping]]] = ...) -> None: ...

class ProjectionStatus(_message.Message):
    __slots__ = ("name", "code_version", "version", "generation", "state", "position", "lag_events", "lag_seconds", "worker")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CODE_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    LAG_EVENTS_FIELD_NUMBER: _ClassVar[int]
    LAG_SECONDS_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    name: str
    code_version: int
    version: int
    generation: int
    state: str
    position: int
    lag_events: int
    lag_seconds: float
    worker: str
    def __init__(self, name: _Optional[str] = ..., code_version: _Optional[int] = ..., version: _Optional[int] = ..., generation: _Optional[int] = ..., state: _Optional[str] = ..., position: _Optional[int] = ..., lag_events: _Optional[int] = ..., lag_seconds: _Optional[float] = ..., worker: _Optional[str] = ...) -> None: ...
