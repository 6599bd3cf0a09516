"""Watch list rules: which names to watch, when to check them, and what a registration means."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.alerts.models import Alert, AlertSource, AlertStatus
from service.alerts.service import Evidence, change_status, record
from service.brands.models import Brand
from service.brands.service import get_brand, to_spec
from service.db import utcnow
from service.detection import BrandSpec, DetectionIndex, InvalidDomain, normalize_domain
from service.errors import NotFound, ValidationFailed
from service.phantom.models import PhantomCandidate
from service.watch.candidates import generate, top_candidates
from service.watch.models import WatchEntry
from service.webhooks.events import isoformat

STATES = ("unknown", "free", "registered")


def _spread(interval: timedelta) -> datetime:
    # First checks are spread over the interval instead of all firing at once.
    return utcnow() + interval * random.random()


def _derivable(spec: BrandSpec) -> set[str]:
    """Every registrable name the generator derives from the brand's current domains.

    Cheap (no scoring), so the hourly refresh can tell stale predictions without
    ranking candidates when the quota is already full.
    """
    owned = {normalize_domain(d).ascii for d in spec.domains}
    out: set[str] = set()
    for raw in set(generate(spec)):
        try:
            registrable = normalize_domain(raw).registrable
        except InvalidDomain:
            continue
        if registrable is not None and registrable not in owned:
            out.add(registrable)
    return out


def refresh_generated(
    session: Session, brand: Brand, limit: int, interval: timedelta
) -> list[WatchEntry]:
    """Keep a brand's predicted lookalikes in step with its domains, topped up to `limit`.

    Generated names the brand's current domains no longer produce (a domain was
    replaced, or became official) are dropped; names the user removed are never
    predicted again; user and phantom names are left alone.
    """
    rows = list(session.scalars(select(WatchEntry).where(WatchEntry.brand_id == brand.id)))
    spec = to_spec(brand)
    derivable = _derivable(spec)
    have: set[str] = set()
    generated = 0
    for entry in rows:
        if entry.origin == "generated" and entry.removed_at is None:
            if entry.domain not in derivable:
                session.delete(entry)
                continue
            generated += 1
        # Tombstones are skipped like live names: a removed name is never predicted again.
        have.add(entry.domain)
    room = max(0, limit - generated)
    added: list[WatchEntry] = []
    if room:
        # Everything already present may outrank the new names: ask for enough to skip it.
        for candidate in top_candidates(spec, limit + len(have)):
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
    """Watch names given by a user (or found by the phantom probe); known ones are kept.

    A removed name comes back only when a user adds it (it becomes theirs); the
    phantom probe does not override that removal.
    """
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
        entry = _upsert(session, brand, index, name.registrable, origin)
        if entry is not None:
            out.append(entry)
    if errors:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise ValidationFailed(detail, errors=errors)
    session.flush()
    return out


def _upsert(
    session: Session, brand: Brand, index: DetectionIndex, domain: str, origin: str
) -> WatchEntry | None:
    existing = session.scalar(
        select(WatchEntry).where(WatchEntry.brand_id == brand.id, WatchEntry.domain == domain)
    )
    if existing is not None and existing.removed_at is not None:
        if origin != "user":
            return None
        # Stored checks are kept: the state it had is still the best guess until rechecked.
        existing.removed_at, existing.origin, existing.next_check_at = None, "user", utcnow()
        return existing
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
    query = select(WatchEntry).where(
        WatchEntry.brand_id == brand_id, WatchEntry.removed_at.is_(None)
    )
    if state:
        query = query.where(WatchEntry.state == state)
    return list(session.scalars(query.order_by(WatchEntry.predicted_score.desc(), WatchEntry.id)))


def remove(session: Session, brand_id: int, entry_id: int) -> None:
    """Stop watching a name.

    The row is kept as a tombstone, whatever added the name: neither the hourly
    refresh nor the next phantom probe adds it back (a user's name may be one the
    engine predicts too), and a removed phantom name is no longer matched in CT and
    feeds. A user adding it again revives it, with its checks.
    """
    entry = session.get(WatchEntry, entry_id)
    if entry is None or entry.brand_id != brand_id or entry.removed_at is not None:
        raise NotFound(f"brand {brand_id} watches no entry {entry_id}")
    entry.removed_at = utcnow()


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
                WatchEntry.removed_at.is_(None),
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
    """Store a check's result; free -> registered raises a `registration_watch` alert.

    A name registered, dropped and registered again has changed hands: that adds a
    `re_registered` event to its alert, which notifies like any new evidence.
    """
    entry = session.get(WatchEntry, entry_id)
    if entry is None or entry.removed_at is not None:
        return None  # removed after it was claimed: the user no longer wants to hear of it
    now = utcnow()
    entry.last_checked_at, entry.last_detail = now, detail
    # +-10 % jitter keeps checks spread out over time.
    entry.next_check_at = now + interval * random.uniform(0.9, 1.1)
    if state == "unknown":
        return None  # unknown is neither registered nor free: keep the last known state
    previous, entry.state = entry.state, state
    if state == "free":
        if previous != "free":
            entry.free_since = now
        entry.free_until = now
        return None
    if previous != "free":
        return None
    registered_before = entry.registered_at
    entry.registered_at = now
    brand = session.get(Brand, entry.brand_id)
    assert brand is not None
    result = DetectionIndex.build([to_spec(brand)]).score(entry.domain)
    reasons = [r.to_json() for r in result.reasons if r.brand == brand.name]
    context: dict[str, Any] = {"watch_entry": entry.id, "dns": detail}
    if registered_before is None:
        reasons.append(
            {
                "technique": "registration_watch",
                "detail": f"{entry.domain} was free at the previous check and is now registered",
                "origin": entry.origin,
            }
        )
    else:
        seen = _free_spell(entry, registered_before)
        window = (
            f"from {seen['free_since']} to {seen['free_until']}"
            if seen["free_since"] and seen["free_until"]
            else "at the previous check"
        )
        # The times make this reason unlike every earlier one: an identical reason is
        # merged into the alert as already known, with no event and so no notification.
        reasons.append(
            {
                "technique": "registration_watch",
                "detail": f"{entry.domain} was registered again at {isoformat(now)}: seen free "
                f"{window}, registered before at {seen['previously_registered_at']}",
                "origin": entry.origin,
                "change": "re_registered",
                **seen,
            }
        )
        context.update(changes=["re_registered"], **seen)
    entry.free_since = entry.free_until = None
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
            context=context,
        ),
    )
    if registered_before is not None:
        # Locked before it is read: an analyst may be moving it at this moment.
        session.refresh(alert, ["status"], with_for_update=True)
        if alert.status in _CLOSED:
            # Taken down, or judged harmless (often the brand's own), and now someone
            # has registered it again: whoever holds it now has not been looked at.
            change_status(
                session,
                alert,
                AlertStatus.NEW,
                "system",
                f"{entry.domain} was registered again after it had been free",
            )
    return alert


# Alert states a re-registration reopens.
_CLOSED = (AlertStatus.RESOLVED.value, AlertStatus.FALSE_POSITIVE.value)


def _free_spell(entry: WatchEntry, registered_before: datetime) -> dict[str, str | None]:
    """When a re-registered name was seen free (None for rows older than this record)."""
    return {
        "free_since": isoformat(entry.free_since) if entry.free_since else None,
        "free_until": isoformat(entry.free_until) if entry.free_until else None,
        "previously_registered_at": isoformat(registered_before),
    }


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
