"""Probe a brand's phantom names, keep the ranked candidates, watch the best for registration."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.brands.models import Brand
from service.brands.service import get_brand
from service.config import Settings
from service.db import Database, utcnow
from service.errors import Conflict
from service.phantom.models import PhantomCandidate, PhantomRun
from service.sources.phantom import LlmClient, LlmEndpoint, ProbeResult, run_probe
from service.watch import service as watch
from service.watch.models import WatchEntry

log = logging.getLogger(__name__)


def endpoints_from(settings: Settings) -> list[LlmEndpoint]:
    return [LlmEndpoint(**e.model_dump()) for e in settings.phantom_endpoints]


def require_configured(settings: Settings) -> None:
    if not settings.phantom_endpoints:
        raise Conflict(
            "phantom discovery is not configured: set PHANTOMWATCH_PHANTOM_ENDPOINTS to at least "
            "one OpenAI-compatible endpoint"
        )


STALE_RUN = timedelta(hours=6)


def start_run(session: Session, brand_id: int) -> int:
    """A new run; refused while another run of the brand is going (LLM spend, duplicates)."""
    get_brand(session, brand_id)
    running = session.scalar(
        select(PhantomRun).where(PhantomRun.brand_id == brand_id, PhantomRun.status == "running")
    )
    if running is not None:
        if utcnow() - running.started_at < STALE_RUN:
            raise Conflict(f"a probe of this brand is already running (run {running.id})")
        running.status, running.finished_at = "failed", utcnow()  # died with its worker
        running.errors = [{"kind": "abandoned", "message": "the run never finished"}]
    run = PhantomRun(brand_id=brand_id, status="running", model_stats=[], errors=[])
    session.add(run)
    session.flush()
    return run.id


@dataclass(frozen=True)
class _BrandFacts:
    name: str
    domains: list[str]
    allow: list[str]


async def probe(
    settings: Settings,
    database: Database,
    brand_id: int,
    run_id: int | None = None,
    clients: Mapping[str, LlmClient] | None = None,
) -> PhantomRun:
    """Ask every configured model about the brand, then store and watch what they invented."""
    require_configured(settings)
    with database.session() as session:
        brand = get_brand(session, brand_id)
        # Only the brand's public name and domains leave this process.
        facts = _BrandFacts(brand.name, list(brand.domains), list(brand.allow))
        run_id = run_id or start_run(session, brand_id)
    try:
        result = await run_probe(
            facts.name,
            facts.domains,
            [*facts.allow, *settings.phantom_ignore],
            endpoints_from(settings),
            clients,
            budget_requests=settings.phantom_budget,
        )
        with database.session() as session:
            run = _store(session, brand_id, run_id, result, settings.phantom_watch_top)
            session.expunge(run)
            return run
    except Exception as exc:
        log.exception("phantom probe of brand %s failed", brand_id)
        with database.session() as session:
            failed = session.get(PhantomRun, run_id)
            assert failed is not None
            failed.status, failed.finished_at = "failed", utcnow()
            failed.errors = [{"kind": type(exc).__name__, "message": str(exc)}]
            session.expunge(failed)
            return failed


def _store(
    session: Session, brand_id: int, run_id: int, result: ProbeResult, watch_top: int
) -> PhantomRun:
    now = utcnow()
    run = session.get(PhantomRun, run_id)
    assert run is not None
    run.status, run.finished_at = "done", now
    run.requests_made, run.samples = result.requests_made, len(result.samples)
    run.budget_exhausted = result.budget_exhausted
    run.model_stats = [dataclasses.asdict(s) for s in result.stats]
    run.errors = [
        {"endpoint": e.endpoint, "kind": e.kind, "message": e.message} for e in result.errors
    ]
    found = [c for c in result.candidates if not c.email_only]
    run.candidates_found = len(found)
    known = {
        c.domain: c
        for c in session.scalars(
            select(PhantomCandidate).where(PhantomCandidate.brand_id == brand_id)
        )
    }
    for c in found:
        row = known.get(c.domain)
        if row is None:
            row = PhantomCandidate(
                brand_id=brand_id,
                domain=c.domain,
                hosts=[],
                models=[],
                intents=[],
                mentions=0,
                samples_with=0,
                total_samples=0,
                rank_score=0.0,
                first_seen=now,
            )
            session.add(row)
            known[c.domain] = row
        row.hosts = sorted(set(row.hosts) | set(c.hosts))[:20]
        row.models = sorted(set(row.models) | set(c.models))
        row.intents = sorted(set(row.intents) | set(c.intents))
        row.mentions += c.count
        row.samples_with += c.samples_with
        row.total_samples += c.total_samples
        row.rank_score = max(row.rank_score, c.rank_score)
        row.last_seen = now
    session.flush()
    best = sorted(known.values(), key=lambda r: (-r.rank_score, r.domain))[:watch_top]
    if best:
        watch.add_names(session, brand_id, [r.domain for r in best], origin="phantom")
    return run


def list_candidates(session: Session, brand_id: int) -> list[tuple[PhantomCandidate, str | None]]:
    """Candidates, best first, with the registration state of their watch entry."""
    get_brand(session, brand_id)
    query = select(WatchEntry.domain, WatchEntry.state).where(
        WatchEntry.brand_id == brand_id, WatchEntry.removed_at.is_(None)
    )
    states = dict(session.execute(query).all())  # (a Result itself has keys())
    rows = session.scalars(
        select(PhantomCandidate)
        .where(PhantomCandidate.brand_id == brand_id)
        .order_by(PhantomCandidate.rank_score.desc(), PhantomCandidate.domain)
    )
    return [(row, states.get(row.domain)) for row in rows]


def model_statistics(session: Session, brand_id: int) -> list[dict[str, Any]]:
    """Per model, over every run: share of answers naming a non-brand domain, share unregistered."""
    totals: dict[str, dict[str, Any]] = {}
    for run in session.scalars(
        select(PhantomRun).where(PhantomRun.brand_id == brand_id, PhantomRun.status == "done")
    ):
        for stat in run.model_stats:
            entry = totals.setdefault(stat["model"], {"answers": 0, "non_brand": 0})
            entry["answers"] += stat["answers"]
            entry["non_brand"] += stat["answers_with_non_brand_domain"]
    candidates = list_candidates(session, brand_id)
    out = []
    for model, entry in sorted(totals.items()):
        named = [(c, state) for c, state in candidates if model in c.models]
        checked = [state for _, state in named if state in ("free", "registered")]
        out.append(
            {
                "model": model,
                "answers": entry["answers"],
                "answers_with_non_brand_domain": entry["non_brand"],
                "share_non_brand": entry["non_brand"] / entry["answers"]
                if entry["answers"]
                else 0.0,
                "distinct_non_brand": len(named),
                "share_unregistered": checked.count("free") / len(checked) if checked else None,
            }
        )
    return out


def recent_runs(session: Session, brand_id: int, limit: int = 10) -> list[PhantomRun]:
    return list(
        session.scalars(
            select(PhantomRun)
            .where(PhantomRun.brand_id == brand_id)
            .order_by(PhantomRun.id.desc())
            .limit(limit)
        )
    )


def due_brands(session: Session, interval_seconds: float) -> list[int]:
    """Enabled brands never probed, or last probed longer ago than the interval."""
    cutoff = utcnow() - timedelta(seconds=interval_seconds)
    query = select(PhantomRun.brand_id, func.max(PhantomRun.started_at)).group_by(
        PhantomRun.brand_id
    )
    last = dict(session.execute(query).all())
    brands = session.scalars(
        select(Brand.id).where(Brand.deleted_at.is_(None), Brand.enabled.is_(True))
    )
    return [b for b in brands if b not in last or last[b] < cutoff]
