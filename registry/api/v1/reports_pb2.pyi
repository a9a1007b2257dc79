import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReportKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_KIND_UNSPECIFIED: _ClassVar[ReportKind]
    REPORT_KIND_COMPLIANCE: _ClassVar[ReportKind]
    REPORT_KIND_OWNERSHIP: _ClassVar[ReportKind]
    REPORT_KIND_CUSTODY: _ClassVar[ReportKind]

class ReportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_FORMAT_UNSPECIFIED: _ClassVar[ReportFormat]
    REPORT_FORMAT_HTML: _ClassVar[ReportFormat]
    REPORT_FORMAT_PDF: _ClassVar[ReportFormat]
    REPORT_FORMAT_CSV: _ClassVar[ReportFormat]
    REPORT_FORMAT_JSON: _ClassVar[ReportFormat]
REPORT_KIND_UNSPECIFIED: ReportKind
REPORT_KIND_COMPLIANCE: ReportKind
REPORT_KIND_OWNERSHIP: ReportKind
REPORT_KIND_CUSTODY: ReportKind
REPORT_FORMAT_UNSPECIFIED: ReportFormat
REPORT_FORMAT_HTML: ReportFormat
REPORT_FORMAT_PDF: ReportFormat
REPORT_FORMAT_CSV: ReportFormat
REPORT_FORMAT_JSON: ReportFormat

class GenerateReportRequest(_message.Message):
    __slots__ = ("kind", "as_of", "as_occurred_by", "partner", "authorization", "format", "batch", "serial", "occurred_from", "occurred_to")
    KIND_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    AS_OCCURRED_BY_FIELD_NUMBER: _ClassVar[int]
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_FROM_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_TO_FIELD_NUMBER: _ClassVar[int]
    kind: ReportKind
    as_of: _timestamp_pb2.Timestamp
    as_occurred_by: _timestamp_pb2.Timestamp
    partner: str
    authorization: str
    format: ReportFormat
    batch: str
    serial: str
    occurred_from: _timestamp_pb2.Timestamp
    occurred_to: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[_Union[ReportKind, str]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., as_occurred_by: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., partner: _Optional[str] = ..., authorization: _Optional[str] = ..., format: _Optional[_Union[ReportFormat, str]] = ..., batch: _Optional[str] = ..., serial: _Optional[str] = ..., occurred_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., occurred_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GenerateReportResponse(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: ReportHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[ReportHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class ReportHeader(_message.Message):
    __slots__ = ("media_type", "filename", "digest", "size", "as_of", "as_occurred_by", "log_position")
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    AS_OCCURRED_BY_FIELD_NUMBER: _ClassVar[int]
    LOG_POSITION_FIELD_NUMBER: _ClassVar[int]
    media_type: str
    filename: str
    digest: str
    size: int
    as_of: _timestamp_pb2.Timestamp
    as_occurred_by: _timestamp_pb2.Timestamp
    log_position: int
    def __init__(self, media_type: _Optional[str] = ..., filename: _Optional[str] = ..., digest: _Optional[str] = ..., size: _Optional[int] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., as_occurred_by: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., log_position: _Optional[int] = ...) -> None: ...
