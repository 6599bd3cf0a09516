"""Sort named domains into the brand's own, allowed and the rest; rank the rest across samples."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from service.detection import InvalidDomain, normalize_domain
from service.sources.phantom.extract import Mention, extract_mentions
from service.sources.phantom.prompts import Prompt

__all__ = [
    "ALLOWED",
    "OFFICIAL",
    "OTHER",
    "DomainClassifier",
    "ModelStats",
    "PhantomCandidate",
    "Sample",
    "aggregate",
    "model_stats",
    "rank_score",
]

OFFICIAL: Final = "official"
ALLOWED: Final = "allowed"
OTHER: Final = "hallucinated_or_third_party"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Sample:
    """One answer of one model to one prompt."""

    endpoint: str
    model: str
    prompt: Prompt
    text: str
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class PhantomCandidate:
    """A registrable domain the models named that is neither the brand's nor allowed.

    `count` is the number of (answer, host) mentions, `samples_with` the number
    of answers naming it at least once. See `rank_score` for the ranking.
    """

    domain: str
    hosts: frozenset[str]
    count: int
    samples_with: int
    total_samples: int
    models: frozenset[str]
    intents: frozenset[str]
    languages: frozenset[str]
    first_seen: datetime
    consistency: float  # samples_with / total_samples
    peak_consistency: float  # best share of answers within one intent
    model_share: float  # models naming it / models answering
    rank_score: float
    email_only: bool  # only ever seen as an e-mail domain


@dataclass(frozen=True)
class ModelStats:
    """How often one model sends users to a domain that is not the brand's (or allowed)."""

    model: str
    answers: int
    answers_with_official: int
    answers_with_non_brand_domain: int
    share_non_brand: float
    distinct_non_brand: int


class DomainClassifier:
    """Official: any host under the registrable domain of an official domain.

    Allowed: an allowlist entry or any of its subdomains (`apple.com` allows
    `apps.apple.com`; `apps.apple.com` does not allow `www.apple.com`).
    Everything else is `hallucinated_or_third_party`.
    """

    def __init__(self, official_domains: Iterable[str], allow: Iterable[str] = ()) -> None:
        self.official = frozenset(self._registrable(d) for d in official_domains)
        self.allow = frozenset(normalize_domain(d).ascii for d in allow)

    @staticmethod
    def _registrable(domain: str) -> str:
        name = normalize_domain(domain)
        if name.registrable is None:
            raise InvalidDomain(f"official domain {domain!r} is a public suffix")
        return name.registrable

    def classify(self, host: str) -> str:
        name = normalize_domain(host)
        if name.registrable in self.official:
            return OFFICIAL
        labels = name.labels
        for i in range(len(labels)):
            if ".".join(labels[i:]) in self.allow:
                return ALLOWED
        return OTHER


def rank_score(consistency: float, peak_consistency: float, model_share: float) -> float:
    """(consistency + peak_consistency) / 2 x (0.5 + 0.5 x model_share), in [0, 1].

    Consistency rewards names produced across the whole run; peak consistency
    names one specific question reliably yields (every "careers" answer); the
    model factor halves the score of a name only some of the models produce.
    """
    return round((consistency + peak_consistency) / 2 * (0.5 + 0.5 * model_share), 6)


def _mentions(samples: Sequence[Sample]) -> list[list[Mention]]:
    return [extract_mentions(s.text) for s in samples]


def aggregate(
    samples: Sequence[Sample],
    *,
    official_domains: Iterable[str],
    allow: Iterable[str] = (),
    mentions: Sequence[Sequence[Mention]] | None = None,
) -> list[PhantomCandidate]:
    """Candidates ranked best first (rank_score, then samples_with, count, domain).

    `mentions` (one list per sample, as from `extract_mentions`) saves a second
    extraction when the caller already has them.
    """
    classifier = DomainClassifier(official_domains, allow)
    per_sample = mentions if mentions is not None else _mentions(samples)
    total = len(samples)
    models_all = {s.model for s in samples}
    per_intent_total: dict[str, int] = defaultdict(int)
    for s in samples:
        per_intent_total[s.prompt.intent] += 1

    hosts: dict[str, set[str]] = defaultdict(set)
    count: dict[str, int] = defaultdict(int)
    with_sample: dict[str, int] = defaultdict(int)
    models: dict[str, set[str]] = defaultdict(set)
    intents: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    languages: dict[str, set[str]] = defaultdict(set)
    first: dict[str, datetime] = {}
    non_email: set[str] = set()
    for sample, found in zip(samples, per_sample, strict=True):
        named: set[str] = set()
        for m in found:
            if classifier.classify(m.host) != OTHER:
                continue
            d = m.domain
            hosts[d].add(m.host)
            count[d] += 1
            if not m.email:
                non_email.add(d)
            named.add(d)
        for d in named:
            with_sample[d] += 1
            models[d].add(sample.model)
            intents[d][sample.prompt.intent] += 1
            languages[d].add(sample.prompt.language)
            first[d] = min(first.get(d, sample.at), sample.at)

    out: list[PhantomCandidate] = []
    for d in hosts:
        consistency = with_sample[d] / total
        peak = max(n / per_intent_total[i] for i, n in intents[d].items())
        share = len(models[d]) / len(models_all)
        out.append(
            PhantomCandidate(
                domain=d,
                hosts=frozenset(hosts[d]),
                count=count[d],
                samples_with=with_sample[d],
                total_samples=total,
                models=frozenset(models[d]),
                intents=frozenset(intents[d]),
                languages=frozenset(languages[d]),
                first_seen=first[d],
                consistency=round(consistency, 6),
                peak_consistency=round(peak, 6),
                model_share=round(share, 6),
                rank_score=rank_score(consistency, peak, share),
                email_only=d not in non_email,
            )
        )
    out.sort(key=lambda c: (-c.rank_score, -c.samples_with, -c.count, c.domain))
    return out


def model_stats(
    samples: Sequence[Sample],
    *,
    official_domains: Iterable[str],
    allow: Iterable[str] = (),
    mentions: Sequence[Sequence[Mention]] | None = None,
) -> list[ModelStats]:
    """Per model (merged across endpoints serving the same model), sorted by model name."""
    classifier = DomainClassifier(official_domains, allow)
    per_sample = mentions if mentions is not None else _mentions(samples)
    answers: dict[str, int] = defaultdict(int)
    with_official: dict[str, int] = defaultdict(int)
    with_other: dict[str, int] = defaultdict(int)
    distinct: dict[str, set[str]] = defaultdict(set)
    for sample, found in zip(samples, per_sample, strict=True):
        model = sample.model
        answers[model] += 1
        kinds = [(m.domain, classifier.classify(m.host)) for m in found]
        if any(k == OFFICIAL for _, k in kinds):
            with_official[model] += 1
        others = {d for d, k in kinds if k == OTHER}
        if others:
            with_other[model] += 1
            distinct[model] |= others
    return [
        ModelStats(
            model=model,
            answers=n,
            answers_with_official=with_official[model],
            answers_with_non_brand_domain=with_other[model],
            share_non_brand=round(with_other[model] / n, 6),
            distinct_non_brand=len(distinct[model]),
        )
        for model, n in sorted(answers.items())
    ]
