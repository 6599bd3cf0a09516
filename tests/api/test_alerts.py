"""Alerts: recording evidence, filters, stable cursor pagination, lifecycle, bulk changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.alerts.models import AlertSource
from service.alerts.service import Evidence, record
from service.db import Database
from tests.api.test_auth import assert_problem

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_brand(
    client: TestClient, headers: dict[str, str], name: str = "PayPal", domain: str = "paypal.com"
) -> int:
    response = client.post("/v1/brands", json={"name": name, "domains": [domain]}, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def seed(
    database: Database,
    brand_id: int,
    domain: str,
    score: int = 80,
    *,
    technique: str = "typo",
    source: AlertSource = AlertSource.CT,
    seen_at: datetime = T0,
) -> int:
    evidence = Evidence(
        brand_id=brand_id,
        domain=domain,
        registrable=domain,
        unicode=domain,
        score=score,
        reasons=[{"technique": technique, "detail": f"{technique} of paypal.com"}],
        source=source,
        seen_at=seen_at,
    )
    with database.session() as session:
        alert, _ = record(session, evidence)
        return alert.id


def test_record_dedupes_per_brand_and_domain_and_appends_evidence(
    client: TestClient, database: Database, admin_headers: dict[str, str]
) -> None:
    brand_id = make_brand(client, admin_headers)
    first = seed(database, brand_id, "paypa1.com", 70)
    again = seed(database, brand_id, "paypa1.com", 70, seen_at=T0 + timedelta(hours=1))
    assert again == first
    stronger = seed(
        database,
        brand_id,
        "paypa1.com",
        92,
        technique="homoglyph",
        source=AlertSource.DNS,
        seen_at=T0 + timedelta(hours=2),
    )
    assert stronger == first

    alert = client.get(f"/v1/alerts/{first}", headers=admin_headers).json()
    assert alert["score"] == 92
    assert alert["severity"] == "critical"
    assert alert["techniques"] == ["homoglyph", "typo"]
    assert alert["source"] == "ct"
    assert alert["brand"] == "PayPal"
    assert alert["first_seen"].startswith("2026-01-01T00:00")
    assert alert["last_seen"].startswith("2026-01-01T02:00")
    # the repeated identical evidence added no event
    assert [e["kind"] for e in alert["events"]] == ["created", "evidence_added"]
    assert alert["events"][1]["data"]["source"] == "dns"


def test_filters(
    client: TestClient,
    database: Database,
    read_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    paypal = make_brand(client, admin_headers)
    acme = make_brand(client, admin_headers, "Acme", "acme.com")
    seed(database, paypal, "paypa1.com", 95, technique="homoglyph")
    seed(
        database,
        paypal,
        "paypal-login.com",
        65,
        technique="combosquat",
        source=AlertSource.FEED,
        seen_at=T0 + timedelta(days=1),
    )
    seed(
        database,
        acme,
        "acme-secure.net",
        45,
        technique="combosquat",
        seen_at=T0 + timedelta(days=2),
    )
    seed(database, acme, "xn--acm-bla.com", 85, technique="homoglyph")

    def domains(**params: object) -> list[str]:
        response = client.get("/v1/alerts", params=params, headers=read_headers)  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        return sorted(a["domain"] for a in response.json()["items"])

    assert domains(brand_id=acme) == ["acme-secure.net", "xn--acm-bla.com"]
    assert domains(technique="combosquat") == ["acme-secure.net", "paypal-login.com"]
    assert domains(technique=["homoglyph", "combosquat"], brand_id=paypal) == [
        "paypa1.com",
        "paypal-login.com",
    ]
    assert domains(min_score=80) == ["paypa1.com", "xn--acm-bla.com"]
    assert domains(min_severity="high") == ["paypa1.com", "xn--acm-bla.com"]
    assert domains(severity="medium") == ["paypal-login.com"]
    assert domains(source="feed") == ["paypal-login.com"]
    assert domains(domain="LOGIN") == ["paypal-login.com"]
    assert domains(domain="%") == []
    assert domains(since="2026-01-02T00:00:00Z") == ["acme-secure.net", "paypal-login.com"]
    assert domains(until="2026-01-02T00:00:00Z") == ["paypa1.com", "xn--acm-bla.com"]
    assert domains(status="new") == domains()
    assert domains(status="confirmed") == []
    assert_problem(client.get("/v1/alerts?status=bogus", headers=read_headers), 422, "validation")
    assert_problem(
        client.get("/v1/alerts?since=2026-01-01T00:00:00", headers=read_headers), 422, "validation"
    )


@pytest.mark.parametrize("sort", ["-first_seen", "first_seen", "-score", "score", "-last_seen"])
def test_pagination_is_stable_under_inserts(
    client: TestClient, database: Database, admin_headers: dict[str, str], sort: str
) -> None:
    brand_id = make_brand(client, admin_headers)
    originals = {
        seed(
            database,
            brand_id,
            f"paypal{i:02d}.com",
            50 + (i % 5) * 10,
            seen_at=T0 + timedelta(minutes=i // 3),
        )
        for i in range(23)
    }
    seen: list[int] = []
    cursor = None
    newcomer = 0
    while True:
        params: dict[str, object] = {"limit": 5, "sort": sort}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/alerts", params=params, headers=admin_headers).json()  # type: ignore[arg-type]
        seen += [a["id"] for a in page["items"]]
        # new alerts arrive between pages, some sorting before, some after the cursor
        for delta in (-1, 10_000):
            newcomer += 1
            seed(
                database,
                brand_id,
                f"new{newcomer}.paypal-x.com",
                70,
                seen_at=T0 + timedelta(minutes=delta),
            )
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "an alert appeared on two pages"
    assert originals <= set(seen), "an alert present from the start was skipped"


def test_lifecycle_and_illegal_transitions(
    client: TestClient,
    database: Database,
    write_headers: dict[str, str],
    read_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    alert_id = seed(database, make_brand(client, admin_headers), "paypa1.com")
    url = f"/v1/alerts/{alert_id}/status"

    def move(status: str, headers: dict[str, str] = write_headers) -> object:
        return client.post(url, json={"status": status, "note": f"to {status}"}, headers=headers)

    assert_problem(move("triaged", read_headers), 403, "forbidden")
    body = assert_problem(move("resolved"), 409, "invalid-transition")
    assert body["current"] == "new"
    assert "triaged" in body["allowed"]
    for status in ("triaged", "confirmed", "takedown_requested", "resolved", "new"):
        response = move(status)
        assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    assert_problem(move("takedown_requested"), 409, "invalid-transition")
    detail = client.get(f"/v1/alerts/{alert_id}", headers=read_headers).json()
    changes = [
        (e["from_status"], e["to_status"])
        for e in detail["events"]
        if e["kind"] == "status_changed"
    ]
    assert changes == [
        ("new", "triaged"),
        ("triaged", "confirmed"),
        ("confirmed", "takedown_requested"),
        ("takedown_requested", "resolved"),
        ("resolved", "new"),
    ]
    assert {e["actor"] for e in detail["events"] if e["kind"] == "status_changed"} == {"write-key"}
    assert detail["events"][-1]["note"] == "to new"
    assert_problem(
        client.post("/v1/alerts/424242/status", json={"status": "triaged"}, headers=write_headers),
        404,
        "not-found",
    )


def test_bulk_status_is_all_or_nothing(
    client: TestClient,
    database: Database,
    write_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    brand_id = make_brand(client, admin_headers)
    ids = [seed(database, brand_id, f"paypal{i}.com") for i in range(3)]
    client.post(
        f"/v1/alerts/{ids[0]}/status", json={"status": "false_positive"}, headers=write_headers
    )
    body = assert_problem(
        client.post(
            "/v1/alerts/status", json={"ids": ids, "status": "triaged"}, headers=write_headers
        ),
        409,
        "invalid-transition",
    )
    assert body["refused"] == [ids[0]]
    statuses = {
        a["id"]: a["status"]
        for a in client.get("/v1/alerts", headers=write_headers).json()["items"]
    }
    assert statuses[ids[1]] == statuses[ids[2]] == "new"
    assert_problem(
        client.post(
            "/v1/alerts/status",
            json={"ids": [ids[1], 999], "status": "triaged"},
            headers=write_headers,
        ),
        404,
        "not-found",
    )
    ok = client.post(
        "/v1/alerts/status",
        json={"ids": ids[1:], "status": "triaged", "note": "batch"},
        headers=write_headers,
    )
    assert ok.status_code == 200
    assert ok.json() == {"changed": ids[1:]}


def test_manual_report_scores_with_the_engine(
    client: TestClient, write_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    brand_id = make_brand(client, admin_headers)
    response = client.post(
        "/v1/alerts",
        json={"brand_id": brand_id, "domain": "https://paypa1.com/login", "note": "from a user"},
        headers=write_headers,
    )
    assert response.status_code == 201, response.text
    alert = response.json()
    assert alert["domain"] == "paypa1.com"
    assert alert["source"] == "manual"
    assert alert["score"] >= 60
    assert "manual" in alert["techniques"]
    assert any(r.get("detail") == "from a user" for r in alert["reasons"])
    assert_problem(
        client.post(
            "/v1/alerts",
            json={"brand_id": brand_id, "domain": "no spaces.com"},
            headers=write_headers,
        ),
        422,
        "validation",
    )
    assert_problem(
        client.post("/v1/alerts", json={"brand_id": 999, "domain": "x.com"}, headers=write_headers),
        404,
        "not-found",
    )


def test_export_formats_share_the_list_filters(
    client: TestClient,
    database: Database,
    read_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    import csv
    import io
    import json

    brand_id = make_brand(client, admin_headers)
    seed(database, brand_id, "paypa1.com", 95, technique="homoglyph")
    seed(database, brand_id, "=cmd-paypal.com", 65, technique="combosquat")

    response = client.get("/v1/alerts/export?format=csv", headers=read_headers)
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {r["domain"] for r in rows} == {"paypa1.com", "'=cmd-paypal.com"}  # formula guard

    lines = client.get("/v1/alerts/export?format=jsonl&min_score=90", headers=read_headers)
    exported = [json.loads(line) for line in lines.text.splitlines()]
    assert [a["domain"] for a in exported] == ["paypa1.com"]

    stix = client.get("/v1/alerts/export?format=stix&technique=homoglyph", headers=read_headers)
    bundle = stix.json()
    assert bundle["type"] == "bundle"
    patterns = [o["pattern"] for o in bundle["objects"] if o["type"] == "indicator"]
    assert patterns == ["[domain-name:value = 'paypa1.com']"]
    assert any(o["type"] == "identity" and o["name"] == "PayPal" for o in bundle["objects"])
    again = client.get("/v1/alerts/export?format=stix&technique=homoglyph", headers=read_headers)
    assert [o["id"] for o in again.json()["objects"]] == [o["id"] for o in bundle["objects"]]
    assert_problem(
        client.get("/v1/alerts/export?format=xml", headers=read_headers), 422, "validation"
    )


def test_tampered_cursors_are_400_not_500(client: TestClient, read_headers: dict[str, str]) -> None:
    from service.pagination import encode_cursor

    for sort, cursor in (
        ("-score", encode_cursor("x", "y")),
        ("-score", encode_cursor(True, 1)),
        ("-first_seen", encode_cursor("2026-01-01T00:00:00", 5)),  # no timezone
        ("-first_seen", encode_cursor("2026-01-01T00:00:00+00:00", "5")),
        ("-first_seen", encode_cursor(17, 5)),
    ):
        response = client.get(
            "/v1/alerts", params={"sort": sort, "cursor": cursor}, headers=read_headers
        )
        assert_problem(response, 400, "bad-request")


def test_record_many_survives_a_concurrent_insert(
    client: TestClient,
    database: Database,
    admin_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another worker inserts the same alert between our lookup and our flush."""
    from service.alerts import service as alerts_service

    if database.engine.dialect.name != "postgresql":
        pytest.skip("needs a second writer while the first transaction is open (PostgreSQL)")
    brand_id = make_brand(client, admin_headers)
    real_create = alerts_service._create
    raced = {"done": False}

    def racing_create(session: Any, evidence: Any, actor: str, flush: bool = True) -> Any:
        if not raced["done"]:
            raced["done"] = True
            seed(database, brand_id, evidence.domain, 60)  # committed by the other worker
        return real_create(session, evidence, actor, flush)

    monkeypatch.setattr(alerts_service, "_create", racing_create)
    evidence = Evidence(
        brand_id=brand_id,
        domain="paypa1.com",
        registrable="paypa1.com",
        unicode="paypa1.com",
        score=90,
        reasons=[{"technique": "homoglyph", "detail": "l->1"}],
        source=AlertSource.CT,
    )
    with database.session() as session:
        ((alert, created),) = alerts_service.record_many(session, [evidence])
    assert not created
    detail = client.get(f"/v1/alerts/{alert.id}", headers=admin_headers).json()
    assert detail["score"] == 90
    assert [e["kind"] for e in detail["events"]] == ["created", "evidence_added"]
