"""Alert rules: recording evidence (one alert per brand and domain), lifecycle, and listing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from service.alerts.models import (
    Alert,
    AlertEvent,
    AlertSource,
    AlertStatus,
    AlertTechnique,
    EventKind,
    Severity,
)
from service.brands.models import Brand
from service.db import utcnow
from service.detection import severity_for as engine_bands
from service.errors import BadRequest, InvalidTransition, NotFound
from service.pagination import decode_cursor, encode_cursor
from service.watch.models import DnsSnapshot
from service.webhooks.outbox import enqueue_alert_event

S = AlertStatus
TRANSITIONS: dict[AlertStatus, frozenset[AlertStatus]] = {
    S.NEW: frozenset({S.TRIAGED, S.CONFIRMED, S.FALSE_POSITIVE}),
    S.TRIAGED: frozenset({S.CONFIRMED, S.FALSE_POSITIVE}),
    S.CONFIRMED: frozenset({S.TAKEDOWN_REQUESTED, S.RESOLVED, S.FALSE_POSITIVE}),
    S.TAKEDOWN_REQUESTED: frozenset({S.RESOLVED}),
    S.FALSE_POSITIVE: frozenset({S.NEW}),
    S.RESOLVED: frozenset({S.NEW}),
}

SortKey = Literal["first_seen", "-first_seen", "last_seen", "-last_seen", "score", "-score"]
SORT_COLUMNS = {"first_seen": Alert.first_seen, "last_seen": Alert.last_seen, "score": Alert.score}


def severity_for(score: int) -> Severity:
    """Severity band of a score; the detection engine's bands."""
    return Severity(engine_bands(score))


@dataclass(frozen=True)
class Evidence:
    """One observation of a lookalike, as produced by a source and the detection engine."""

    brand_id: int
    domain: str
    registrable: str | None
    unicode: str
    score: int
    reasons: Sequence[dict[str, Any]]
    source: AlertSource
    seen_at: datetime = field(default_factory=utcnow)
    # Where it was seen (CT log and index, feed name, ...), kept in the event.
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def techniques(self) -> list[str]:
        return sorted({str(r["technique"]) for r in self.reasons if "technique" in r})


def _reason_key(reason: dict[str, Any]) -> tuple[str, str]:
    return str(reason.get("technique", "")), str(reason.get("detail", ""))


def _set_score(alert: Alert, score: int) -> None:
    severity = severity_for(score)
    alert.score, alert.severity, alert.severity_rank = score, severity.value, severity.rank


def record(session: Session, evidence: Evidence, actor: str = "system") -> tuple[Alert, bool]:
    """Create the alert for (brand, domain) or add the evidence to it.

    Returns the alert and whether it was created. A concurrent insert of the same
    pair is caught by the unique constraint and turned into an update.
    """
    return _record(session, evidence, actor, _find(session, evidence.brand_id, evidence.domain))


def record_many(
    session: Session, evidences: Sequence[Evidence], actor: str = "system"
) -> list[tuple[Alert, bool]]:
    """`record` for a batch, looking the existing alerts up in one query."""
    if not evidences:
        return []
    pairs = {(e.brand_id, e.domain) for e in evidences}
    known = {
        (a.brand_id, a.domain): a
        for a in session.scalars(
            select(Alert).where(tuple_(Alert.brand_id, Alert.domain).in_(pairs))
        )
    }
    firsts = {}
    for evidence in evidences:
        key = (evidence.brand_id, evidence.domain)
        if key not in known and key not in firsts:
            firsts[key] = evidence
    created: dict[tuple[int, str], Alert] = {}
    if firsts:
        try:
            # One savepoint and one flush for all the new alerts of the batch.
            with session.begin_nested():
                for key, evidence in firsts.items():
                    created[key] = _create(session, evidence, actor, flush=False)
                session.flush()
        except IntegrityError:
            # Another worker inserted one of them meanwhile: one at a time instead.
            created = {}
            for key, evidence in firsts.items():
                alert, was_created = _record(session, evidence, actor, _find(session, *key))
                (created if was_created else known)[key] = alert
    out: list[tuple[Alert, bool]] = []
    for evidence in evidences:
        key = (evidence.brand_id, evidence.domain)
        if key in created and firsts.get(key) is evidence:
            out.append((created[key], True))
            continue
        alert = known.get(key) or created[key]
        _add_evidence(session, alert, evidence, actor)
        known[key] = alert
        out.append((alert, False))
    return out


def _record(
    session: Session, evidence: Evidence, actor: str, existing: Alert | None
) -> tuple[Alert, bool]:
    if existing is None:
        try:
            with session.begin_nested():
                alert = _create(session, evidence, actor)
            return alert, True
        except IntegrityError:
            existing = _find(session, evidence.brand_id, evidence.domain)
            if existing is None:
                raise
    _add_evidence(session, existing, evidence, actor)
    return existing, False


