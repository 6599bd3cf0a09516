"""Prometheus metrics of one app instance (a registry per app keeps tests independent)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.requests import Request
from starlette.responses import Response

from service import __version__


class Metrics:
    """HTTP and service metrics, exposed on /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "phantomwatch_http_requests",
            "HTTP requests served, by route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "phantomwatch_http_request_duration_seconds",
            "Time to serve an HTTP request, by route template.",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        info = Gauge(
            "phantomwatch_build_info",
            "Version of the running service.",
            ["version"],
            registry=self.registry,
        )
        info.labels(version=__version__).set(1)

    async def middleware(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = _route_template(request)
            self.latency.labels(request.method, route).observe(time.perf_counter() - started)
            self.requests.labels(request.method, route, str(status)).inc()


def _route_template(request: Request) -> str:
    # The template, not the raw path, so ids do not explode label cardinality;
    # the router stores the matched route in the scope.
    route = request.scope.get("route")
    return str(getattr(route, "path", "unmatched"))
