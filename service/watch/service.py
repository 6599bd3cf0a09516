"""Watch list rules: which names to watch, when to check them, and what a registration means."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.alerts.models import Alert, AlertSource
from service.alerts.service import Evidence, record
from service.brands.models import Brand
from service.brands.service import get_brand, to_spec
from service.db import utcnow
from service.detection import DetectionIndex, InvalidDomain, normalize_domain
from service.errors import NotFound, ValidationFailed
from service.phantom.models import PhantomCandidate
from service.watch.candidates import top_candidates
from service.watch.models import WatchEntry

STATES = ("unknown", "free", "registered")


def _spread(interval: timedelta) -> datetime:
    # First checks are spread over the interval instead of all firing at once.
    return utcnow() + interval * random.random()


def refresh_generated(
    session: Session, brand: Brand, limit: int, interval: timedelta
) -> list[WatchEntry]:
    """Add the engine's top predicted lookalikes of a brand that are not watched yet."""
    have = set(session.scalars(select(WatchEntry.domain).where(WatchEntry.brand_id == brand.id)))
    generated = session.scalar(
        select(func.count())
        .select_from(WatchEntry)
        .where(WatchEntry.brand_id == brand.id, WatchEntry.origin == "generated")
    )
    room = max(0, limit - int(generated or 0))
    added: list[WatchEntry] = []
    if not room:
        return added  # the hourly refresh: nothing to top up, so nothing to generate
    for candidate in top_candidates(to_spec(brand), limit):
        if len(added) >= room:
            break
        if candidate.domain in have:
            continue
        entry = WatchEntry(
            brand_id=brand.id,
            domain=candidate.domain,
            unicode=candidate.unicode,
            origin="generated",
            technique=candidate.technique,
            predicted_score=candidate.score,
            next_check_at=_spread(interval),
        )
        session.add(entry)
        added.append(entry)
    session.flush()
    return added


def add_names(
    session: Session, brand_id: int, names: Sequence[str], origin: str = "user"
) -> list[WatchEntry]:
    """Watch names given by a user (or found by the phantom probe); known ones are kept."""
    brand = get_brand(session, brand_id)
    index = DetectionIndex.build([to_spec(brand)])
    out: list[WatchEntry] = []
    errors: list[dict[str, str]] = []
    for i, raw in enumerate(names):
        try:
            name = normalize_domain(raw)
        except InvalidDomain as exc:
            errors.append({"field": f"domains[{i}]", "message": f"{raw!r}: {exc}"})
            continue
        if name.registrable is None:
            errors.append({"field": f"domains[{i}]", "message": f"{raw!r} is a public suffix"})
            continue
        out.append(_upsert(session, brand, index, name.registrable, origin))
    if errors:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise ValidationFailed(detail, errors=errors)
    session.flush()
    return out


def _upsert(
    session: Session, brand: Brand, index: DetectionIndex, domain: str, origin: str
) -> WatchEntry:
    existing = session.scalar(
        select(WatchEntry).where(WatchEntry.brand_id == brand.id, WatchEntry.domain == domain)
    )
    if existing is not None:
        return existing
    result = index.score(domain)
    entry = WatchEntry(
        brand_id=brand.id,
        domain=domain,
        unicode=result.unicode or domain,
        origin=origin,
        technique=result.reasons[0].technique if result.reasons else None,
        predicted_score=result.score,
        next_check_at=utcnow(),
    )
    session.add(entry)
    return entry


def list_entries(session: Session, brand_id: int, state: str | None = None) -> list[WatchEntry]:
    get_brand(session, brand_id)
    query = select(WatchEntry).where(WatchEntry.brand_id == brand_id)
    if state:
        query = query.where(WatchEntry.state == state)
    return list(session.scalars(query.order_by(WatchEntry.predicted_score.desc(), WatchEntry.id)))


def remove(session: Session, brand_id: int, entry_id: int) -> None:
    entry = session.get(WatchEntry, entry_id)
    if entry is None or entry.brand_id != brand_id:
        raise NotFound(f"brand {brand_id} watches no entry {entry_id}")
    session.delete(entry)


@dataclass(frozen=True)
class DueEntry:
    id: int
    domain: str


CLAIM = timedelta(minutes=10)  # a claimed name is due again this long after, if not checked


def due(session: Session, limit: int) -> list[DueEntry]:
    """Claim the names due for a check, so several workers never check the same one."""
    now = utcnow()
    rows = list(
        session.scalars(
            select(WatchEntry)
            .join(Brand, Brand.id == WatchEntry.brand_id)
            .where(
                WatchEntry.next_check_at <= now,
                Brand.deleted_at.is_(None),
                Brand.enabled.is_(True),
            )
            .order_by(WatchEntry.next_check_at)
            .limit(limit)
            .with_for_update(skip_locked=True, of=WatchEntry)
        )
    )
    for entry in rows:
        entry.next_check_at = now + CLAIM
    return [DueEntry(e.id, e.domain) for e in rows]


def record_check(
    session: Session, entry_id: int, state: str, detail: str | None, interval: timedelta
) -> Alert | None:
    """Store a check's result; free -> registered raises a `registration_watch` alert."""
    entry = session.get(WatchEntry, entry_id)
    if entry is None:
        return None
    now = utcnow()
    entry.last_checked_at, entry.last_detail = now, detail
    # +-10 % jitter keeps checks spread out over time.
    entry.next_check_at = now + interval * random.uniform(0.9, 1.1)
    if state == "unknown":
        return None  # unknown is neither registered nor free: keep the last known state
    previous, entry.state = entry.state, state
    if not (previous == "free" and state == "registered"):
        return None
    entry.registered_at = now
    brand = session.get(Brand, entry.brand_id)
    assert brand is not None
    result = DetectionIndex.build([to_spec(brand)]).score(entry.domain)
    reasons = [r.to_json() for r in result.reasons if r.brand == brand.name]
    reasons.append(
        {
            "technique": "registration_watch",
            "detail": f"{entry.domain} was free at the previous check and is now registered",
            "origin": entry.origin,
        }
    )
    if entry.origin == "phantom":
        reasons += _phantom_reasons(session, brand.id, entry.domain)
    source = AlertSource.PHANTOM if entry.origin == "phantom" else AlertSource.DNS
    alert, _ = record(
        session,
        Evidence(
            brand_id=brand.id,
            domain=entry.domain,
            registrable=entry.domain,
            unicode=entry.unicode,
            score=max(result.score, entry.predicted_score or 0),
            reasons=reasons,
            source=source,
            seen_at=now,
            context={"watch_entry": entry.id, "dns": detail},
        ),
    )
    return alert


def _phantom_reasons(session: Session, brand_id: int, domain: str) -> list[dict[str, object]]:
    """Which models invented a phantom name, and how often: the evidence of its alert."""
    row = session.scalar(
        select(PhantomCandidate).where(
            PhantomCandidate.brand_id == brand_id, PhantomCandidate.domain == domain
        )
    )
    if row is None:
        return []
    return [
        {
            "technique": "phantom-llm",
            "detail": f"invented by {', '.join(row.models)} in {row.samples_with} of "
            f"{row.total_samples} answers ({', '.join(row.intents)})",
            "models": row.models,
            "intents": row.intents,
            "hosts": row.hosts,
        }
    ]
