"""The `phantomwatch` command: migrate, refusal on bad config, keys, brands, and a real server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from service.cli import main


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("PHANTOMWATCH_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    return {**os.environ, "PHANTOMWATCH_DATABASE_URL": url}


def test_bad_database_url_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PHANTOMWATCH_DATABASE_URL", "mysql://x@y/z")
    assert main(["keys", "list"]) == 2
    err = capsys.readouterr().err
    assert "PHANTOMWATCH_DATABASE_URL" in err
    assert "supported" in err


def test_unmigrated_database_is_refused(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "list"]) == 1
    assert "run `phantomwatch migrate` first" in capsys.readouterr().err


def test_keys_and_brands_commands(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    assert "database at revision" in capsys.readouterr().err

    assert main(["keys", "bootstrap"]) == 0
    assert "pw_" in capsys.readouterr().err
    assert main(["keys", "bootstrap"]) == 0
    assert "already exists" in capsys.readouterr().err

    assert main(["keys", "create", "--name", "siem", "--scope", "read"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["key"].startswith("pw_")
    assert created["scopes"] == ["read"]
    assert main(["keys", "revoke", str(created["id"])]) == 0
    capsys.readouterr()
    assert main(["keys", "list"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [k["name"] for k in listed] == ["bootstrap-admin"]
    assert all("key" not in k for k in listed)

    brands = tmp_path / "brands.yaml"
    brands.write_text("brands:\n  - name: Acme\n    domains: [acme.com]\n")
    assert main(["brands", "import", str(brands)]) == 0
    assert json.loads(capsys.readouterr().out) == {"created": ["Acme"], "updated": []}
    assert main(["brands", "export", "--format", "json"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["brands"][0]["domains"] == ["acme.com"]

    brands.write_text("brands:\n  - name: Bad\n    domains: [co.uk]\n")
    assert main(["brands", "import", str(brands)]) == 2
    assert "public suffix" in capsys.readouterr().err
    assert main(["brands", "import", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_runs_a_real_http_server(env: dict[str, str]) -> None:
    """What `make run` does: migrate, bootstrap a key, serve; then use the API over TCP."""
    run = [sys.executable, "-m", "service"]
    subprocess.run([*run, "migrate"], env=env, check=True, capture_output=True)
    boot = subprocess.run(
        [*run, "keys", "bootstrap"], env=env, check=True, capture_output=True, text=True
    )
    key = next(w for w in boot.stderr.split() if w.startswith("pw_"))
    port = _free_port()
    server = subprocess.Popen(
        [*run, "serve"],
        env={**env, "PHANTOMWATCH_PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "server exited early"
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.2)
        headers = {"Authorization": f"Bearer {key}"}
        created = httpx.post(
            f"{base}/v1/brands", headers=headers, json={"name": "PayPal", "domains": ["paypal.com"]}
        )
        assert created.status_code == 201, created.text
        alerts = httpx.get(f"{base}/v1/alerts", headers=headers)
        assert alerts.json() == {"items": [], "next_cursor": None}
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    # uvicorn re-raises SIGTERM after a graceful shutdown
    assert server.returncode in (0, -15), output
    assert "Application shutdown complete" in output


def test_serve_refuses_an_unmigrated_database(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "never migrated" in result.stderr


def test_migrate_creates_the_directory_of_a_new_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `make run` does on a fresh clone: ./data/ does not exist yet."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PHANTOMWATCH_DATABASE_URL", raising=False)
    assert main(["migrate"]) == 0
    assert (tmp_path / "data" / "phantomwatch.db").is_file()
    assert "database at revision" in capsys.readouterr().err
