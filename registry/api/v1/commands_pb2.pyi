import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AuthorizationType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUTHORIZATION_TYPE_UNSPECIFIED: _ClassVar[AuthorizationType]
    AUTHORIZATION_TYPE_LICENSE: _ClassVar[AuthorizationType]
    AUTHORIZATION_TYPE_LICENSE_EXCEPTION: _ClassVar[AuthorizationType]
    AUTHORIZATION_TYPE_NO_LICENSE_REQUIRED: _ClassVar[AuthorizationType]

class ReferenceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REFERENCE_KIND_UNSPECIFIED: _ClassVar[ReferenceKind]
    REFERENCE_KIND_PARTY: _ClassVar[ReferenceKind]
    REFERENCE_KIND_SITE: _ClassVar[ReferenceKind]
    REFERENCE_KIND_GPU_MODEL: _ClassVar[ReferenceKind]
    REFERENCE_KIND_AUTHORIZATION: _ClassVar[ReferenceKind]

class LossKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOSS_KIND_UNSPECIFIED: _ClassVar[LossKind]
    LOSS_KIND_LOST: _ClassVar[LossKind]
    LOSS_KIND_STOLEN: _ClassVar[LossKind]

class OnwardMovementKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ONWARD_MOVEMENT_KIND_UNSPECIFIED: _ClassVar[OnwardMovementKind]
    ONWARD_MOVEMENT_KIND_REEXPORT: _ClassVar[OnwardMovementKind]
    ONWARD_MOVEMENT_KIND_TRANSSHIPMENT: _ClassVar[OnwardMovementKind]
    ONWARD_MOVEMENT_KIND_DIVERSION: _ClassVar[OnwardMovementKind]
AUTHORIZATION_TYPE_UNSPECIFIED: AuthorizationType
AUTHORIZATION_TYPE_LICENSE: AuthorizationType
AUTHORIZATION_TYPE_LICENSE_EXCEPTION: AuthorizationType
AUTHORIZATION_TYPE_NO_LICENSE_REQUIRED: AuthorizationType
REFERENCE_KIND_UNSPECIFIED: ReferenceKind
REFERENCE_KIND_PARTY: ReferenceKind
REFERENCE_KIND_SITE: ReferenceKind
REFERENCE_KIND_GPU_MODEL: ReferenceKind
REFERENCE_KIND_AUTHORIZATION: ReferenceKind
LOSS_KIND_UNSPECIFIED: LossKind
LOSS_KIND_LOST: LossKind
LOSS_KIND_STOLEN: LossKind
ONWARD_MOVEMENT_KIND_UNSPECIFIED: OnwardMovementKind
ONWARD_MOVEMENT_KIND_REEXPORT: OnwardMovementKind
ONWARD_MOVEMENT_KIND_TRANSSHIPMENT: OnwardMovementKind
ONWARD_MOVEMENT_KIND_DIVERSION: OnwardMovementKind

class RegisterPartyRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "party_id", "name", "country", "roles", "headquarters_country", "ultimate_parent_id", "address", "immediate_parent_id", "address_type", "online_presence", "forwarder_standing")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    HEADQUARTERS_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    ULTIMATE_PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    IMMEDIATE_PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_TYPE_FIELD_NUMBER: _ClassVar[int]
    ONLINE_PRESENCE_FIELD_NUMBER: _ClassVar[int]
    FORWARDER_STANDING_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    party_id: str
    name: str
    country: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    headquarters_country: str
    ultimate_parent_id: str
    address: str
    immediate_parent_id: str
    address_type: str
    online_presence: str
    forwarder_standing: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., party_id: _Optional[str] = ..., name: _Optional[str] = ..., country: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., headquarters_country: _Optional[str] = ..., ultimate_parent_id: _Optional[str] = ..., address: _Optional[str] = ..., immediate_parent_id: _Optional[str] = ..., address_type: _Optional[str] = ..., online_presence: _Optional[str] = ..., forwarder_standing: _Optional[str] = ...) -> None: ...

class RegisterSiteRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "site_id", "name", "operator_id", "country", "address", "power_capacity_kw")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    POWER_CAPACITY_KW_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    site_id: str
    name: str
    operator_id: str
    country: str
    address: str
    power_capacity_kw: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., site_id: _Optional[str] = ..., name: _Optional[str] = ..., operator_id: _Optional[str] = ..., country: _Optional[str] = ..., address: _Optional[str] = ..., power_capacity_kw: _Optional[str] = ...) -> None: ...

class RegisterGpuModelRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "model_id", "vendor", "name", "part_number", "dense_tops", "bit_lengths", "die_area_mm2", "datacenter_marketed", "tdp_watts", "gpus_per_unit")
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
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    VENDOR_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PART_NUMBER_FIELD_NUMBER: _ClassVar[int]
    DENSE_TOPS_FIELD_NUMBER: _ClassVar[int]
    BIT_LENGTHS_FIELD_NUMBER: _ClassVar[int]
    DIE_AREA_MM2_FIELD_NUMBER: _ClassVar[int]
    DATACENTER_MARKETED_FIELD_NUMBER: _ClassVar[int]
    TDP_WATTS_FIELD_NUMBER: _ClassVar[int]
    GPUS_PER_UNIT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    model_id: str
    vendor: str
    name: str
    part_number: str
    dense_tops: _containers.ScalarMap[str, str]
    bit_lengths: _containers.ScalarMap[str, int]
    die_area_mm2: str
    datacenter_marketed: bool
    tdp_watts: int
    gpus_per_unit: int
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., model_id: _Optional[str] = ..., vendor: _Optional[str] = ..., name: _Optional[str] = ..., part_number: _Optional[str] = ..., dense_tops: _Optional[_Mapping[str, str]] = ..., bit_lengths: _Optional[_Mapping[str, int]] = ..., die_area_mm2: _Optional[str] = ..., datacenter_marketed: _Optional[bool] = ..., tdp_watts: _Optional[int] = ..., gpus_per_unit: _Optional[int] = ...) -> None: ...

class RegisterAuthorizationRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "authorization_id", "auth_type", "number", "exception_code", "eccns", "destination_countries", "consignee_ids", "end_user_ids", "quantity_limit", "value_limit", "currency", "valid_from", "valid_to", "intermediate_consignee_ids")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    AUTH_TYPE_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    EXCEPTION_CODE_FIELD_NUMBER: _ClassVar[int]
    ECCNS_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_COUNTRIES_FIELD_NUMBER: _ClassVar[int]
    CONSIGNEE_IDS_FIELD_NUMBER: _ClassVar[int]
    END_USER_IDS_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    VALUE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_TO_FIELD_NUMBER: _ClassVar[int]
    INTERMEDIATE_CONSIGNEE_IDS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    authorization_id: str
    auth_type: AuthorizationType
    number: str
    exception_code: str
    eccns: _containers.RepeatedScalarFieldContainer[str]
    destination_countries: _containers.RepeatedScalarFieldContainer[str]
    consignee_ids: _containers.RepeatedScalarFieldContainer[str]
    end_user_ids: _containers.RepeatedScalarFieldContainer[str]
    quantity_limit: int
    value_limit: str
    currency: str
    valid_from: _timestamp_pb2.Timestamp
    valid_to: _timestamp_pb2.Timestamp
    intermediate_consignee_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., authorization_id: _Optional[str] = ..., auth_type: _Optional[_Union[AuthorizationType, str]] = ..., number: _Optional[str] = ..., exception_code: _Optional[str] = ..., eccns: _Optional[_Iterable[str]] = ..., destination_countries: _Optional[_Iterable[str]] = ..., consignee_ids: _Optional[_Iterable[str]] = ..., end_user_ids: _Optional[_Iterable[str]] = ..., quantity_limit: _Optional[int] = ..., value_limit: _Optional[str] = ..., currency: _Optional[str] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., intermediate_consignee_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class AmendReferenceRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "kind", "target_id", "fields", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TARGET_ID_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    kind: ReferenceKind
    target_id: str
    fields: _struct_pb2.Struct
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[_Union[ReferenceKind, str]] = ..., target_id: _Optional[str] = ..., fields: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class PlaceOrderRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "batch_id", "po_number", "supplier_id", "buyer_id", "model_id", "quantity", "unit_price", "currency", "allocation_program")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    PO_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SUPPLIER_ID_FIELD_NUMBER: _ClassVar[int]
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_PROGRAM_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    batch_id: str
    po_number: str
    supplier_id: str
    buyer_id: str
    model_id: str
    quantity: int
    unit_price: str
    currency: str
    allocation_program: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ..., po_number: _Optional[str] = ..., supplier_id: _Optional[str] = ..., buyer_id: _Optional[str] = ..., model_id: _Optional[str] = ..., quantity: _Optional[int] = ..., unit_price: _Optional[str] = ..., currency: _Optional[str] = ..., allocation_program: _Optional[str] = ...) -> None: ...

class CorrectOrderRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "batch_id", "po_number", "unit_price", "currency", "allocation_program", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    PO_NUMBER_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_PROGRAM_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    batch_id: str
    po_number: str
    unit_price: str
    currency: str
    allocation_program: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ..., po_number: _Optional[str] = ..., unit_price: _Optional[str] = ..., currency: _Optional[str] = ..., allocation_program: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RequestClearanceRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "batch_id", "authorization_id", "eccn", "destination_country", "consignee_id", "end_user_id", "quantity", "end_use")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ECCN_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    CONSIGNEE_ID_FIELD_NUMBER: _ClassVar[int]
    END_USER_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    END_USE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    batch_id: str
    authorization_id: str
    eccn: str
    destination_country: str
    consignee_id: str
    end_user_id: str
    quantity: int
    end_use: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ..., authorization_id: _Optional[str] = ..., eccn: _Optional[str] = ..., destination_country: _Optional[str] = ..., consignee_id: _Optional[str] = ..., end_user_id: _Optional[str] = ..., quantity: _Optional[int] = ..., end_use: _Optional[str] = ...) -> None: ...

class GrantClearanceRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "batch_id", "authorization_id", "cleared_quantity")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    CLEARED_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    batch_id: str
    authorization_id: str
    cleared_quantity: int
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ..., authorization_id: _Optional[str] = ..., cleared_quantity: _Optional[int] = ...) -> None: ...

class DenyClearanceRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "batch_id", "rule", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    batch_id: str
    rule: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ..., rule: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RevokeClearanceRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "batch_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    batch_id: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class UnitIdentity(_message.Message):
    __slots__ = ("serial", "gpu_uuid")
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    GPU_UUID_FIELD_NUMBER: _ClassVar[int]
    serial: str
    gpu_uuid: str
    def __init__(self, serial: _Optional[str] = ..., gpu_uuid: _Optional[str] = ...) -> None: ...

class RegisterSerialsRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "batch_id", "units")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    batch_id: str
    units: _containers.RepeatedCompositeFieldContainer[UnitIdentity]
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ..., units: _Optional[_Iterable[_Union[UnitIdentity, _Mapping]]] = ...) -> None: ...

class ShipRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "batch_id", "quantity", "serials", "shipment_id", "carrier_id", "origin", "destination_country", "destination_site_id", "itn", "intermediate_consignee_ids", "forwarder_id", "exporter_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    SHIPMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CARRIER_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_SITE_ID_FIELD_NUMBER: _ClassVar[int]
    ITN_FIELD_NUMBER: _ClassVar[int]
    INTERMEDIATE_CONSIGNEE_IDS_FIELD_NUMBER: _ClassVar[int]
    FORWARDER_ID_FIELD_NUMBER: _ClassVar[int]
    EXPORTER_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    batch_id: str
    quantity: int
    serials: _containers.RepeatedScalarFieldContainer[str]
    shipment_id: str
    carrier_id: str
    origin: str
    destination_country: str
    destination_site_id: str
    itn: str
    intermediate_consignee_ids: _containers.RepeatedScalarFieldContainer[str]
    forwarder_id: str
    exporter_id: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ..., quantity: _Optional[int] = ..., serials: _Optional[_Iterable[str]] = ..., shipment_id: _Optional[str] = ..., carrier_id: _Optional[str] = ..., origin: _Optional[str] = ..., destination_country: _Optional[str] = ..., destination_site_id: _Optional[str] = ..., itn: _Optional[str] = ..., intermediate_consignee_ids: _Optional[_Iterable[str]] = ..., forwarder_id: _Optional[str] = ..., exporter_id: _Optional[str] = ...) -> None: ...

class ReceiveRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "batch_id", "quantity", "serials", "shipment_id", "receiving_party_id", "site_id", "discrepancy_note")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    SHIPMENT_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIVING_PARTY_ID_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    DISCREPANCY_NOTE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    batch_id: str
    quantity: int
    serials: _containers.RepeatedScalarFieldContainer[str]
    shipment_id: str
    receiving_party_id: str
    site_id: str
    discrepancy_note: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ..., quantity: _Optional[int] = ..., serials: _Optional[_Iterable[str]] = ..., shipment_id: _Optional[str] = ..., receiving_party_id: _Optional[str] = ..., site_id: _Optional[str] = ..., discrepancy_note: _Optional[str] = ...) -> None: ...

class InstallRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "batch_id", "quantity", "serials", "site_id", "rack", "host", "placements")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    RACK_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PLACEMENTS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    batch_id: str
    quantity: int
    serials: _containers.RepeatedScalarFieldContainer[str]
    site_id: str
    rack: str
    host: str
    placements: _containers.RepeatedCompositeFieldContainer[Placement]
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ..., quantity: _Optional[int] = ..., serials: _Optional[_Iterable[str]] = ..., site_id: _Optional[str] = ..., rack: _Optional[str] = ..., host: _Optional[str] = ..., placements: _Optional[_Iterable[_Union[Placement, _Mapping]]] = ...) -> None: ...

class Placement(_message.Message):
    __slots__ = ("rack", "host", "serials")
    RACK_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    rack: str
    host: str
    serials: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, rack: _Optional[str] = ..., host: _Optional[str] = ..., serials: _Optional[_Iterable[str]] = ...) -> None: ...

class AssignRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "batch_id", "quantity", "serials", "assignee_id", "purpose", "site_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    batch_id: str
    quantity: int
    serials: _containers.RepeatedScalarFieldContainer[str]
    assignee_id: str
    purpose: str
    site_id: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ..., quantity: _Optional[int] = ..., serials: _Optional[_Iterable[str]] = ..., assignee_id: _Optional[str] = ..., purpose: _Optional[str] = ..., site_id: _Optional[str] = ...) -> None: ...

class TransferRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "batch_id", "quantity", "serials", "to_owner_id", "to_site_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    TO_OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    TO_SITE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    batch_id: str
    quantity: int
    serials: _containers.RepeatedScalarFieldContainer[str]
    to_owner_id: str
    to_site_id: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ..., quantity: _Optional[int] = ..., serials: _Optional[_Iterable[str]] = ..., to_owner_id: _Optional[str] = ..., to_site_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RepairRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "batch_id", "quantity", "serials", "kind", "rma_number", "site_id", "note")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RMA_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    batch_id: str
    quantity: int
    serials: _containers.RepeatedScalarFieldContainer[str]
    kind: str
    rma_number: str
    site_id: str
    note: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ..., quantity: _Optional[int] = ..., serials: _Optional[_Iterable[str]] = ..., kind: _Optional[str] = ..., rma_number: _Optional[str] = ..., site_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class ReturnForRmaRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "batch_id", "quantity", "serials", "rma_number", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    RMA_NUMBER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    batch_id: str
    quantity: int
    serials: _containers.RepeatedScalarFieldContainer[str]
    rma_number: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ..., quantity: _Optional[int] = ..., serials: _Optional[_Iterable[str]] = ..., rma_number: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReportLostRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "batch_id", "quantity", "serials", "kind", "note")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    batch_id: str
    quantity: int
    serials: _containers.RepeatedScalarFieldContainer[str]
    kind: LossKind
    note: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ..., quantity: _Optional[int] = ..., serials: _Optional[_Iterable[str]] = ..., kind: _Optional[_Union[LossKind, str]] = ..., note: _Optional[str] = ...) -> None: ...

class RecordOnwardMovementRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "batch_id", "quantity", "serials", "kind", "country", "place", "note", "recipient_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    PLACE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    batch_id: str
    quantity: int
    serials: _containers.RepeatedScalarFieldContainer[str]
    kind: OnwardMovementKind
    country: str
    place: str
    note: str
    recipient_id: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ..., quantity: _Optional[int] = ..., serials: _Optional[_Iterable[str]] = ..., kind: _Optional[_Union[OnwardMovementKind, str]] = ..., country: _Optional[str] = ..., place: _Optional[str] = ..., note: _Optional[str] = ..., recipient_id: _Optional[str] = ...) -> None: ...

class DecommissionRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "batch_id", "quantity", "serials", "method")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    batch_id: str
    quantity: int
    serials: _containers.RepeatedScalarFieldContainer[str]
    method: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ..., quantity: _Optional[int] = ..., serials: _Optional[_Iterable[str]] = ..., method: _Optional[str] = ...) -> None: ...

class SplitBatchRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "batch_id", "quantity", "serials", "child_batch_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    CHILD_BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    batch_id: str
    quantity: int
    serials: _containers.RepeatedScalarFieldContainer[str]
    child_batch_id: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ..., quantity: _Optional[int] = ..., serials: _Optional[_Iterable[str]] = ..., child_batch_id: _Optional[str] = ...) -> None: ...

class SetAllocationRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "partner_id", "gpus", "reason", "effective_from")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    partner_id: str
    gpus: int
    reason: str
    effective_from: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., partner_id: _Optional[str] = ..., gpus: _Optional[int] = ..., reason: _Optional[str] = ..., effective_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RegisterPartyResponse(_message.Message):
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

class RegisterSiteResponse(_message.Message):
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

class RegisterGpuModelResponse(_message.Message):
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

class RegisterAuthorizationResponse(_message.Message):
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

class AmendReferenceResponse(_message.Message):
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

class PlaceOrderResponse(_message.Message):
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

class CorrectOrderResponse(_message.Message):
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

class RequestClearanceResponse(_message.Message):
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

class GrantClearanceResponse(_message.Message):
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

class DenyClearanceResponse(_message.Message):
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

class RevokeClearanceResponse(_message.Message):
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

class RegisterSerialsResponse(_message.Message):
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

class ShipResponse(_message.Message):
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

class ReceiveResponse(_message.Message):
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

class InstallResponse(_message.Message):
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

class AssignResponse(_message.Message):
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

class TransferResponse(_message.Message):
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

class RepairResponse(_message.Message):
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

class ReturnForRmaResponse(_message.Message):
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

class ReportLostResponse(_message.Message):
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

class RecordOnwardMovementResponse(_message.Message):
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

class DecommissionResponse(_message.Message):
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

class SplitBatchResponse(_message.Message):
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

class SetAllocationResponse(_message.Message):
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
