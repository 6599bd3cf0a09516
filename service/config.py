"""Runtime settings read from the environment (prefix PHANTOMWATCH_) and an optional .env file."""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from service.feeds.spec import FeedSpec

DEFAULT_DATABASE_URL = "sqlite:///./data/phantomwatch.db"
# Local state when the database is not a SQLite file (the directory of the default database).
DEFAULT_DATA_DIR = "data"
SUPPORTED_DRIVERS = ("sqlite", "postgresql")


class ConfigError(Exception):
    """A setting has a value the service cannot run with."""


def normalize_database_url(raw: str) -> URL:
    """Parse a database URL, defaulting PostgreSQL to the psycopg 3 driver.

    Raises ConfigError with a human message for anything we cannot run on.
    """
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        # Never echo the value: it may hold a password.
        raise ConfigError("PHANTOMWATCH_DATABASE_URL is not a database URL") from exc
    backend = url.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend not in SUPPORTED_DRIVERS:
        raise ConfigError(
            f"PHANTOMWATCH_DATABASE_URL uses {backend!r}; supported: sqlite:///PATH or "
            "postgresql://USER@HOST:PORT/DB"
        )
    if backend == "postgresql":
        driver = url.get_driver_name()
        # psycopg2 is not a dependency; a bare postgresql:// means psycopg 3 here.
        if driver in ("", "psycopg2", "postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        elif driver != "psycopg":
            raise ConfigError(f"unsupported PostgreSQL driver {driver!r}; use postgresql+psycopg")
        if not url.database:
            raise ConfigError("PHANTOMWATCH_DATABASE_URL names no database")
    elif url.database in (None, ""):
        raise ConfigError("an in-memory SQLite database would lose everything; give a file path")
    return url


class PhantomEndpointSetting(BaseModel):
    """One OpenAI-compatible endpoint the phantom probe asks (local Ollama/vLLM or hosted)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Label in statistics, e.g. `ollama-llama3`.")
    url: str = Field(description="Base URL of the API, e.g. `http://localhost:11434/v1`.")
    model: str = Field(min_length=1, description="Model name the endpoint serves.")
    api_key_env: str | None = Field(
        None, description="Name of the environment variable holding the API key (never the key)."
    )
    temperature: float = Field(0.7, ge=0, le=2)
    samples: int = Field(3, ge=1, le=20, description="Answers per prompt.")
    requests_per_minute: float = Field(30, gt=0)
    timeout: float = Field(60, gt=0)


DEFAULT_PHANTOM_IGNORE = [
    "apple.com",
    "google.com",
    "github.com",
    "microsoft.com",
    "wikipedia.org",
    "youtube.com",
    "linkedin.com",
    "twitter.com",
    "x.com",
    "facebook.com",
    "instagram.com",
    "reddit.com",
    "medium.com",
    "stackoverflow.com",
    "statuspage.io",
    "zendesk.com",
    "npmjs.com",
    "pypi.org",
]


class Settings(BaseSettings):
    """Every option of the service; each maps to PHANTOMWATCH_<NAME>."""

    model_config = SettingsConfigDict(
        env_prefix="PHANTOMWATCH_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: sqlite:///PATH (WAL mode) or postgresql://USER@HOST/DB.",
    )
    host: str = Field("127.0.0.1", description="Address the HTTP API listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the HTTP API listens on.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level of the service."
    )
    db_pool_size: int = Field(
        10,
        ge=1,
        le=100,
        description="PostgreSQL connections per process (plus twice as many "
        "overflow): API threads and scheduler jobs share them.",
    )
    page_size_default: int = Field(50, ge=1, le=1000, description="Default page size of lists.")
    page_size_max: int = Field(500, ge=1, le=10000, description="Largest page size allowed.")
    scheduler_enabled: bool = Field(
        True, description="Run scheduled jobs in `serve` (ignored by `api`, forced by `worker`)."
    )
    metrics_enabled: bool = Field(True, description="Expose Prometheus metrics on /metrics.")

    ct_log_list: str | None = Field(
        None,
        description="CT log list (Chrome v3 format): a file path or http(s) URL. Unset: "
        "Certificate Transparency ingestion is off.",
    )
    ct_log_list_refresh: float = Field(
        3600, gt=0, description="Seconds between re-reads of the CT log list."
    )
    ct_poll_interval: float = Field(30, gt=0, description="Seconds between CT polls.")
    ct_batch_size: int = Field(
        1024, ge=1, le=100_000, description="CT entries fetched and committed per batch."
    )
    ct_max_batches_per_poll: int = Field(
        50, ge=1, description="Batches read from one log per poll before yielding to the others."
    )
    ct_backfill: int = Field(
        0, ge=0, description="A newly seen log starts this many entries before its head."
    )
    ct_partial_tile_wait: float = Field(
        300, ge=0, description="Seconds a static-ct-api partial tile must age before it is read."
    )
    ct_contact_url: str = Field(
        "https://phantomwatch.dev/ct-monitor",
        description="Contact URL sent in the CT User-Agent (logs throttle anonymous clients).",
    )
    ct_global_concurrency: int = Field(
        32, ge=1, description="Concurrent CT requests across all logs."
    )
    ct_per_log_concurrency: int = Field(4, ge=1, description="Concurrent requests to one log.")

    dns_enabled: bool = Field(
        True, description="Enrich alerts with DNS and watch predicted lookalikes for registration."
    )
    dns_nameservers: list[str] = Field(
        default_factory=list,
        description="Resolvers as IP or IP:PORT (JSON list); empty: those of /etc/resolv.conf.",
    )
    dns_timeout: float = Field(2.0, gt=0, description="Seconds to wait for one DNS answer.")
    dns_retries: int = Field(2, ge=0, description="Extra attempts after an unknown answer.")
    dns_concurrency: int = Field(64, ge=1, description="DNS queries in flight at once.")
    dns_rate: float = Field(200, gt=0, description="DNS queries sent per second, at most.")
    dns_recheck_interval: float = Field(
        86400, gt=0, description="Seconds between DNS re-checks of an alerted domain."
    )
    dns_watch_interval: float = Field(
        21600, gt=0, description="Seconds between registration checks of a watched name."
    )
    dns_watch_per_brand: int = Field(
        50, ge=0, description="Predicted lookalikes watched per brand (plus user-added names)."
    )
    dns_batch: int = Field(500, ge=1, description="Names checked per DNS job run.")

    feeds: list[str] = Field(
        default_factory=list,
        description='Domain feeds (JSON list) as "nrd:PATH_OR_URL" (one domain per line, '
        '.gz accepted) or "zone:PATH" (RFC 1035 zone file; new delegations are scored).',
    )
    feeds_interval: float = Field(3600, gt=0, description="Seconds between feed polls.")
    feeds_processes: int = Field(
        default_factory=lambda: min(4, os.cpu_count() or 1),
        ge=1,
        le=64,
        description="Processes scoring a large feed (default: the cores, at most 4).",
    )
    feeds_state_dir: str | None = Field(
        None,
        min_length=1,
        description="Directory keeping the previous version of each zone feed (to diff the "
        "next one against); relative paths are taken from the working directory at start. "
        "Unset: `feeds` next to the SQLite database file, or `./data/feeds` with PostgreSQL.",
    )

    webhook_poll_interval: float = Field(
        1.0, gt=0, description="Seconds between rounds of the webhook delivery worker."
    )
    webhook_timeout: float = Field(10.0, gt=0, description="Seconds for one delivery attempt.")
    webhook_max_age: float = Field(
        86400, gt=0, description="Seconds an event keeps being retried before it is dead-lettered."
    )
    webhook_backoff_max: float = Field(
        3600, gt=0, description="Longest wait between two attempts of one delivery (seconds)."
    )
    webhook_pause_after: int = Field(
        50, ge=1, description="Consecutive failures after which a subscription is paused."
    )
    webhook_concurrency: int = Field(
        16, ge=1, description="Subscriptions one worker delivers to at the same time."
    )
    webhook_allow_private: list[str] = Field(
        default_factory=list,
        description='Private networks webhooks may reach (JSON list of CIDRs, or ["all"]); by '
        "default loopback, private and link-local targets are refused.",
    )
    phantom_endpoints: list[PhantomEndpointSetting] = Field(
        default_factory=list,
        description="LLM endpoints to probe (JSON list of {name, url, model, api_key_env, "
        "temperature, samples, requests_per_minute, timeout}); empty: phantom discovery off.",
    )
    phantom_budget: int = Field(
        300, ge=1, description="Most LLM requests one probe of one brand may make."
    )
    phantom_interval: float = Field(
        7 * 86400, gt=0, description="Seconds between scheduled probes of each brand."
    )
    phantom_watch_top: int = Field(
        25, ge=0, description="Best-ranked hallucinated names per brand put on the watch list."
    )
    phantom_ignore: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PHANTOM_IGNORE),
        description="Third-party platforms answers often name (app stores, code hosts, "
        "social networks): never counted as hallucinations.",
    )
    webhook_syslog_ca_file: str | None = Field(
        None, description="CA bundle to verify tls:// syslog receivers (default: system CAs)."
    )

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        try:
            normalize_database_url(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("webhook_allow_private")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        for text in value:
            if text == "all":
                continue
            try:
                ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise ValueError(f'{text!r} is not a CIDR network (or "all")') from None
        return value

    @field_validator("dns_nameservers")
    @classmethod
    def _check_nameservers(cls, value: list[str]) -> list[str]:
        # Imported here: the resolver pulls in dnspython, which most commands never need,
        # and the settings must accept exactly what the resolver will parse.
        from service.sources.dns.resolver import parse_nameserver

        for text in value:
            try:
                parse_nameserver(text)
            except ValueError as exc:
                raise ValueError(f"{exc} (write IP, IP:PORT or [IPv6]:PORT)") from None
        return value

    @field_validator("feeds")
    @classmethod
    def _check_feeds(cls, value: list[str]) -> list[str]:
        for text in value:
            FeedSpec.parse(text)
        return value

    @property
    def sqlalchemy_url(self) -> URL:
        """The database URL with the driver the service uses."""
        return normalize_database_url(self.database_url)

    @property
    def feeds_state_path(self) -> Path:
        """The absolute directory of the kept zone versions (relative: from the working dir now).

        Every process (worker, `feeds ingest`) must find the files another one kept,
        wherever it was started: the path is resolved once and stored absolute.
        """
        if self.feeds_state_dir is not None:
            return Path(self.feeds_state_dir).expanduser().resolve()
        url = self.sqlalchemy_url
        if url.get_backend_name() == "sqlite" and url.database:
            return Path(url.database).expanduser().resolve().parent / "feeds"
        return Path(DEFAULT_DATA_DIR).resolve() / "feeds"


def describe_invalid(exc: ValidationError) -> str:
    """One line naming each bad `PHANTOMWATCH_*` setting, for a command's error message."""
    problems = [
        f"PHANTOMWATCH_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
    ]
    return "invalid configuration: " + "; ".join(problems)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process, read once."""
    return Settings()
