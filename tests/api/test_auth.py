"""Authentication and scopes: 401 for missing/bad/revoked keys, 403 for insufficient scope."""

from __future__ import annotations

from fastapi.testclient import TestClient

from service.db import Database

BRAND = {"name": "Acme", "domains": ["acme.com"]}


def assert_problem(response: object, status: int, slug: str) -> dict[str, object]:
    from httpx import Response

    assert isinstance(response, Response)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert str(body["type"]).endswith("/" + slug)
    assert body["detail"]
    return dict(body)


def test_no_key_is_401_with_challenge(client: TestClient) -> None:
    response = client.get("/v1/alerts")
    body = assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization" in str(body["detail"])


def test_malformed_and_wrong_keys_are_401(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    assert_problem(client.get("/v1/alerts", headers={"X-API-Key": "nonsense"}), 401, "unauthorized")
    good = admin_headers["Authorization"].removeprefix("Bearer ")
    wrong_secret = good[: good.rindex("_") + 1] + "x" * 43
    body = assert_problem(
        client.get("/v1/alerts", headers={"Authorization": f"Bearer {wrong_secret}"}),
        401,
        "unauthorized",
    )
    assert body["detail"] == "invalid API key"


def test_both_header_styles_work(client: TestClient, read_headers: dict[str, str]) -> None:
    key = read_headers["X-API-Key"]
    assert client.get("/v1/alerts", headers={"X-API-Key": key}).status_code == 200
    assert client.get("/v1/alerts", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_scopes_are_enforced(
    client: TestClient,
    read_headers: dict[str, str],
    write_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    assert client.get("/v1/brands", headers=read_headers).status_code == 200
    body = assert_problem(
        client.post("/v1/brands", json=BRAND, headers=read_headers), 403, "forbidden"
    )
    assert "admin" in str(body["detail"])
    assert_problem(client.post("/v1/brands", json=BRAND, headers=write_headers), 403, "forbidden")
    assert_problem(client.get("/v1/keys", headers=write_headers), 403, "forbidden")
    assert client.post("/v1/brands", json=BRAND, headers=admin_headers).status_code == 201
    # admin includes write and read
    assert client.get("/v1/alerts", headers=admin_headers).status_code == 200


def test_key_lifecycle_over_the_api(client: TestClient, admin_headers: dict[str, str]) -> None:
    created = client.post(
        "/v1/keys", json={"name": "siem", "scopes": ["read"]}, headers=admin_headers
    )
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["key"]
    assert secret.startswith("pw_" + body["key_id"] + "_")
    assert client.get("/v1/alerts", headers={"X-API-Key": secret}).status_code == 200

    listed = client.get("/v1/keys", headers=admin_headers).json()
    assert {k["name"] for k in listed} == {"admin-key", "siem"}
    assert all("key" not in k and "secret_hash" not in k for k in listed)

    revoked = client.delete(f"/v1/keys/{body['id']}", headers=admin_headers)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    problem = assert_problem(
        client.get("/v1/alerts", headers={"X-API-Key": secret}), 401, "unauthorized"
    )
    assert "revoked" in str(problem["detail"])
    names = [k["name"] for k in client.get("/v1/keys", headers=admin_headers).json()]
    assert names == ["admin-key"]
    with_revoked = client.get("/v1/keys?include_revoked=true", headers=admin_headers).json()
    assert len(with_revoked) == 2


def test_key_validation(client: TestClient, admin_headers: dict[str, str]) -> None:
    body = assert_problem(
        client.post("/v1/keys", json={"name": "x", "scopes": ["root"]}, headers=admin_headers),
        422,
        "validation",
    )
    assert "scopes" in str(body["detail"])
    assert_problem(client.delete("/v1/keys/9999", headers=admin_headers), 404, "not-found")


def test_last_used_is_recorded(
    client: TestClient, database: Database, read_headers: dict[str, str]
) -> None:
    from service.auth.service import list_keys

    client.get("/v1/alerts", headers=read_headers)
    with database.session() as session:
        (key,) = list_keys(session)
        assert key.last_used_at is not None