def _find(session: Session, brand_id: int, domain: str) -> Alert | None:
    return session.scalar(select(Alert).where(Alert.brand_id == brand_id, Alert.domain == domain))


def _create(session: Session, evidence: Evidence, actor: str, flush: bool = True) -> Alert:
    alert = Alert(
        brand_id=evidence.brand_id,
        domain=evidence.domain,
        registrable=evidence.registrable,
        unicode=evidence.unicode,
        reasons=list(evidence.reasons),
        source=evidence.source.value,
        status=AlertStatus.NEW.value,
        first_seen=evidence.seen_at,
        last_seen=evidence.seen_at,
        techniques=[AlertTechnique(technique=t) for t in evidence.techniques],
    )
    _set_score(alert, evidence.score)
    session.add(alert)
    if flush:
        session.flush()
    _append_event(
        session,
        alert,
        kind=EventKind.CREATED.value,
        actor=actor,
        to_status=alert.status,
        data={"source": evidence.source.value, "score": evidence.score, **evidence.context},
    )
    return alert


def _append_event(session: Session, alert: Alert, **fields: Any) -> AlertEvent:
    """Add an event to the alert's trail and, in the same transaction, its webhook deliveries."""
    event = AlertEvent(**fields)
    if alert.id is None:
        alert.events.append(event)  # not flushed yet: the id comes with the batch's flush
    else:
        event.alert_id = alert.id
        session.add(event)
    enqueue_alert_event(session, alert, event)
    return event


def _add_evidence(session: Session, alert: Alert, evidence: Evidence, actor: str) -> None:
    alert.last_seen = max(alert.last_seen, evidence.seen_at)
    known = {_reason_key(r) for r in alert.reasons}
    new_reasons = [r for r in evidence.reasons if _reason_key(r) not in known]
    raised = evidence.score > alert.score
    if not new_reasons and not raised:
        return  # the same evidence again (e.g. a precert and its certificate): no event
    if new_reasons:
        alert.reasons = [*alert.reasons, *new_reasons]
        have = set(alert.technique_names)
        for technique in evidence.techniques:
            if technique not in have:
                alert.techniques.append(AlertTechnique(technique=technique))
    if raised:
        _set_score(alert, evidence.score)
    _append_event(
        session,
        alert,
        kind=EventKind.EVIDENCE_ADDED.value,
        actor=actor,
        data={
            "source": evidence.source.value,
            "score": evidence.score,
            "reasons": new_reasons,
            **evidence.context,
        },
    )


def get_alert(
    session: Session, alert_id: int, with_events: bool = False, for_update: bool = False
) -> Alert:
    query = select(Alert).where(Alert.id == alert_id)
    if for_update:
        # Two concurrent status changes must not both start from the same status.
        query = query.with_for_update(of=Alert)
    if with_events:
        query = query.options(selectinload(Alert.events))
    alert = session.scalar(query)
    if alert is None:
        raise NotFound(f"no alert with id {alert_id}")
    return alert


def change_status(
    session: Session, alert: Alert, target: AlertStatus, actor: str, note: str | None
) -> None:
    """Move an alert along its lifecycle; an illegal move is a conflict."""
    current = AlertStatus(alert.status)
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none"
        raise InvalidTransition(
            f"alert {alert.id} cannot go from {current.value} to {target.value} "
            f"(allowed: {allowed})",
            current=current.value,
            allowed=sorted(TRANSITIONS[current]),
        )
    alert.status = target.value
    alert.updated_at = utcnow()
    _append_event(
        session,
        alert,
        kind=EventKind.STATUS_CHANGED.value,
        actor=actor,
        from_status=current.value,
        to_status=target.value,
        note=note,
    )


def change_status_bulk(
    session: Session, ids: Sequence[int], target: AlertStatus, actor: str, note: str | None
) -> list[int]:
    """Change many alerts at once, all or nothing."""
    unique_ids = list(dict.fromkeys(ids))
    query = select(Alert).where(Alert.id.in_(unique_ids)).order_by(Alert.id)
    alerts = {a.id: a for a in session.scalars(query.with_for_update(of=Alert))}
    missing = [i for i in unique_ids if i not in alerts]
    if missing:
        raise NotFound(f"no alerts with ids {missing}", missing=missing)
    refused = [i for i in unique_ids if target not in TRANSITIONS[AlertStatus(alerts[i].status)]]
    if refused:
        raise InvalidTransition(
            f"{len(refused)} alert(s) cannot move to {target.value}: {refused}; nothing changed",
            refused=refused,
        )
    for alert_id in unique_ids:
        change_status(session, alerts[alert_id], target, actor, note)
    return unique_ids


