"""HTTP routes of phantom discovery: a brand's hallucinated names and on-demand probes."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, status

from service.config import Settings
from service.db import Database
from service.deps import AppSettings, DbSession, ReadCaller, WriteCaller, get_database
from service.ids import PathId
from service.phantom import service
from service.phantom.models import PhantomRun
from service.phantom.schemas import (
    ModelStatsOut,
    PhantomCandidateOut,
    PhantomReport,
    PhantomRunOut,
)

router = APIRouter(prefix="/v1/brands", tags=["phantoms"])


@router.get(
    "/{brand_id}/phantoms",
    response_model=PhantomReport,
    summary="Domains LLMs invent for the brand",
    description="Hallucinated names ranked by how often and how consistently models produce "
    "them, with their registration state; per-model statistics; the latest runs.",
)
def list_phantoms(brand_id: PathId, session: DbSession, _: ReadCaller) -> PhantomReport:
    candidates = [
        PhantomCandidateOut(
            domain=c.domain,
            hosts=c.hosts,
            models=c.models,
            intents=c.intents,
            mentions=c.mentions,
            samples_with=c.samples_with,
            total_samples=c.total_samples,
            frequency=c.samples_with / c.total_samples if c.total_samples else 0.0,
            rank_score=c.rank_score,
            registration_state=state,
            first_seen=c.first_seen,
            last_seen=c.last_seen,
        )
        for c, state in service.list_candidates(session, brand_id)
    ]
    return PhantomReport(
        candidates=candidates,
        models=[ModelStatsOut(**m) for m in service.model_statistics(session, brand_id)],
        runs=[PhantomRunOut.model_validate(r) for r in service.recent_runs(session, brand_id)],
    )


@router.post(
    "/{brand_id}/phantoms/probe",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PhantomRunOut,
    summary="Probe the configured LLMs about the brand now",
    description="Starts a run in the background (it may take minutes) and returns it; follow "
    "it in `GET /v1/brands/{id}/phantoms`. Only the brand's public name is sent. 409 when no "
    "endpoint is configured.",
)
def probe_now(
    brand_id: PathId,
    session: DbSession,
    database: Annotated[Database, Depends(get_database)],
    settings: AppSettings,
    tasks: BackgroundTasks,
    _: WriteCaller,
) -> PhantomRunOut:
    service.require_configured(settings)
    run_id = service.start_run(session, brand_id)
    run = PhantomRunOut.model_validate(session.get(PhantomRun, run_id))
    # Runs after the response, in the thread pool; the run row is committed by then.
    tasks.add_task(_probe, settings, database, brand_id, run_id)
    return run


def _probe(settings: Settings, database: Database, brand_id: int, run_id: int) -> None:
    asyncio.run(service.probe(settings, database, brand_id, run_id))
