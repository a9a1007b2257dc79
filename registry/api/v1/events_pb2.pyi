import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from registry.api.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubscribeEventsRequest(_message.Message):
    __slots__ = ("after_position", "event_types", "batch_id", "max_events_per_message", "heartbeat_interval", "include_request_records", "compact_serials")
    AFTER_POSITION_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_EVENTS_PER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REQUEST_RECORDS_FIELD_NUMBER: _ClassVar[int]
    COMPACT_SERIALS_FIELD_NUMBER: _ClassVar[int]
    after_position: int
    event_types: _containers.RepeatedScalarFieldContainer[str]
    batch_id: str
    max_events_per_message: int
    heartbeat_interval: _duration_pb2.Duration
    include_request_records: bool
    compact_serials: bool
    def __init__(self, after_position: _Optional[int] = ..., event_types: _Optional[_Iterable[str]] = ..., batch_id: _Optional[str] = ..., max_events_per_message: _Optional[int] = ..., heartbeat_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., include_request_records: _Optional[bool] = ..., compact_serials: _Optional[bool] = ...) -> None: ...

class SubscribeEventsResponse(_message.Message):
    __slots__ = ("events", "checkpoint")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    events: EventBatch
    checkpoint: Checkpoint
    def __init__(self, events: _Optional[_Union[EventBatch, _Mapping]] = ..., checkpoint: _Optional[_Union[Checkpoint, _Mapping]] = ...) -> None: ...

class EventBatch(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Event]
    def __init__(self, events: _Optional[_Iterable[_Union[_resources_pb2.Event, _Mapping]]] = ...) -> None: ...

class Checkpoint(_message.Message):
    __slots__ = ("position", "head")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    position: int
    head: int
    def __init__(self, position: _Optional[int] = ..., head: _Optional[int] = ...) -> None: ...
