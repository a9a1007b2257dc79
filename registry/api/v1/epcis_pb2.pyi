from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EpcisEventStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EPCIS_EVENT_STATUS_UNSPECIFIED: _ClassVar[EpcisEventStatus]
    EPCIS_EVENT_STATUS_WRITTEN: _ClassVar[EpcisEventStatus]
    EPCIS_EVENT_STATUS_REPLAYED: _ClassVar[EpcisEventStatus]
    EPCIS_EVENT_STATUS_REFUSED: _ClassVar[EpcisEventStatus]
    EPCIS_EVENT_STATUS_NOT_WRITTEN: _ClassVar[EpcisEventStatus]
EPCIS_EVENT_STATUS_UNSPECIFIED: EpcisEventStatus
EPCIS_EVENT_STATUS_WRITTEN: EpcisEventStatus
EPCIS_EVENT_STATUS_REPLAYED: EpcisEventStatus
EPCIS_EVENT_STATUS_REFUSED: EpcisEventStatus
EPCIS_EVENT_STATUS_NOT_WRITTEN: EpcisEventStatus

class ExportEpcisRequest(_message.Message):
    __slots__ = ("batch_id", "partner_id", "after_position")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_POSITION_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    partner_id: str
    after_position: int
    def __init__(self, batch_id: _Optional[str] = ..., partner_id: _Optional[str] = ..., after_position: _Optional[int] = ...) -> None: ...

class ExportEpcisHeader(_message.Message):
    __slots__ = ("media_type",)
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    media_type: str
    def __init__(self, media_type: _Optional[str] = ...) -> None: ...

class ExportEpcisTrailer(_message.Message):
    __slots__ = ("event_count",)
    EVENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    event_count: int
    def __init__(self, event_count: _Optional[int] = ...) -> None: ...

class ExportEpcisResponse(_message.Message):
    __slots__ = ("header", "chunk", "trailer")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    TRAILER_FIELD_NUMBER: _ClassVar[int]
    header: ExportEpcisHeader
    chunk: bytes
    trailer: ExportEpcisTrailer
    def __init__(self, header: _Optional[_Union[ExportEpcisHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ..., trailer: _Optional[_Union[ExportEpcisTrailer, _Mapping]] = ...) -> None: ...

class CaptureEpcisRequest(_message.Message):
    __slots__ = ("document", "per_event")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    PER_EVENT_FIELD_NUMBER: _ClassVar[int]
    document: bytes
    per_event: bool
    def __init__(self, document: _Optional[bytes] = ..., per_event: _Optional[bool] = ...) -> None: ...

class EpcisEventOutcome(_message.Message):
    __slots__ = ("index", "event_id", "command", "status", "batch_id", "position", "field", "rule")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    index: int
    event_id: str
    command: str
    status: EpcisEventStatus
    batch_id: str
    position: int
    field: str
    rule: str
    def __init__(self, index: _Optional[int] = ..., event_id: _Optional[str] = ..., command: _Optional[str] = ..., status: _Optional[_Union[EpcisEventStatus, str]] = ..., batch_id: _Optional[str] = ..., position: _Optional[int] = ..., field: _Optional[str] = ..., rule: _Optional[str] = ...) -> None: ...

class CaptureEpcisResponse(_message.Message):
    __slots__ = ("accepted", "outcomes")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    outcomes: _containers.RepeatedCompositeFieldContainer[EpcisEventOutcome]
    def __init__(self, accepted: _Optional[bool] = ..., outcomes: _Optional[_Iterable[_Union[EpcisEventOutcome, _Mapping]]] = ...) -> None: ...
