"""Health, readiness and metrics endpoints need no key and tell the truth."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_readyz_is_503_on_unmigrated_database(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert "never migrated" in response.json()["detail"]


def test_metrics_count_requests_by_route(client: TestClient, read_headers: dict[str, str]) -> None:
    client.get("/v1/alerts", headers=read_headers)
    client.get("/v1/alerts/12345", headers=read_headers)
    text = client.get("/metrics").text
    assert (
        'phantomwatch_http_requests_total{method="GET",route="/v1/alerts",status="200"} 1.0' in text
    )
    assert 'route="/v1/alerts/{alert_id}",status="404"' in text
    assert "phantomwatch_build_info" in text


def test_openapi_documents_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
