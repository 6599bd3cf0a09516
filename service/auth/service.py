"""Create, verify, list and revoke API keys. Keys look like `pw_<key id>_<secret>`."""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.auth.models import ApiKey
from service.db import utcnow
from service.errors import NotFound, Unauthorized, ValidationFailed

KEY_PREFIX = "pw_"
# Touching last_used_at on every request would turn each read into a write.
LAST_USED_GRANULARITY = timedelta(minutes=1)


class Scope(enum.StrEnum):
    """What a key may do; each scope includes the ones below it."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


_IMPLIED = {
    Scope.READ: {Scope.READ},
    Scope.WRITE: {Scope.READ, Scope.WRITE},
    Scope.ADMIN: {Scope.READ, Scope.WRITE, Scope.ADMIN},
}


def effective_scopes(scopes: Iterable[str]) -> set[Scope]:
    """The scopes granted, with the ones they imply."""
    granted: set[Scope] = set()
    for name in scopes:
        if name in Scope.__members__.values():
            granted |= _IMPLIED[Scope(name)]
    return granted


def _hash(secret: str) -> str:
    # The secret is 256 random bits, so a plain SHA-256 is not brute-forceable.
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(scopes: Sequence[str]) -> list[str]:
    """Validate scope names, keeping their order and dropping repeats."""
    if not scopes:
        raise ValidationFailed("a key needs at least one scope: read, write or admin")
    out: list[str] = []
    for name in scopes:
        try:
            scope = Scope(name)
        except ValueError:
            raise ValidationFailed(f"unknown scope {name!r}; use read, write or admin") from None
        if scope.value not in out:
            out.append(scope.value)
    return out


def create_key(session: Session, name: str, scopes: Sequence[str]) -> tuple[ApiKey, str]:
    """Store a new key and return it with its plaintext, which is never available again."""
    name = name.strip()
    if not name:
        raise ValidationFailed("a key needs a name")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(name=name, key_id=key_id, secret_hash=_hash(secret), scopes=parse_scopes(scopes))
    session.add(key)
    session.flush()
    return key, f"{KEY_PREFIX}{key_id}_{secret}"


def authenticate(session: Session, presented: str) -> ApiKey:
    """Return the live key matching a presented secret, or raise Unauthorized."""
    if not presented.startswith(KEY_PREFIX) or presented.count("_") < 2:
        raise Unauthorized("malformed API key; expected pw_<id>_<secret>")
    key_id, _, secret = presented[len(KEY_PREFIX) :].partition("_")
    key = session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
    if key is None or not hmac.compare_digest(key.secret_hash, _hash(secret)):
        raise Unauthorized("invalid API key")
    if key.revoked_at is not None:
        raise Unauthorized("this API key was revoked")
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_GRANULARITY:
        key.last_used_at = now
    return key


def list_keys(session: Session, include_revoked: bool = False) -> list[ApiKey]:
    """Keys in creation order."""
    query = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return list(session.scalars(query))


def get_key(session: Session, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key with id {key_id}")
    return key


def revoke_key(session: Session, key_id: int) -> ApiKey:
    """Revoke a key; revoking twice keeps the first revocation time."""
    key = get_key(session, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


def has_live_admin(session: Session) -> bool:
    """Whether any non-revoked key has the admin scope (used to bootstrap the first key)."""
    return any(Scope.ADMIN.value in key.scopes for key in list_keys(session))
