"""create_app(): the FastAPI application with its routers, error handler and metrics."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service import __version__
from service.alerts.endpoints import router as alerts_router
from service.auth.endpoints import router as keys_router
from service.brands.endpoints import router as brands_router
from service.config import Settings
from service.ctlogs.endpoints import router as sources_router
from service.ctlogs.metrics import CtLogCollector
from service.db import Database
from service.errors import install_error_handlers
from service.health import router as health_router
from service.metrics import Metrics
from service.phantom.endpoints import router as phantom_router
from service.watch.endpoints import router as watch_router
from service.webhooks.endpoints import router as webhooks_router

DESCRIPTION = """
PhantomWatch finds domains that imitate protected brands (typosquats, homographs,
combosquats, subdomain impersonation and the names LLMs hallucinate) in Certificate
Transparency, DNS and domain feeds, and serves them as alerts with explained scores.

Authenticate with `Authorization: Bearer <key>` or `X-API-Key: <key>`. Scopes: `read`
(list, get), `write` (change alerts), `admin` (brands and keys). Errors are RFC 9457
`application/problem+json`.
"""


def create_app(settings: Settings, database: Database | None = None) -> FastAPI:
    """Build the API; the database is created from settings unless one is given (tests)."""
    owned = database is None
    db = database or Database(settings.sqlalchemy_url, settings.db_pool_size)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Everything alive now (modules, the Public Suffix List, word lists) lives as long
        # as the process: keep it out of full collections, which otherwise walk it and
        # stall a request for ~80 ms every few hundred requests.
        gc.collect()
        gc.freeze()
        yield
        if owned:
            db.dispose()

    app = FastAPI(
        title="PhantomWatch",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = db
    app.state.metrics = Metrics()
    app.state.metrics.registry.register(CtLogCollector(db))
    if settings.metrics_enabled:
        app.middleware("http")(app.state.metrics.middleware)
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(brands_router)
    app.include_router(alerts_router)
    app.include_router(keys_router)
    app.include_router(sources_router)
    app.include_router(webhooks_router)
    app.include_router(watch_router)
    app.include_router(phantom_router)
    return app
