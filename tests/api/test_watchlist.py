"""Watch list API and the free -> registered transition (DNS results given directly here)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.brands.models import Brand
from service.brands.service import to_spec
from service.db import Database, utcnow
from service.ingest.scoring import BrandIndexCache
from service.watch import service as watch
from service.watch.candidates import top_candidates
from service.watch.models import WatchEntry
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


def generated_names(database: Database, brand_id: int, limit: int) -> list[str]:
    """What the hourly refresh adds for the brand now."""
    with database.session() as session:
        brand = session.get(Brand, brand_id)
        assert brand is not None
        return [e.domain for e in watch.refresh_generated(session, brand, limit, HOUR)]


def entry_id_of(session: Session, domain: str) -> int:
    entry_id = session.scalar(select(WatchEntry.id).where(WatchEntry.domain == domain))
    assert entry_id is not None
    return entry_id


def listed(client: TestClient, brand_id: int, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get(f"/v1/brands/{brand_id}/watchlist", headers=headers)
    assert response.status_code == 200, response.text
    return {e["domain"]: e for e in response.json()}


def test_a_removed_generated_name_stays_removed_until_a_user_adds_it_back(
    client: TestClient,
    database: Database,
    admin_headers: dict[str, str],
    write_headers: dict[str, str],
    read_headers: dict[str, str],
) -> None:
    brand_id = make_brand(client, admin_headers)
    url = f"/v1/brands/{brand_id}/watchlist"
    first = generated_names(database, brand_id, 5)
    assert len(first) == 5
    with database.session() as session:
        watch.record_check(session, entry_id_of(session, first[0]), "free", "NXDOMAIN", HOUR)
    removed = listed(client, brand_id, read_headers)[first[0]]
    assert removed["state"] == "free"

    assert client.delete(f"{url}/{removed['id']}", headers=write_headers).status_code == 204
    assert first[0] not in listed(client, brand_id, read_headers)
    assert_problem(client.delete(f"{url}/{removed['id']}", headers=write_headers), 404, "not-found")

    # the hourly refresh fills the quota with the next prediction, not the removed one
    refill = generated_names(database, brand_id, 5)
    assert len(refill) == 1
    assert refill[0] not in first
    assert set(listed(client, brand_id, read_headers)) == {*first[1:], *refill}
    assert generated_names(database, brand_id, 5) == []

    # a removed name is never checked, even if a check was already under way
    with database.session() as session:
        session.execute(update(WatchEntry).values(next_check_at=utcnow()))
    with database.session() as session:
        due = {d.domain for d in watch.due(session, 100)}
        assert first[0] not in due
        assert len(due) == 5
        assert watch.record_check(session, removed["id"], "registered", "SOA", HOUR) is None

    # the phantom probe does not override the removal; a user does
    with database.session() as session:
        assert watch.add_names(session, brand_id, [first[0]], origin="phantom") == []
    assert first[0] not in listed(client, brand_id, read_headers)
    back = client.post(url, json={"domains": [first[0]]}, headers=write_headers)
    assert back.status_code == 201, back.text
    (entry,) = back.json()
    assert entry["id"] == removed["id"]
    assert entry["origin"] == "user"
    assert entry["state"] == "free"  # the checks made before the removal are kept
    assert entry["last_checked_at"] == removed["last_checked_at"]
    assert set(listed(client, brand_id, read_headers)) == {*first, *refill}
    assert generated_names(database, brand_id, 5) == []

    # removed again, now as the user's name: still never predicted back, even with room
    assert client.delete(f"{url}/{removed['id']}", headers=write_headers).status_code == 204
    assert first[0] not in generated_names(database, brand_id, 50)
    assert first[0] not in listed(client, brand_id, read_headers)


def test_generated_names_follow_the_brand_domains(
    client: TestClient,
    database: Database,
    admin_headers: dict[str, str],
    write_headers: dict[str, str],
    read_headers: dict[str, str],
) -> None:
    brand_id = make_brand(client, admin_headers)
    url = f"/v1/brands/{brand_id}/watchlist"
    paypal = generated_names(database, brand_id, 5)
    assert len(paypal) == 5
    mine = client.post(url, json={"domains": ["paypal-payouts.net"]}, headers=write_headers)
    assert mine.status_code == 201, mine.text
    with database.session() as session:
        watch.add_names(session, brand_id, ["paypal-docs.ai"], origin="phantom")
    removed = listed(client, brand_id, read_headers)[paypal[-1]]["id"]
    assert client.delete(f"{url}/{removed}", headers=write_headers).status_code == 204

    renamed = client.patch(
        f"/v1/brands/{brand_id}", json={"domains": ["stripe.com"]}, headers=admin_headers
    )
    assert renamed.status_code == 200, renamed.text
    with database.session() as session:
        brand = session.get(Brand, brand_id)
        assert brand is not None
        predicted = [c.domain for c in top_candidates(to_spec(brand), 5)]
    stripe = generated_names(database, brand_id, 5)
    assert stripe == predicted
    now = listed(client, brand_id, read_headers)
    # predictions of paypal.com are gone; names a user or the phantom probe added stay
    assert set(now) == {*stripe, "paypal-payouts.net", "paypal-docs.ai"}
    assert {now[n]["origin"] for n in stripe} == {"generated"}
    assert now["paypal-payouts.net"]["origin"] == "user"
    assert now["paypal-docs.ai"]["origin"] == "phantom"

    # an official domain is not watched for registration: it is replaced, the rest stay
    with database.session() as session:
        for name in stripe:
            watch.record_check(session, now[name]["id"], "free", "NXDOMAIN", HOUR)
    official = stripe[0]
    added = client.patch(
        f"/v1/brands/{brand_id}", json={"domains": ["stripe.com", official]}, headers=admin_headers
    )
    assert added.status_code == 200, added.text
    refill = generated_names(database, brand_id, 5)
    assert len(refill) == 1
    assert refill[0] not in stripe
    after = listed(client, brand_id, read_headers)
    assert official not in after
    for name in stripe[1:]:
        assert after[name]["id"] == now[name]["id"]
        assert after[name]["state"] == "free"  # checks of names that stay are kept
        assert after[name]["last_checked_at"] is not None
    assert generated_names(database, brand_id, 5) == []


def test_a_removed_phantom_name_is_neither_added_back_nor_matched(
    client: TestClient,
    database: Database,
    admin_headers: dict[str, str],
    write_headers: dict[str, str],
    read_headers: dict[str, str],
) -> None:
    brand_id = make_brand(client, admin_headers)
    cache = BrandIndexCache()
    with database.session() as session:
        (entry,) = watch.add_names(session, brand_id, ["quickpay-hub.io"], origin="phantom")
        entry_id = entry.id
        assert cache.get(session).index.score("quickpay-hub.io").flagged  # matched in CT, feeds

    url = f"/v1/brands/{brand_id}/watchlist/{entry_id}"
    assert client.delete(url, headers=write_headers).status_code == 204
    assert "quickpay-hub.io" not in listed(client, brand_id, read_headers)
    with database.session() as session:
        # the next probe names it again: it stays removed, and it is no longer matched
        assert watch.add_names(session, brand_id, ["quickpay-hub.io"], origin="phantom") == []
        assert cache.get(session).index.score("quickpay-hub.io").brand is None
    assert "quickpay-hub.io" not in listed(client, brand_id, read_headers)
