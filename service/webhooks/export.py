"""Streaming CSV and JSON Lines renderings of alerts for the export endpoint."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel

from service.webhooks.events import to_json

CSV_COLUMNS = (
    "id",
    "brand",
    "domain",
    "unicode",
    "registrable",
    "score",
    "severity",
    "status",
    "techniques",
    "source",
    "first_seen",
    "last_seen",
    "updated_at",
)
# Spreadsheets run cells that start with these as formulas (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _as_dict(alert: Mapping[str, Any] | BaseModel) -> Mapping[str, Any]:
    if isinstance(alert, BaseModel):
        dumped: dict[str, Any] = alert.model_dump(mode="json")
        return dumped
    return alert


def safe_cell(value: Any) -> str:
    """A CSV cell: lists joined with `;`, text that a spreadsheet would evaluate quoted with `'`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)  # numbers are data, even negative ones
    if isinstance(value, list | tuple):
        value = ";".join(str(v) for v in value)
    elif hasattr(value, "isoformat"):
        value = to_json(value).strip('"')
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _line(cells: Iterable[str]) -> str:
    buffer = io.StringIO()
    # RFC 4180: CRLF line ends, quotes only where needed.
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()


def csv_rows(
    alerts: Iterable[Mapping[str, Any] | BaseModel], columns: tuple[str, ...] = CSV_COLUMNS
) -> Iterator[str]:
    """The header line, then one CRLF-terminated line per alert; lazy, for streaming responses."""
    yield _line(columns)
    for alert in alerts:
        row = _as_dict(alert)
        yield _line(safe_cell(row.get(c)) for c in columns)


def jsonl_rows(alerts: Iterable[Mapping[str, Any] | BaseModel]) -> Iterator[str]:
    """One compact JSON object per line (`\\n`-terminated), the full alert; lazy."""
    for alert in alerts:
        yield to_json(_as_dict(alert)) + "\n"
