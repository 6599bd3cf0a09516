"""DNS: lookups with honest states, enrichment and change events, registration, zones, NRD feeds."""

from service.sources.dns.enrich import (
    EVENT_KINDS,
    Enrichment,
    enrich,
    last_known,
    material_changes,
    severity_boost,
)
from service.sources.dns.errors import DnsError, FeedError, ZoneFileError
from service.sources.dns.nrd import BadLine, NrdList, fetch_feed, read_nrd
from service.sources.dns.parking import PARKING_PROVIDERS, parking_provider
from service.sources.dns.registration import registrable_of, registration_state
from service.sources.dns.resolver import Answer, DnsClient, ResolverConfig, State
from service.sources.dns.zonefile import delegations, new_delegations

__all__ = [
    "EVENT_KINDS",
    "PARKING_PROVIDERS",
    "Answer",
    "BadLine",
    "DnsClient",
    "DnsError",
    "Enrichment",
    "FeedError",
    "NrdList",
    "ResolverConfig",
    "State",
    "ZoneFileError",
    "delegations",
    "enrich",
    "fetch_feed",
    "last_known",
    "material_changes",
    "new_delegations",
    "parking_provider",
    "read_nrd",
    "registrable_of",
    "registration_state",
    "severity_boost",
]
