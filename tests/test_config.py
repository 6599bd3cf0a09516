"""Settings: where zone versions are kept, and nameservers refused at start when unusable."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from service.config import Settings
from service.sources.dns.resolver import ResolverConfig


def test_the_feeds_state_dir_is_absolute_and_next_to_the_sqlite_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    sqlite = Settings(database_url="sqlite:///./db/pw.db")
    assert sqlite.feeds_state_path == tmp_path / "db" / "feeds"
    postgres = Settings(database_url="postgresql://pw@db.internal/pw")
    assert postgres.feeds_state_path == tmp_path / "data" / "feeds"
    chosen = Settings(database_url="postgresql://pw@db.internal/pw", feeds_state_dir="zones")
    assert chosen.feeds_state_path == tmp_path / "zones"
    with pytest.raises(ValidationError, match="feeds_state_dir"):
        Settings(feeds_state_dir="")


@pytest.mark.parametrize(
    "nameservers", [["9.9.9.9"], ["127.0.0.1:5353", "2001:db8::53"], ["[2001:db8::53]:5353"]]
)
def test_nameservers_the_resolver_accepts_are_accepted(nameservers: list[str]) -> None:
    settings = Settings(dns_nameservers=nameservers)
    assert settings.dns_nameservers == nameservers
    assert len(ResolverConfig(settings.dns_nameservers).servers) == len(nameservers)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('["dns.google"]', "'dns.google': not an IP address"),
        ('["1.1.1.1", "8.8.8.8:0"]', "'8.8.8.8:0': port must be 1-65535"),
        ('["[2001:db8::53"]', "missing ']'"),
    ],
)
def test_a_nameserver_that_is_not_an_address_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, value: str, reason: str
) -> None:
    monkeypatch.setenv("PHANTOMWATCH_DNS_NAMESERVERS", value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    [error] = caught.value.errors()
    assert error["loc"] == ("dns_nameservers",)
    assert reason in error["msg"]


def test_the_cli_names_the_bad_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from service.cli import main

    monkeypatch.setenv("PHANTOMWATCH_DNS_NAMESERVERS", '["dns.google"]')
    assert main(["feeds", "ingest", "absent.txt"]) == 2
    assert "PHANTOMWATCH_DNS_NAMESERVERS: Value error, 'dns.google': not an IP address" in (
        capsys.readouterr().err
    )
