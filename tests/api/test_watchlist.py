"""Watch list API and the free -> registered transition (DNS results given directly here)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from service.brands.models import Brand
from service.db import Database
from service.watch import service as watch
from tests.api.test_alerts import make_brand
from tests.api.test_auth import assert_problem

HOUR = timedelta(hours=1)


def test_add_list_remove(
    client: TestClient,
    admin_headers: dict[str, str],
    write_headers: dict[str, str],
    read_headers: dict[str, str],
) -> None:
    brand_id = make_brand(client, admin_headers)
    url = f"/v1/brands/{brand_id}/watchlist"
    added = client.post(
        url,
        json={"domains": ["https://login.paypal-docs.io/x", "pаypal.com"]},
        headers=write_headers,
    )
    assert added.status_code == 201, added.text
    entries = added.json()
    assert [e["domain"] for e in entries] == ["paypal-docs.io", "xn--pypal-4ve.com"]
    assert all(e["origin"] == "user" and e["state"] == "unknown" for e in entries)
    assert entries[1]["unicode"] == "pаypal.com"
    again = client.post(url, json={"domains": ["paypal-docs.io"]}, headers=write_headers).json()
    assert again[0]["id"] == entries[0]["id"]

    listed = client.get(url, headers=read_headers).json()
    assert {e["domain"] for e in listed} == {"paypal-docs.io", "xn--pypal-4ve.com"}
    assert client.get(url + "?state=registered", headers=read_headers).json() == []

    assert_problem(
        client.post(url, json={"domains": ["co.uk"]}, headers=write_headers), 422, "validation"
    )
    assert_problem(
        client.post(url, json={"domains": ["x"]}, headers=read_headers), 403, "forbidden"
    )
    assert_problem(client.get("/v1/brands/999/watchlist", headers=read_headers), 404, "not-found")
    gone = client.delete(f"{url}/{entries[0]['id']}", headers=write_headers)
    assert gone.status_code == 204
    assert_problem(
        client.delete(f"{url}/{entries[0]['id']}", headers=write_headers), 404, "not-found"
    )


def test_generated_candidates_are_diverse_and_bounded(
    client: TestClient, database: Database, admin_headers: dict[str, str]
) -> None:
    brand_id = make_brand(client, admin_headers)
    with database.session() as session:
        brand = session.get(Brand, brand_id)
        assert brand is not None
        first = watch.refresh_generated(session, brand, 40, HOUR)
        again = watch.refresh_generated(session, brand, 40, HOUR)
    assert len(first) == 40
    assert again == []
    techniques = {e.technique for e in first}
    assert {"homoglyph", "omission", "tld-swap", "phantom"} <= techniques
    assert "paypal.com" not in {e.domain for e in first}
    assert all(e.predicted_score and e.predicted_score >= 50 for e in first)


def test_free_then_registered_raises_one_alert(
    client: TestClient,
    database: Database,
    admin_headers: dict[str, str],
    read_headers: dict[str, str],
) -> None:
    brand_id = make_brand(client, admin_headers)
    with database.session() as session:
        (entry,) = watch.add_names(session, brand_id, ["paypal-login.com"])
        entry_id = entry.id
    with database.session() as session:
        assert watch.record_check(session, entry_id, "registered", "SOA", HOUR) is None
        # registered from the first look: already there when watching began, no alert
    with database.session() as session:
        (entry,) = watch.add_names(session, brand_id, ["paypal-verify.com"])
        entry_id = entry.id
    with database.session() as session:
        assert watch.record_check(session, entry_id, "free", "NXDOMAIN", HOUR) is None
        assert watch.record_check(session, entry_id, "unknown", "timeout", HOUR) is None
    with database.session() as session:
        alert = watch.record_check(session, entry_id, "registered", "NS ns1.evil.test", HOUR)
        assert alert is not None
    alerts = client.get("/v1/alerts", headers=read_headers).json()["items"]
    assert [a["domain"] for a in alerts] == ["paypal-verify.com"]
    assert alerts[0]["source"] == "dns"
    assert "registration_watch" in alerts[0]["techniques"]
    listed = client.get(
        f"/v1/brands/{brand_id}/watchlist?state=registered", headers=read_headers
    ).json()
    assert {e["domain"] for e in listed} == {"paypal-login.com", "paypal-verify.com"}
    by_domain = {e["domain"]: e for e in listed}
    assert by_domain["paypal-verify.com"]["registered_at"] is not None
    assert by_domain["paypal-login.com"]["registered_at"] is None
