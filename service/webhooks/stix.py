"""STIX 2.1 export: one indicator per lookalike domain, related to the brand it imitates."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import stix2

from service.webhooks.events import utc

# Every id is uuid5 in this namespace, so the same input always exports the same ids.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://phantomwatch.dev/stix")
# created/modified of objects whose input has no timestamps (the producer identity).
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
PRODUCER_NAME = "PhantomWatch"
MALICIOUS_SEVERITIES = frozenset({"high", "critical"})
MALICIOUS_STATUSES = frozenset({"confirmed", "takedown_requested", "resolved"})


def stix_id(kind: str, key: str) -> str:
    """`<kind>--<uuid5>`: deterministic, so re-exports update rather than duplicate objects."""
    return f"{kind}--{uuid.uuid5(NAMESPACE, f'{kind}:{key}')}"


def domain_pattern(domain: str) -> str:
    """`[domain-name:value = '...']` with the STIX string literal escapes."""
    literal = domain.replace("\\", "\\\\").replace("'", "\\'")
    return f"[domain-name:value = '{literal}']"


def _when(value: Any, default: datetime = EPOCH) -> datetime:
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, str) and value:
        return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    return default


def _brand_key(name: str) -> str:
    return name.strip().casefold()


def producer() -> Any:
    """The identity every exported object is `created_by_ref`."""
    return stix2.v21.Identity(
        id=stix_id("identity", "producer"),
        created=EPOCH,
        modified=EPOCH,
        name=PRODUCER_NAME,
        identity_class="system",
        description="PhantomWatch lookalike-domain detection.",
    )


def _brand_identity(name: str, info: Mapping[str, Any], created_by: str) -> Any:
    domains = [str(d) for d in info.get("domains") or []]
    created = _when(info.get("created_at"))
    extra: dict[str, Any] = {}
    if domains:
        extra["description"] = "Brand protected by PhantomWatch; official domains: " + ", ".join(
            sorted(domains)
        )
    return stix2.v21.Identity(
        id=stix_id("identity", f"brand:{_brand_key(name)}"),
        created_by_ref=created_by,
        created=created,
        modified=max(created, _when(info.get("updated_at"), created)),
        name=name,
        identity_class="organization",
        **extra,
    )


def _indicator(domain: str, alerts: list[Mapping[str, Any]], created_by: str) -> Any:
    created = min(_when(a.get("first_seen")) for a in alerts)
    modified = max(
        max(_when(a.get("updated_at"), created), _when(a.get("last_seen"), created)) for a in alerts
    )
    top = max(alerts, key=lambda a: int(a.get("score") or 0))
    statuses = {str(a.get("status", "new")) for a in alerts}
    severity = str(top.get("severity", ""))
    if statuses <= {"false_positive"}:
        kinds = ["benign"]
    elif severity in MALICIOUS_SEVERITIES or statuses & MALICIOUS_STATUSES:
        kinds = ["malicious-activity"]
    else:
        kinds = ["anomalous-activity"]
    techniques = sorted({str(t) for a in alerts for t in a.get("techniques") or []})
    brands = sorted({str(a.get("brand")) for a in alerts})
    unicode = str(top.get("unicode") or domain)
    shown = domain if unicode == domain else f"{unicode} ({domain})"
    return stix2.v21.Indicator(
        id=stix_id("indicator", domain),
        created_by_ref=created_by,
        created=created,
        modified=modified,
        name=domain,
        description=f"Lookalike domain {shown} imitating {', '.join(brands)}.",
        indicator_types=kinds,
        pattern=domain_pattern(domain),
        pattern_type="stix",
        pattern_version="2.1",
        valid_from=created,
        confidence=max(0, min(100, int(top.get("score") or 0))),
        labels=["lookalike-domain", f"severity-{severity or 'unknown'}"]
        + [f"technique-{t}" for t in techniques],
        # An analyst's "false positive" withdraws the indicator (STIX: revoked by its creator).
        revoked=statuses <= {"false_positive"},
        external_references=[
            {"source_name": "phantomwatch", "external_id": f"alert-{a['id']}"}
            for a in sorted(alerts, key=lambda a: int(a["id"]))
            if a.get("id") is not None
        ],
    )


def bundle_objects(
    alerts: Iterable[Mapping[str, Any]], brands: Mapping[Any, Mapping[str, Any]]
) -> list[Any]:
    """The STIX objects of `bundle`, sorted: producer, brands, indicators, relationships."""
    author = producer()
    by_domain: dict[str, list[Mapping[str, Any]]] = {}
    for alert in alerts:
        by_domain.setdefault(str(alert["domain"]).lower(), []).append(alert)
    identities: dict[str, Any] = {}
    indicators: list[Any] = []
    relationships: list[Any] = []
    for domain in sorted(by_domain):
        group = by_domain[domain]
        indicator = _indicator(domain, group, author.id)
        indicators.append(indicator)
        for alert in group:
            name = str(alert.get("brand") or f"brand {alert.get('brand_id')}")
            key = _brand_key(name)
            if key not in identities:
                info = brands.get(name) or brands.get(alert.get("brand_id")) or {}
                identities[key] = _brand_identity(name, info, author.id)
            target = identities[key]
            relationships.append(
                # `indicates` may only point at threat objects (malware, campaign,
                # infrastructure...), and `targets` never starts at an indicator: the
                # brand is the victim, so the generic `related-to` is the honest link.
                stix2.v21.Relationship(
                    id=stix_id("relationship", f"{indicator.id}|related-to|{target.id}"),
                    created_by_ref=author.id,
                    created=indicator.created,
                    modified=indicator.modified,
                    relationship_type="related-to",
                    source_ref=indicator.id,
                    target_ref=target.id,
                    description=f"{domain} imitates the brand {name}.",
                )
            )
    ordered_identities = [identities[k] for k in sorted(identities)]
    unique_relationships = {r.id: r for r in relationships}
    return [
        author,
        *ordered_identities,
        *indicators,
        *(unique_relationships[k] for k in sorted(unique_relationships)),
    ]


def bundle(
    alerts: Iterable[Mapping[str, Any]],
    brands: Mapping[Any, Mapping[str, Any]] | None = None,
    *,
    pretty: bool = False,
) -> str:
    """A STIX 2.1 bundle (JSON text) of `alerts` (AlertOut JSON dicts).

    `brands` (optional) maps a brand name or id to `{"domains", "created_at",
    "updated_at"}` to enrich the brand identities. Same input, same output,
    byte for byte: ids are uuid5 and objects are sorted.
    """
    objects = bundle_objects(alerts, brands or {})
    fingerprint = ",".join(f"{o.id}@{o.modified}" for o in objects)
    result = stix2.v21.Bundle(objects=objects, id=stix_id("bundle", fingerprint))
    text: str = result.serialize(pretty=pretty)
    return text
