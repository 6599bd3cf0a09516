"""Certificate Transparency: log lists, both read protocols, entry parsing and verification."""

from service.sources.ct.entries import LogEntry, dedup_key, extract, names
from service.sources.ct.errors import (
    BadResponse,
    CTError,
    LogListError,
    LogUnavailable,
    MalformedEntry,
    VerificationError,
)
from service.sources.ct.http import CTHttpClient, HttpConfig
from service.sources.ct.loglist import Log, LogList, load_log_list, parse_log_list
from service.sources.ct.merkle import CompactRange
from service.sources.ct.reader import LogReader, reader_for
from service.sources.ct.sth import TreeHead

__all__ = [
    "BadResponse",
    "CTError",
    "CTHttpClient",
    "CompactRange",
    "HttpConfig",
    "Log",
    "LogEntry",
    "LogList",
    "LogListError",
    "LogReader",
    "LogUnavailable",
    "MalformedEntry",
    "TreeHead",
    "VerificationError",
    "dedup_key",
    "extract",
    "load_log_list",
    "names",
    "parse_log_list",
    "reader_for",
]
