import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RegisterHostAgentRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "agent_id", "public_key", "site_id", "partner_id", "name")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    agent_id: str
    public_key: bytes
    site_id: str
    partner_id: str
    name: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., agent_id: _Optional[str] = ..., public_key: _Optional[bytes] = ..., site_id: _Optional[str] = ..., partner_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class RegisterHostAgentResponse(_message.Message):
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

class RevokeHostAgentRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "occurred_at", "agent_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    occurred_at: _timestamp_pb2.Timestamp
    agent_id: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., agent_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RevokeHostAgentResponse(_message.Message):
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

class SubmitLocationAttestationRequest(_message.Message):
    __slots__ = ("request_id", "expected_version", "agent_id", "sequence", "observed_at", "serials", "country", "site_id", "latitude", "longitude", "method", "signature")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    expected_version: int
    agent_id: str
    sequence: int
    observed_at: _timestamp_pb2.Timestamp
    serials: _containers.RepeatedScalarFieldContainer[str]
    country: str
    site_id: str
    latitude: str
    longitude: str
    method: str
    signature: bytes
    def __init__(self, request_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., agent_id: _Optional[str] = ..., sequence: _Optional[int] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., serials: _Optional[_Iterable[str]] = ..., country: _Optional[str] = ..., site_id: _Optional[str] = ..., latitude: _Optional[str] = ..., longitude: _Optional[str] = ..., method: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class SubmitLocationAttestationResponse(_message.Message):
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

class GetSerialLocationRequest(_message.Message):
    __slots__ = ("serial", "min_position")
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    MIN_POSITION_FIELD_NUMBER: _ClassVar[int]
    serial: str
    min_position: int
    def __init__(self, serial: _Optional[str] = ..., min_position: _Optional[int] = ...) -> None: ...

class GetSerialLocationResponse(_message.Message):
    __slots__ = ("location",)
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    location: SerialLocation
    def __init__(self, location: _Optional[_Union[SerialLocation, _Mapping]] = ...) -> None: ...

class SerialLocation(_message.Message):
    __slots__ = ("serial", "batch_id", "agent_id", "sequence", "observed_at", "country", "site_id", "latitude", "longitude", "method", "position")
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    serial: str
    batch_id: str
    agent_id: str
    sequence: int
    observed_at: _timestamp_pb2.Timestamp
    country: str
    site_id: str
    latitude: str
    longitude: str
    method: str
    position: int
    def __init__(self, serial: _Optional[str] = ..., batch_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., sequence: _Optional[int] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., country: _Optional[str] = ..., site_id: _Optional[str] = ..., latitude: _Optional[str] = ..., longitude: _Optional[str] = ..., method: _Optional[str] = ..., position: _Optional[int] = ...) -> None: ...
