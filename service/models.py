"""Imports every ORM model so Base.metadata is complete (Alembic and tests rely on it)."""

from service.alerts.models import Alert, AlertEvent, AlertTechnique
from service.auth.models import ApiKey
from service.brands.models import Brand
from service.ctlogs.models import CtLog, CtMalformedEntry
from service.db import Base
from service.feeds.models import FeedCursor
from service.phantom.models import PhantomCandidate, PhantomRun
from service.watch.models import DnsSnapshot, WatchEntry
from service.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription

__all__ = [
    "Alert",
    "AlertEvent",
    "AlertTechnique",
    "ApiKey",
    "Base",
    "Brand",
    "CtLog",
    "CtMalformedEntry",
    "DnsSnapshot",
    "FeedCursor",
    "PhantomCandidate",
    "PhantomRun",
    "WatchEntry",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
]