@dataclass
class AlertFilters:
    """Filters of the alert list (and, later, of exports and webhook subscriptions)."""

    brand_id: int | None = None
    status: Sequence[AlertStatus] = ()
    severity: Sequence[Severity] = ()
    min_severity: Severity | None = None
    min_score: int | None = None
    source: Sequence[AlertSource] = ()
    technique: Sequence[str] = ()
    domain: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.brand_id is not None:
            out.append(Alert.brand_id == self.brand_id)
        if self.status:
            out.append(Alert.status.in_([s.value for s in self.status]))
        if self.severity:
            out.append(Alert.severity_rank.in_([s.rank for s in self.severity]))
        if self.min_severity is not None:
            out.append(Alert.severity_rank >= self.min_severity.rank)
        if self.min_score is not None:
            out.append(Alert.score >= self.min_score)
        if self.source:
            out.append(Alert.source.in_([s.value for s in self.source]))
        if self.technique:
            out.append(
                exists().where(
                    AlertTechnique.alert_id == Alert.id,
                    AlertTechnique.technique.in_(list(self.technique)),
                )
            )
        if self.domain:
            needle = self.domain.strip().lower()
            escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            out.append(
                or_(
                    Alert.domain.like(f"%{escaped}%", escape="\\"),
                    Alert.unicode.like(f"%{escaped}%", escape="\\"),
                )
            )
        if self.since is not None:
            out.append(Alert.first_seen >= self.since)
        if self.until is not None:
            out.append(Alert.first_seen < self.until)
        return out


def _decode_sort_value(key: str, value: Any) -> Any:
    """The sort value of a cursor, checked: a tampered cursor is a 400, never a 500."""
    if key == "score":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment
    raise BadRequest("invalid cursor for this sort order; pass back a next_cursor")


def list_alerts(
    session: Session,
    filters: AlertFilters,
    limit: int,
    sort: SortKey = "-first_seen",
    cursor: str | None = None,
) -> tuple[list[Alert], str | None]:
    """One page of alerts in a stable order: (sort column, id), resumable by cursor."""
    key = sort.lstrip("-")
    descending = sort.startswith("-")
    column = SORT_COLUMNS[key]
    query: Select[Alert] = (
        select(Alert)
        .where(and_(True, *filters.conditions()))
        # a page needs only the brand's name, not its JSON lists
        .options(selectinload(Alert.brand).load_only(Brand.id, Brand.name))
    )
    if cursor:
        raw_value, after_id = decode_cursor(cursor, 2)
        value = _decode_sort_value(key, raw_value)
        if not isinstance(after_id, int) or isinstance(after_id, bool):
            raise BadRequest("invalid cursor; pass back a next_cursor")
        pair = tuple_(column, Alert.id)
        query = query.where(
            pair < (value, int(after_id)) if descending else pair > (value, int(after_id))
        )
    order = (column.desc(), Alert.id.desc()) if descending else (column.asc(), Alert.id.asc())
    rows = list(session.scalars(query.order_by(*order).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        sort_value = getattr(last, key)
        next_cursor = encode_cursor(
            sort_value.isoformat() if isinstance(sort_value, datetime) else sort_value, last.id
        )
    return rows[:limit], next_cursor


def dns_history(session: Session, alert_id: int, limit: int) -> list[DnsSnapshot]:
    """An alert's DNS snapshots, newest first; NotFound for no such alert."""
    get_alert(session, alert_id)
    return list(
        session.scalars(
            select(DnsSnapshot)
            .where(DnsSnapshot.alert_id == alert_id)
            .order_by(DnsSnapshot.taken_at.desc(), DnsSnapshot.id.desc())
            .limit(limit)
        )
    )


def add_dns_evidence(
    session: Session,
    alert: Alert,
    state: str,
    changes: Sequence[str],
    summary: dict[str, Any],
    boost: int,
) -> None:
    """Store the latest DNS state; a material change appends an event and re-notifies.

    `boost` moves the score with what DNS now says: up when a lookalike starts to
    resolve or take mail (a live threat), down when that stops or when the brand's own
    nameservers serve it. It comes with the change that earned it, so re-checks do not
    repeat it.
    """
    now = utcnow()
    alert.dns_state, alert.dns_checked_at, alert.dns_claimed_until = state, now, None
    if not changes:
        return
    score = max(0, min(100, alert.score + boost))
    if score != alert.score:
        _set_score(alert, score)
    alert.last_seen = max(alert.last_seen, now)
    _append_event(
        session,
        alert,
        kind=EventKind.EVIDENCE_ADDED.value,
        actor="system",
        data={
            "source": AlertSource.DNS.value,
            "changes": list(changes),
            "dns": summary,
            "score": alert.score,
        },
    )
