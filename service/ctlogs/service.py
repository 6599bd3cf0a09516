"""CT log rows: sync from a log list, read state for the API/CLI, health and error bookkeeping."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.ctlogs.models import CtLog
from service.db import utcnow
from service.errors import NotFound
from service.sources.ct.loglist import Log
from service.sources.ct.sth import TreeHead
from service.webhooks.outbox import enqueue_source_unhealthy


@dataclass(frozen=True)
class SyncResult:
    added: list[str]
    updated: list[str]


def sync_log_list(session: Session, logs: Sequence[Log]) -> SyncResult:
    """Insert logs seen for the first time and refresh list fields of known ones.

    Cursor, verification state and the operator's enabled flag are never touched here.
    """
    known = {row.log_id: row for row in session.scalars(select(CtLog))}
    result = SyncResult(added=[], updated=[])
    for log in logs:
        fields = {
            "name": log.name,
            "operator": log.operator,
            "protocol": log.protocol,
            "url": log.url,
            "submission_url": log.submission_url,
            "key": base64.b64encode(log.key).decode(),
            "mmd": log.mmd,
            "list_state": log.state or "unknown",
        }
        row = known.get(log.log_id)
        if row is None:
            session.add(CtLog(log_id=log.log_id, **fields))
            result.added.append(log.name)
        elif any(getattr(row, k) != v for k, v in fields.items()):
            for key, value in fields.items():
                setattr(row, key, value)
            result.updated.append(log.name)
    session.flush()
    return result


def to_log(row: CtLog) -> Log:
    """The log-list view of a row, to build a reader."""
    return Log(
        name=row.name,
        operator=row.operator,
        log_id=row.log_id,
        key=base64.b64decode(row.key),
        protocol="static" if row.protocol == "static" else "rfc6962",
        url=row.url,
        mmd=row.mmd,
        state=row.list_state,
        submission_url=row.submission_url,
    )


def head_of(data: object) -> TreeHead | None:
    return None if data is None else TreeHead.from_json(data)


def list_logs(session: Session) -> list[CtLog]:
    return list(session.scalars(select(CtLog).order_by(CtLog.name)))


def get_log(session: Session, log_pk: int) -> CtLog:
    row = session.get(CtLog, log_pk)
    if row is None:
        raise NotFound(f"no CT log with id {log_pk}")
    return row


def set_enabled(session: Session, log_pk: int, enabled: bool) -> CtLog:
    row = get_log(session, log_pk)
    row.enabled = enabled
    return row


def record_error(session: Session, log_pk: int, message: str) -> None:
    now = utcnow()
    session.execute(
        update(CtLog).where(CtLog.id == log_pk).values(last_error=message, last_error_at=now)
    )


def mark_unhealthy(session: Session, log_pk: int, reason: str) -> None:
    """Stop advancing a log that lied (shrank, forked, or served entries not under its root).

    The first time, a `source.unhealthy` event goes to the webhook subscribers.
    """
    row = get_log(session, log_pk)
    row.last_error, row.last_error_at = reason, utcnow()
    if not row.healthy:
        return
    row.healthy, row.health_detail = False, reason
    source = {"kind": "ct", "id": row.id, "name": row.name, "url": row.url, "log_id": row.log_id}
    enqueue_source_unhealthy(session, source, reason)


def lag(row: CtLog) -> int | None:
    """Entries between the cursor and the newest tree head seen."""
    head = head_of(row.latest_head)
    return None if head is None else max(0, head.size - row.next_index)


def head_time(row: CtLog) -> datetime | None:
    head = head_of(row.latest_head)
    return None if head is None else datetime.fromtimestamp(head.timestamp / 1000, UTC)
