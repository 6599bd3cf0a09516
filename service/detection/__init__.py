"""Lookalike-domain detection engine: pure functions over names and a per-brand-set index."""

from service.detection.models import (
    DEFAULT_MIN_SCORE,
    SEVERITY_BANDS,
    BrandSpec,
    Reason,
    ScoreResult,
    severity_for,
)
from service.detection.normalize import (
    InvalidDomain,
    NormalizedName,
    normalize_domain,
    refresh_psl,
    registrable_domain,
    skeleton,
)

__all__ = [
    "DEFAULT_MIN_SCORE",
    "SEVERITY_BANDS",
    "BrandSpec",
    "InvalidDomain",
    "NormalizedName",
    "Reason",
    "ScoreResult",
    "normalize_domain",
    "refresh_psl",
    "registrable_domain",
    "severity_for",
    "skeleton",
]

from service.detection.index import DetectionIndex, score_names

__all__ += ["DetectionIndex", "score_names"]
