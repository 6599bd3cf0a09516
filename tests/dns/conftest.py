"""Fixtures of the DNS tests: one knotd for the session, a silent UDP port, the reference data."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from service.brands.schemas import BrandCreate
from service.brands.service import create_brand
from service.config import Settings
from service.db import Database
from service.ingest.dns_jobs import DnsJobs
from service.sources.dns.resolver import DnsClient, ResolverConfig
from service.webhooks.delivery import DeliveryConfig, DeliveryWorker, Senders
from service.webhooks.schemas import WebhookCreate
from service.webhooks.service import create as subscribe
from tests.dns.server import KnotServer
from tests.webhooks.receivers import HttpReceiver

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"

T = TypeVar("T")

# The fake TLD "test." delegates to child zones the same server serves, to names
# it does not serve (a referral), and holds one plain record.
TEST_TLD = """
ns1 A 127.0.0.1
example-lookalike NS ns1.example-lookalike.test.
wild NS ns1.wild.test.
parked NS ns1.sedoparking.com.
changing NS ns1.changing.test.
elsewhere NS ns1.elsewhere.example.
elsewhere NS ns2.elsewhere.example.
parked-deleg NS ns1.bodis.com.
plain A 192.0.2.99
"""

ZONES: dict[str, str | None] = {
    "test.": TEST_TLD,
    "example-lookalike.test.": """
@ A 192.0.2.1
@ AAAA 2001:db8::1
@ MX 10 mail
@ TXT "v=spf1 ip4:192.0.2.0/24" " -all"
@ TXT "google-site-verification=abc"
_dmarc TXT "v=DMARC1; p=none"
www CNAME @
mail A 192.0.2.2
mxonly MX 10 mail
""",
    "wild.test.": """
@ A 192.0.2.3
* A 192.0.2.3
""",
    "parked.test.": """
@ NS ns1.sedoparking.com.
@ NS ns2.sedoparking.com.
@ A 192.0.2.4
""",
    "changing.test.": "@ A 192.0.2.50\n",
    # A multi-label public suffix: registrations sit under co.uk, never at it.
    "co.uk.": """
ns1 A 127.0.0.1
taken NS ns1.taken.example.
""",
    # A fake TLD the registration test changes.
    "regtest.": "ns1 A 127.0.0.1\n",
    # Configured with a file knot cannot load: it answers SERVFAIL for the zone.
    "broken.": None,
}


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


@pytest.fixture(scope="session")
def knot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnotServer]:
    server = KnotServer(tmp_path_factory.mktemp("knot"), ZONES)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def config(knot: KnotServer) -> ResolverConfig:
    return ResolverConfig([f"127.0.0.1:{knot.port}"], timeout=1.0, retries=0, rate_per_second=None)


@pytest.fixture
def client(config: ResolverConfig) -> DnsClient:
    return DnsClient(config)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A UDP port on 127.0.0.1 that receives queries and never answers (a timeout)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def shared_data(relative: str) -> Path:
    """A file of ../shared/data, or skip: a fresh clone has no ../shared."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"reference data {relative} is absent (../shared/data is not in a clone)")
    return path


@pytest.fixture
def jobs(settings: Settings, database: Database, knot: KnotServer) -> DnsJobs:
    """The DNS jobs of a worker whose resolver is the test knot server (fast, no retries)."""
    local = settings.model_copy(
        update={
            "dns_nameservers": [f"127.0.0.1:{knot.port}"],
            "dns_timeout": 1.0,
            "dns_retries": 0,
            "dns_rate": 10_000,
            "webhook_allow_private": ["127.0.0.0/8"],
        }
    )
    return DnsJobs(local, database)


@pytest.fixture
def brand_id(database: Database) -> int:
    """A brand PayPal (paypal.com)."""
    with database.session() as session:
        return create_brand(session, BrandCreate(name="PayPal", domains=["paypal.com"])).id


class Soc:
    """A SIEM's webhook receiver, subscribed to every alert event, on a real socket."""

    def __init__(self, receiver: HttpReceiver, jobs: DnsJobs, database: Database) -> None:
        self.receiver, self.jobs, self.database = receiver, jobs, database

    def deliver(self) -> None:
        """One round of the webhook delivery worker."""

        async def once() -> None:
            senders = Senders(self.jobs.settings)
            try:
                await DeliveryWorker(self.database, senders, DeliveryConfig()).run_once()
            finally:
                await senders.aclose()

        asyncio.run(once())


@pytest.fixture
def soc(jobs: DnsJobs, database: Database) -> Iterator[Soc]:
    receiver = HttpReceiver()
    url = receiver.start()
    try:
        with database.session() as session:
            _, secret = subscribe(session, WebhookCreate(name="soc", target=url))
        receiver.secrets = [str(secret)]
        yield Soc(receiver, jobs, database)
    finally:
        receiver.stop()
