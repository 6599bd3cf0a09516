"""Brand CRUD, validation that names each bad domain, soft deletion, import and export."""

from __future__ import annotations

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.api.test_auth import assert_problem


def create(client: TestClient, headers: dict[str, str], **fields: object) -> dict[str, object]:
    body = {"name": "PayPal", "domains": ["paypal.com"], **fields}
    response = client.post("/v1/brands", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_normalizes_and_defaults_keywords(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    brand = create(
        client,
        admin_headers,
        domains=["PayPal.COM.", "paypal.co.uk"],
        allow=["*.paypal-partner.net"],
    )
    assert brand["domains"] == ["paypal.com", "paypal.co.uk"]
    assert brand["keywords"] == ["paypal"]
    assert brand["allow"] == ["paypal-partner.net"]
    assert brand["enabled"] is True
    fetched = client.get(f"/v1/brands/{brand['id']}", headers=admin_headers).json()
    assert fetched == brand


def test_idn_domain_is_stored_as_a_label(client: TestClient, admin_headers: dict[str, str]) -> None:
    brand = create(client, admin_headers, name="Bücher", domains=["bücher.de"])
    assert brand["domains"] == ["xn--bcher-kva.de"]


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("co.uk", "public suffix"),
        ("www.paypal.com", "did you mean 'paypal.com'"),
        ("xn--zz.com", "IDNA"),
        ("", ""),
        ("not a domain", ""),
    ],
)
def test_invalid_domains_are_named_with_the_reason(
    client: TestClient, admin_headers: dict[str, str], domain: str, expected: str
) -> None:
    response = client.post(
        "/v1/brands", json={"name": "X", "domains": ["ok.com", domain]}, headers=admin_headers
    )
    body = assert_problem(response, 422, "validation")
    errors = body["errors"]
    assert isinstance(errors, list)
    assert errors[0]["field"] == "domains[1]"
    assert expected.lower() in errors[0]["message"].lower()


def test_name_conflicts_and_missing_ids(client: TestClient, admin_headers: dict[str, str]) -> None:
    first = create(client, admin_headers)
    body = assert_problem(
        client.post(
            "/v1/brands", json={"name": "PayPal", "domains": ["p.com"]}, headers=admin_headers
        ),
        409,
        "conflict",
    )
    assert f"id {first['id']}" in str(body["detail"])
    assert_problem(client.get("/v1/brands/999", headers=admin_headers), 404, "not-found")
    assert_problem(client.patch("/v1/brands/999", json={}, headers=admin_headers), 404, "not-found")
    assert_problem(
        client.post("/v1/brands", json={"name": "Y", "domains": []}, headers=admin_headers),
        422,
        "validation",
    )
    assert_problem(
        client.post(
            "/v1/brands",
            json={"name": "Y", "domains": ["y.com"], "colour": "red"},
            headers=admin_headers,
        ),
        422,
        "validation",
    )


def test_update_changes_only_given_fields(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    brand = create(client, admin_headers)
    url = f"/v1/brands/{brand['id']}"
    changed = client.patch(url, json={"alert_threshold": 70}, headers=admin_headers).json()
    assert changed["alert_threshold"] == 70
    assert changed["domains"] == ["paypal.com"]
    # derived keywords follow new domains
    changed = client.patch(url, json={"domains": ["venmo.com"]}, headers=admin_headers).json()
    assert changed["keywords"] == ["venmo"]
    changed = client.patch(url, json={"keywords": ["pp"]}, headers=admin_headers).json()
    assert changed["keywords"] == ["pp"]
    changed = client.patch(url, json={"domains": ["paypal.com"]}, headers=admin_headers).json()
    assert changed["keywords"] == ["pp"]
    assert_problem(
        client.patch(url, json={"domains": ["com"]}, headers=admin_headers), 422, "validation"
    )


def test_soft_delete_hides_and_frees_the_name(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    brand = create(client, admin_headers)
    assert client.delete(f"/v1/brands/{brand['id']}", headers=admin_headers).status_code == 204
    assert_problem(client.get(f"/v1/brands/{brand['id']}", headers=admin_headers), 404, "not-found")
    assert client.get("/v1/brands", headers=admin_headers).json()["items"] == []
    again = create(client, admin_headers)
    assert again["id"] != brand["id"]


def test_list_pages_by_cursor(client: TestClient, admin_headers: dict[str, str]) -> None:
    for i in range(5):
        create(client, admin_headers, name=f"B{i}", domains=[f"brand{i}.com"])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/brands", params=params, headers=admin_headers).json()
        seen += [b["name"] for b in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"B{i}" for i in range(5)]
    assert_problem(
        client.get("/v1/brands?cursor=garbage!", headers=admin_headers), 400, "bad-request"
    )


def test_import_yaml_then_export_round_trips(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    create(client, admin_headers, name="PayPal", domains=["paypal.com"], keywords=["paypal"])
    document = (
        "brands:\n"
        "  - name: PayPal\n    domains: [paypal.com, paypal.me]\n"
        "  - name: Acme\n    domains: [acme.com]\n    keywords: [acme, acmecorp]\n"
        "    allow: [acme-partner.org]\n"
    )
    response = client.post(
        "/v1/brands/import",
        content=document,
        headers={**admin_headers, "Content-Type": "application/yaml"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"created": ["Acme"], "updated": ["PayPal"]}

    exported = client.get("/v1/brands/export", headers=admin_headers)
    assert exported.headers["content-type"].startswith("application/yaml")
    data = yaml.safe_load(exported.text)
    by_name = {b["name"]: b for b in data["brands"]}
    assert by_name["PayPal"]["domains"] == ["paypal.com", "paypal.me"]
    assert by_name["Acme"]["keywords"] == ["acme", "acmecorp"]
    assert by_name["Acme"]["allow"] == ["acme-partner.org"]

    as_json = client.get("/v1/brands/export?format=json", headers=admin_headers).json()
    again = client.post("/v1/brands/import", json=as_json, headers=admin_headers).json()
    assert sorted(again["updated"]) == ["Acme", "PayPal"]


def test_import_is_all_or_nothing(client: TestClient, admin_headers: dict[str, str]) -> None:
    document = {
        "brands": [{"name": "Good", "domains": ["good.com"]}, {"name": "Bad", "domains": ["co.uk"]}]
    }
    body = assert_problem(
        client.post("/v1/brands/import", json=document, headers=admin_headers), 422, "validation"
    )
    assert "brands[1]" in str(body["detail"])
    assert "public suffix" in str(body["detail"])
    assert client.get("/v1/brands", headers=admin_headers).json()["items"] == []
    assert_problem(
        client.post("/v1/brands/import", content=b"brands: [", headers=admin_headers),
        422,
        "validation",
    )


def test_patch_rejects_nulls_but_can_clear_the_threshold(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    brand = create(client, admin_headers, alert_threshold=70)
    url = f"/v1/brands/{brand['id']}"
    for field in ("name", "domains", "enabled"):
        body = assert_problem(
            client.patch(url, json={field: None}, headers=admin_headers), 422, "validation"
        )
        assert "cannot be null" in str(body["detail"])
    cleared = client.patch(url, json={"alert_threshold": None}, headers=admin_headers)
    assert cleared.json()["alert_threshold"] is None
