import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Batch(_message.Message):
    __slots__ = ("batch_id", "version", "stage", "po_number", "supplier_id", "buyer_id", "model_id", "quantity", "unit_price", "currency", "allocation_program", "parent_batch_id", "child_batch_ids", "clearance", "units_by_stage", "positions", "units", "shipments", "totals", "allowed_actions", "create_time", "update_time")
    class UnitsByStageEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class TotalsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PO_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SUPPLIER_ID_FIELD_NUMBER: _ClassVar[int]
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_PROGRAM_FIELD_NUMBER: _ClassVar[int]
    PARENT_BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    CHILD_BATCH_IDS_FIELD_NUMBER: _ClassVar[int]
    CLEARANCE_FIELD_NUMBER: _ClassVar[int]
    UNITS_BY_STAGE_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    SHIPMENTS_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    version: int
    stage: str
    po_number: str
    supplier_id: str
    buyer_id: str
    model_id: str
    quantity: int
    unit_price: str
    currency: str
    allocation_program: str
    parent_batch_id: str
    child_batch_ids: _containers.RepeatedScalarFieldContainer[str]
    clearance: Clearance
    units_by_stage: _containers.ScalarMap[str, int]
    positions: _containers.RepeatedCompositeFieldContainer[PositionCount]
    units: _containers.RepeatedCompositeFieldContainer[Unit]
    shipments: _containers.RepeatedCompositeFieldContainer[Shipment]
    totals: _containers.ScalarMap[str, int]
    allowed_actions: _containers.RepeatedScalarFieldContainer[str]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, batch_id: _Optional[str] = ..., version: _Optional[int] = ..., stage: _Optional[str] = ..., po_number: _Optional[str] = ..., supplier_id: _Optional[str] = ..., buyer_id: _Optional[str] = ..., model_id: _Optional[str] = ..., quantity: _Optional[int] = ..., unit_price: _Optional[str] = ..., currency: _Optional[str] = ..., allocation_program: _Optional[str] = ..., parent_batch_id: _Optional[str] = ..., child_batch_ids: _Optional[_Iterable[str]] = ..., clearance: _Optional[_Union[Clearance, _Mapping]] = ..., units_by_stage: _Optional[_Mapping[str, int]] = ..., positions: _Optional[_Iterable[_Union[PositionCount, _Mapping]]] = ..., units: _Optional[_Iterable[_Union[Unit, _Mapping]]] = ..., shipments: _Optional[_Iterable[_Union[Shipment, _Mapping]]] = ..., totals: _Optional[_Mapping[str, int]] = ..., allowed_actions: _Optional[_Iterable[str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Clearance(_message.Message):
    __slots__ = ("status", "authorization_id", "authorization_number", "eccn", "destination_country", "consignee_id", "end_user_id", "requested_quantity", "cleared_quantity", "end_use")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ECCN_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    CONSIGNEE_ID_FIELD_NUMBER: _ClassVar[int]
    END_USER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    CLEARED_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    END_USE_FIELD_NUMBER: _ClassVar[int]
    status: str
    authorization_id: str
    authorization_number: str
    eccn: str
    destination_country: str
    consignee_id: str
    end_user_id: str
    requested_quantity: int
    cleared_quantity: int
    end_use: str
    def __init__(self, status: _Optional[str] = ..., authorization_id: _Optional[str] = ..., authorization_number: _Optional[str] = ..., eccn: _Optional[str] = ..., destination_country: _Optional[str] = ..., consignee_id: _Optional[str] = ..., end_user_id: _Optional[str] = ..., requested_quantity: _Optional[int] = ..., cleared_quantity: _Optional[int] = ..., end_use: _Optional[str] = ...) -> None: ...

class PositionCount(_message.Message):
    __slots__ = ("stage", "site_id", "owner_id", "assignee_id", "count")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_ID_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    stage: str
    site_id: str
    owner_id: str
    assignee_id: str
    count: int
    def __init__(self, stage: _Optional[str] = ..., site_id: _Optional[str] = ..., owner_id: _Optional[str] = ..., assignee_id: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class Unit(_message.Message):
    __slots__ = ("serial", "gpu_uuid", "stage", "site_id", "owner_id", "assignee_id", "shipment_id", "rack", "host")
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    GPU_UUID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_ID_FIELD_NUMBER: _ClassVar[int]
    SHIPMENT_ID_FIELD_NUMBER: _ClassVar[int]
    RACK_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    serial: str
    gpu_uuid: str
    stage: str
    site_id: str
    owner_id: str
    assignee_id: str
    shipment_id: str
    rack: str
    host: str
    def __init__(self, serial: _Optional[str] = ..., gpu_uuid: _Optional[str] = ..., stage: _Optional[str] = ..., site_id: _Optional[str] = ..., owner_id: _Optional[str] = ..., assignee_id: _Optional[str] = ..., shipment_id: _Optional[str] = ..., rack: _Optional[str] = ..., host: _Optional[str] = ...) -> None: ...

class Shipment(_message.Message):
    __slots__ = ("shipment_id", "quantity", "serials", "carrier_id", "origin", "destination_country", "destination_site_id", "itn", "received", "intermediate_consignee_ids", "forwarder_id", "exporter_id")
    SHIPMENT_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    CARRIER_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_SITE_ID_FIELD_NUMBER: _ClassVar[int]
    ITN_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    INTERMEDIATE_CONSIGNEE_IDS_FIELD_NUMBER: _ClassVar[int]
    FORWARDER_ID_FIELD_NUMBER: _ClassVar[int]
    EXPORTER_ID_FIELD_NUMBER: _ClassVar[int]
    shipment_id: str
    quantity: int
    serials: _containers.RepeatedScalarFieldContainer[str]
    carrier_id: str
    origin: str
    destination_country: str
    destination_site_id: str
    itn: str
    received: int
    intermediate_consignee_ids: _containers.RepeatedScalarFieldContainer[str]
    forwarder_id: str
    exporter_id: str
    def __init__(self, shipment_id: _Optional[str] = ..., quantity: _Optional[int] = ..., serials: _Optional[_Iterable[str]] = ..., carrier_id: _Optional[str] = ..., origin: _Optional[str] = ..., destination_country: _Optional[str] = ..., destination_site_id: _Optional[str] = ..., itn: _Optional[str] = ..., received: _Optional[int] = ..., intermediate_consignee_ids: _Optional[_Iterable[str]] = ..., forwarder_id: _Optional[str] = ..., exporter_id: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("position", "aggregate_id", "aggregate_version", "type", "actor", "request_id", "occurred_at", "recorded_at", "payload_json")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    position: int
    aggregate_id: str
    aggregate_version: int
    type: str
    actor: str
    request_id: str
    occurred_at: _timestamp_pb2.Timestamp
    recorded_at: _timestamp_pb2.Timestamp
    payload_json: str
    def __init__(self, position: _Optional[int] = ..., aggregate_id: _Optional[str] = ..., aggregate_version: _Optional[int] = ..., type: _Optional[str] = ..., actor: _Optional[str] = ..., request_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., payload_json: _Optional[str] = ...) -> None: ...

class BatchSummary(_message.Message):
    __slots__ = ("batch_id", "po_number", "model_id", "buyer_id", "stage", "quantity", "destination_country", "units_by_stage", "site_ids", "version")
    class UnitsByStageEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    PO_NUMBER_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    UNITS_BY_STAGE_FIELD_NUMBER: _ClassVar[int]
    SITE_IDS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    po_number: str
    model_id: str
    buyer_id: str
    stage: str
    quantity: int
    destination_country: str
    units_by_stage: _containers.ScalarMap[str, int]
    site_ids: _containers.RepeatedScalarFieldContainer[str]
    version: int
    def __init__(self, batch_id: _Optional[str] = ..., po_number: _Optional[str] = ..., model_id: _Optional[str] = ..., buyer_id: _Optional[str] = ..., stage: _Optional[str] = ..., quantity: _Optional[int] = ..., destination_country: _Optional[str] = ..., units_by_stage: _Optional[_Mapping[str, int]] = ..., site_ids: _Optional[_Iterable[str]] = ..., version: _Optional[int] = ...) -> None: ...
