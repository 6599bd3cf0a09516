"""Data types shared by the detection engine: brands, reasons, results, severity bands."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_MIN_SCORE",
    "SEVERITY_BANDS",
    "BrandSpec",
    "Reason",
    "ScoreResult",
    "severity_for",
]

DEFAULT_MIN_SCORE = 50
# Lower bound of each band, highest first.
SEVERITY_BANDS: tuple[tuple[int, str], ...] = (
    (90, "critical"),
    (75, "high"),
    (60, "medium"),
    (40, "low"),
    (0, "none"),
)


def severity_for(score: int) -> str:
    """Band of a 0-100 score: none < 40 <= low < 60 <= medium < 75 <= high < 90 <= critical."""
    for floor, name in SEVERITY_BANDS:
        if score >= floor:
            return name
    return "none"


@dataclass(frozen=True)
class BrandSpec:
    """A protected brand: official domains, keywords, allowlist and phantom watchlist."""

    name: str
    domains: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    watchlist: tuple[str, ...] = ()
    min_score: int | None = None


@dataclass(frozen=True)
class Reason:
    """Why a name matched a brand: one technique with its evidence."""

    technique: str
    detail: str
    brand: str
    score: int = 0
    matched: str | None = None
    edits: tuple[str, ...] | None = None
    keyword: str | None = None
    tld_risk: str | None = None

    def to_json(self) -> dict[str, object]:
        """Serialise without None fields."""
        out: dict[str, object] = {
            "technique": self.technique,
            "detail": self.detail,
            "brand": self.brand,
            "score": self.score,
        }
        if self.matched is not None:
            out["matched"] = self.matched
        if self.edits is not None:
            out["edits"] = list(self.edits)
        if self.keyword is not None:
            out["keyword"] = self.keyword
        if self.tld_risk is not None:
            out["tld_risk"] = self.tld_risk
        return out


@dataclass
class ScoreResult:
    """Score of one input name against the brand set (best brand only)."""

    input: str
    domain: str | None
    unicode: str | None
    registrable: str | None
    brand: str | None
    score: int
    severity: str
    flagged: bool
    reasons: list[Reason] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        """The JSON Lines shape of the ``score`` command."""
        if self.error is not None:
            return {"input": self.input, "error": self.error}
        return {
            "input": self.input,
            "domain": self.domain,
            "unicode": self.unicode,
            "registrable": self.registrable,
            "brand": self.brand,
            "score": self.score,
            "severity": self.severity,
            "flagged": self.flagged,
            "reasons": [r.to_json() for r in self.reasons],
        }
