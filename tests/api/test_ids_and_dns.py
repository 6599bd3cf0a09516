"""Ids out of the 64-bit range are 422s, not 500s; an alert's DNS state and snapshot history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.alerts.models import Alert
from service.db import Database
from service.ids import MAX_BIG_ID, MAX_ID
from service.sources.dns.enrich import Enrichment
from service.sources.dns.resolver import Answer
from service.watch.models import DnsSnapshot
from tests.api.test_alerts import make_brand, seed
from tests.api.test_auth import assert_problem

HUGE = 2**70
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# (method, path with {id} where the bad id goes, JSON body, the largest id of that column):
# INTEGER keys are 32-bit on PostgreSQL, BIGINT ones 64-bit.
ID_ROUTES: list[tuple[str, str, dict[str, Any] | None, int]] = [
    ("GET", "/v1/alerts/{id}", None, MAX_BIG_ID),
    ("GET", "/v1/alerts/{id}/dns", None, MAX_BIG_ID),
    ("POST", "/v1/alerts/{id}/status", {"status": "triaged"}, MAX_BIG_ID),
    ("GET", "/v1/brands/{id}", None, MAX_ID),
    ("PATCH", "/v1/brands/{id}", {"enabled": False}, MAX_ID),
    ("DELETE", "/v1/brands/{id}", None, MAX_ID),
    ("GET", "/v1/brands/{id}/watchlist", None, MAX_ID),
    ("POST", "/v1/brands/{id}/watchlist", {"domains": ["paypa1.com"]}, MAX_ID),
    ("DELETE", "/v1/brands/1/watchlist/{id}", None, MAX_BIG_ID),
    ("GET", "/v1/brands/{id}/phantoms", None, MAX_ID),
    ("DELETE", "/v1/keys/{id}", None, MAX_ID),
    ("PATCH", "/v1/sources/ct/{id}", {"enabled": False}, MAX_ID),
    ("GET", "/v1/webhooks/{id}", None, MAX_ID),
    ("DELETE", "/v1/webhooks/{id}", None, MAX_ID),
    ("GET", "/v1/webhooks/{id}/deliveries", None, MAX_ID),
    ("GET", "/v1/alerts?brand_id={id}", None, MAX_ID),
    ("POST", "/v1/alerts", {"brand_id": "{id}", "domain": "paypa1.com"}, MAX_ID),
    ("POST", "/v1/alerts/status", {"ids": ["{id}"], "status": "triaged"}, MAX_BIG_ID),
    ("POST", "/v1/webhooks/{id}/redeliver", {}, MAX_ID),
    ("POST", "/v1/webhooks/1/redeliver", {"delivery_ids": ["{id}"]}, MAX_BIG_ID),
]


def _fill(body: Any, value: int) -> Any:
    if body == "{id}":
        return value
    if isinstance(body, dict):
        return {k: _fill(v, value) for k, v in body.items()}
    if isinstance(body, list):
        return [_fill(v, value) for v in body]
    return body


@pytest.mark.parametrize(("method", "path", "body", "largest"), ID_ROUTES)
@pytest.mark.parametrize("kind", ["2**70", "largest+1", "0", "-1"])
def test_an_id_out_of_range_is_a_validation_problem(
    client: TestClient,
    admin_headers: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
    largest: int,
    kind: str,
) -> None:
    bad = {"2**70": HUGE, "largest+1": largest + 1, "0": 0, "-1": -1}[kind]
    response = client.request(
        method, path.format(id=bad), json=_fill(body, bad), headers=admin_headers
    )
    problem = assert_problem(response, 422, "validation")
    errors = problem["errors"]
    assert isinstance(errors, list)
    assert len(errors) == 1
    assert errors[0]["field"].split(".")[0] in (
        "alert_id",
        "brand_id",
        "entry_id",
        "key_id",
        "log_id",
        "sub_id",
        "ids",
        "delivery_ids",
    )


@pytest.mark.parametrize(("method", "path", "body", "largest"), ID_ROUTES)
def test_the_largest_id_is_a_plain_answer(
    client: TestClient,
    admin_headers: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
    largest: int,
) -> None:
    response = client.request(
        method, path.format(id=largest), json=_fill(body, largest), headers=admin_headers
    )
    # No such row (or, for the list filter, no such alerts): the database was asked.
    if path.startswith("/v1/alerts?"):
        assert response.json() == {"items": [], "next_cursor": None}
    else:
        assert_problem(response, 404, "not-found")


def test_the_key_is_checked_before_the_id(client: TestClient) -> None:
    assert_problem(client.get(f"/v1/alerts/{HUGE}"), 401, "unauthorized")
    assert_problem(client.delete(f"/v1/brands/1/watchlist/{HUGE}"), 401, "unauthorized")


def test_the_openapi_document_bounds_the_ids(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, name, largest in (
        ("/v1/alerts/{alert_id}", "alert_id", MAX_BIG_ID),
        ("/v1/brands/{brand_id}", "brand_id", MAX_ID),
    ):
        (param,) = [p for p in paths[path]["get"]["parameters"] if p["name"] == name]
        schema = param["schema"]
        assert (param["in"], schema["minimum"], schema["maximum"]) == ("path", 1, largest)


def _enrichment(a: Answer, mx: Answer, at: datetime) -> Enrichment:
    # No IPv6 in these looks; the A answer decides the state.
    aaaa = Answer(a.name, "AAAA", "unknown" if a.state == "unknown" else "nodata")
    return Enrichment("paypa1.com", "paypa1.com", at, {"A": a, "AAAA": aaaa, "MX": mx})


def _snapshot(alert_id: int, at: datetime, e: Enrichment, changes: list[str]) -> DnsSnapshot:
    return DnsSnapshot(
        alert_id=alert_id, taken_at=at, state=e.state, data=e.to_json(), changes=changes
    )


def test_alert_dns_state_and_history(
    client: TestClient,
    database: Database,
    admin_headers: dict[str, str],
    read_headers: dict[str, str],
) -> None:
    brand_id = make_brand(client, admin_headers)
    alert_id = seed(database, brand_id, "paypa1.com")
    other_id = seed(database, brand_id, "paypa1.net")
    fresh = client.get(f"/v1/alerts/{alert_id}", headers=read_headers).json()
    assert (fresh["dns_state"], fresh["dns_checked_at"]) == (None, None)
    assert client.get(f"/v1/alerts/{alert_id}/dns", headers=read_headers).json() == []

    dark = Answer("paypa1.com.", "A", "nxdomain")
    no_mx = Answer("paypa1.com.", "MX", "nxdomain")
    up = Answer("paypa1.com.", "A", "resolves", ("192.0.2.1",))
    mx = Answer("paypa1.com.", "MX", "resolves", ("10 mx.paypa1.com.",))
    lost = Answer("paypa1.com.", "A", "unknown", detail="timeout (192.0.2.53#53)")
    looks = [
        (T0, _enrichment(dark, no_mx, T0), []),
        (T0 + timedelta(days=1), _enrichment(up, mx, T0), ["first_resolution", "mx_appeared"]),
        (T0 + timedelta(days=2), _enrichment(lost, lost, T0), []),
    ]
    with database.session() as session:
        # Inserted out of order: the history is ordered by when DNS was asked.
        for at, enrichment, changes in reversed(looks):
            session.add(_snapshot(alert_id, at, enrichment, changes))
        session.add(_snapshot(other_id, T0 + timedelta(days=9), looks[1][1], []))
        alert = session.get(Alert, alert_id)
        assert alert is not None
        alert.dns_state, alert.dns_checked_at = "unknown", T0 + timedelta(days=2)

    detail = client.get(f"/v1/alerts/{alert_id}", headers=read_headers).json()
    assert detail["dns_state"] == "unknown"
    assert datetime.fromisoformat(detail["dns_checked_at"]) == T0 + timedelta(days=2)
    listed = client.get("/v1/alerts?domain=paypa1", headers=read_headers).json()["items"]
    assert {(a["domain"], a["dns_state"]) for a in listed} == {
        ("paypa1.com", "unknown"),
        ("paypa1.net", None),
    }

    history = client.get(f"/v1/alerts/{alert_id}/dns", headers=read_headers)
    assert history.status_code == 200, history.text
    items = history.json()
    assert [datetime.fromisoformat(i["taken_at"]) for i in items] == [
        T0 + timedelta(days=2),
        T0 + timedelta(days=1),
        T0,
    ]
    assert [i["state"] for i in items] == ["unknown", "resolves", "nxdomain"]
    assert items[1]["changes"] == ["first_resolution", "mx_appeared"]
    assert set(items[0]) == {"taken_at", "state", "changes", "data"}
    assert (items[1]["data"]["a"], items[1]["data"]["has_mx"]) == (["192.0.2.1"], True)
    assert items[0]["data"]["answers"]["A"]["detail"] == "timeout (192.0.2.53#53)"

    two = client.get(f"/v1/alerts/{alert_id}/dns?limit=2", headers=read_headers).json()
    assert [i["state"] for i in two] == ["unknown", "resolves"]
    for limit in (0, 201):
        assert_problem(
            client.get(f"/v1/alerts/{alert_id}/dns?limit={limit}", headers=read_headers),
            422,
            "validation",
        )
    assert_problem(client.get(f"/v1/alerts/{alert_id}/dns"), 401, "unauthorized")
    missing = f"/v1/alerts/{MAX_BIG_ID}/dns"
    assert_problem(client.get(missing, headers=read_headers), 404, "not-found")


def test_alert_dns_history_limit_default_and_maximum(
    client: TestClient,
    database: Database,
    admin_headers: dict[str, str],
    read_headers: dict[str, str],
) -> None:
    brand_id = make_brand(client, admin_headers)
    alert_id = seed(database, brand_id, "paypa1.com")
    e = _enrichment(
        Answer("paypa1.com.", "A", "nxdomain"), Answer("paypa1.com.", "MX", "nxdomain"), T0
    )
    with database.session() as session:
        session.add_all(_snapshot(alert_id, T0 + timedelta(hours=h), e, []) for h in range(205))
    url = f"/v1/alerts/{alert_id}/dns"
    default = client.get(url, headers=read_headers).json()
    assert len(default) == 20
    assert datetime.fromisoformat(default[0]["taken_at"]) == T0 + timedelta(hours=204)
    assert len(client.get(url + "?limit=200", headers=read_headers).json()) == 200


def test_alert_dns_history_is_documented(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/v1/alerts/{alert_id}/dns"]["get"]
    assert operation["summary"]
    assert operation["description"]
    (limit,) = [p for p in operation["parameters"] if p["name"] == "limit"]
    assert (limit["schema"]["default"], limit["schema"]["maximum"]) == (20, 200)
    assert limit["description"]
