"""Imports every ORM model so Base.metadata is complete (Alembic and tests rely on it)."""

from service.alerts.models import Alert, AlertEvent, AlertTechnique
from service.auth.models import ApiKey
from service.brands.models import Brand
from service.ctlogs.models import CtLog, CtMalformedEntry
from service.db import Base

__all__ = [
    "Alert",
    "AlertEvent",
    "AlertTechnique",
    "ApiKey",
    "Base",
    "Brand",
    "CtLog",
    "CtMalformedEntry",
]
