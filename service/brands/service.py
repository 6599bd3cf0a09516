"""Brand rules: domain validation, defaults, soft deletion, import and export."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.brands.models import Brand
from service.brands.schemas import BrandCreate, BrandsDocument, BrandUpdate, ImportResult
from service.db import utcnow
from service.detection import BrandSpec, InvalidDomain, normalize_domain, registrable_domain
from service.errors import Conflict, NotFound, ValidationFailed
from service.pagination import decode_cursor, encode_cursor


class _Problems:
    """Collects per-field validation messages so one response names every bad value."""

    def __init__(self) -> None:
        self.errors: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.errors.append({"field": field, "message": message})

    def raise_if_any(self) -> None:
        if self.errors:
            detail = "; ".join(f"{e['field']}: {e['message']}" for e in self.errors)
            raise ValidationFailed(detail, errors=self.errors)


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def clean_domains(domains: Sequence[str], problems: _Problems) -> list[str]:
    """Official domains must be registrable domains themselves, not hosts under one."""
    out: list[str] = []
    for i, raw in enumerate(domains):
        try:
            registrable = registrable_domain(raw)
            ascii_name = normalize_domain(raw).ascii
        except InvalidDomain as exc:
            problems.add(f"domains[{i}]", f"{raw!r}: {exc}")
            continue
        if ascii_name != registrable:
            problems.add(
                f"domains[{i}]",
                f"{raw!r} is not a registrable domain (did you mean {registrable!r}?)",
            )
            continue
        out.append(registrable)
    return _unique(out)


def clean_allow(allow: Sequence[str], problems: _Problems) -> list[str]:
    """Allowlist entries are domains or suffixes (`*.x.com` and `.x.com` mean x.com and below)."""
    out: list[str] = []
    for i, raw in enumerate(allow):
        text = raw.strip().removeprefix("*.").removeprefix(".")
        try:
            out.append(normalize_domain(text).ascii)
        except InvalidDomain as exc:
            problems.add(f"allow[{i}]", f"{raw!r}: {exc}")
    return _unique(out)


def clean_keywords(
    keywords: Sequence[str], domains: Sequence[str], problems: _Problems
) -> list[str]:
    """Lowercased brand tokens; by default the first label of each official domain."""
    out: list[str] = []
    for i, raw in enumerate(keywords):
        token = raw.strip().lower()
        if len(token) < 2 or any(ch in token for ch in " ./"):
            problems.add(f"keywords[{i}]", f"{raw!r} must be one word of 2 or more characters")
            continue
        out.append(token)
    if not out:
        out = [normalize_domain(d).labels[0] for d in domains]
    return _unique(out)


def _clean(data: BrandCreate) -> dict[str, Any]:
    problems = _Problems()
    name = data.name.strip()
    if not name:
        problems.add("name", "must not be blank")
    domains = clean_domains(data.domains, problems)
    allow = clean_allow(data.allow, problems)
    problems.raise_if_any()
    keywords = clean_keywords(data.keywords, domains, problems)
    problems.raise_if_any()
    return {
        "name": name,
        "domains": domains,
        "keywords": keywords,
        "allow": allow,
        "alert_threshold": data.alert_threshold,
        "enabled": data.enabled,
    }


def _live(session: Session, brand_id: int) -> Brand:
    brand = session.get(Brand, brand_id)
    if brand is None or brand.deleted_at is not None:
        raise NotFound(f"no brand with id {brand_id}")
    return brand


def _by_name(session: Session, name: str) -> Brand | None:
    return session.scalar(select(Brand).where(Brand.name == name, Brand.deleted_at.is_(None)))


def _check_name_free(session: Session, name: str, brand_id: int | None = None) -> None:
    existing = _by_name(session, name)
    if existing is not None and existing.id != brand_id:
        raise Conflict(f"a brand named {name!r} already exists (id {existing.id})")


def create_brand(session: Session, data: BrandCreate) -> Brand:
    fields = _clean(data)
    _check_name_free(session, fields["name"])
    brand = Brand(**fields)
    session.add(brand)
    session.flush()
    return brand


def get_brand(session: Session, brand_id: int) -> Brand:
    return _live(session, brand_id)


def list_brands(
    session: Session, limit: int, cursor: str | None = None, enabled: bool | None = None
) -> tuple[list[Brand], str | None]:
    """Brands by id, one page at a time."""
    query = select(Brand).where(Brand.deleted_at.is_(None)).order_by(Brand.id).limit(limit + 1)
    if cursor:
        (after,) = decode_cursor(cursor, 1)
        query = query.where(Brand.id > int(after))
    if enabled is not None:
        query = query.where(Brand.enabled.is_(enabled))
    rows = list(session.scalars(query))
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def update_brand(session: Session, brand_id: int, changes: BrandUpdate) -> Brand:
    brand = _live(session, brand_id)
    current = BrandCreate(
        name=brand.name,
        domains=brand.domains,
        keywords=brand.keywords,
        allow=brand.allow,
        alert_threshold=brand.alert_threshold,
        enabled=brand.enabled,
    )
    given = changes.model_dump(exclude_unset=True)
    if "domains" in given and "keywords" not in given:
        # Derived keywords follow the domains; explicit ones stay.
        derived = clean_keywords([], brand.domains, _Problems())
        if brand.keywords == derived:
            given["keywords"] = []
    fields = _clean(current.model_copy(update=given))
    if fields["name"] != brand.name:
        _check_name_free(session, fields["name"], brand.id)
    for key, value in fields.items():
        setattr(brand, key, value)
    brand.updated_at = utcnow()
    session.flush()
    return brand


def delete_brand(session: Session, brand_id: int) -> None:
    """Soft delete: the brand stops being scored and listed, its alerts stay."""
    brand = _live(session, brand_id)
    brand.deleted_at = utcnow()
    brand.enabled = False


def import_brands(session: Session, document: BrandsDocument) -> ImportResult:
    """Create brands that do not exist and replace those that do, matched by name."""
    result = ImportResult(created=[], updated=[])
    seen: set[str] = set()
    for i, item in enumerate(document.brands):
        name = item.name.strip()
        if name in seen:
            raise ValidationFailed(f"brands[{i}]: {name!r} appears twice in the file")
        seen.add(name)
        try:
            existing = _by_name(session, name)
            if existing is None:
                create_brand(session, item)
                result.created.append(name)
            else:
                update_brand(session, existing.id, BrandUpdate(**item.model_dump()))
                result.updated.append(name)
        except ValidationFailed as exc:
            raise ValidationFailed(f"brands[{i}] ({name}): {exc.detail}", **exc.extra) from exc
    return result


def export_brands(session: Session) -> BrandsDocument:
    brands = session.scalars(select(Brand).where(Brand.deleted_at.is_(None)).order_by(Brand.id))
    return BrandsDocument(
        brands=[
            BrandCreate(
                name=b.name,
                domains=b.domains,
                keywords=b.keywords,
                allow=b.allow,
                alert_threshold=b.alert_threshold,
                enabled=b.enabled,
            )
            for b in brands
        ]
    )


def to_spec(brand: Brand, watchlist: Sequence[str] = ()) -> BrandSpec:
    """The detection engine's view of a brand (`watchlist`: its phantom names)."""
    return BrandSpec(
        name=brand.name,
        domains=tuple(brand.domains),
        keywords=tuple(brand.keywords),
        allow=tuple(brand.allow),
        watchlist=tuple(watchlist),
        min_score=brand.alert_threshold,
    )
