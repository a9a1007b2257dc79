from registry.api.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

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
    __slots__ = ("page_size", "page_token", "partner_id", "model_id", "stage", "site_id", "country")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    partner_id: str
    model_id: str
    stage: str
    site_id: str
    country: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., partner_id: _Optional[str] = ..., model_id: _Optional[str] = ..., stage: _Optional[str] = ..., site_id: _Optional[str] = ..., country: _Optional[str] = ...) -> None: ...

class ListBatchesResponse(_message.Message):
    __slots__ = ("batches", "next_page_token")
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    batches: _containers.RepeatedCompositeFieldContainer[_resources_pb2.BatchSummary]
    next_page_token: str
    def __init__(self, batches: _Optional[_Iterable[_Union[_resources_pb2.BatchSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
