"""Official/allowed/other classification, ranking across samples and models, per-model stats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.sources.phantom.classify import (
    ALLOWED,
    OFFICIAL,
    OTHER,
    DomainClassifier,
    Sample,
    aggregate,
    model_stats,
    rank_score,
)
from service.sources.phantom.prompts import Prompt

LOGIN = Prompt("login", "en", "Where do I log in to Acme?")
DOCS = Prompt("docs", "en", "Where are the Acme docs?")
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_classifier() -> None:
    c = DomainClassifier(["www.acme.com", "acme.de"], allow=["github.com", "apps.apple.com"])
    assert c.classify("acme.com") == OFFICIAL
    assert c.classify("login.acme.com") == OFFICIAL
    assert c.classify("shop.acme.de") == OFFICIAL
    assert c.classify("acme.co.uk") == OTHER
    assert c.classify("login-acme.com") == OTHER
    assert c.classify("acme.com.evil.net") == OTHER
    assert c.classify("github.com") == ALLOWED
    assert c.classify("acme.github.com") == ALLOWED
    assert c.classify("apps.apple.com") == ALLOWED
    assert c.classify("www.apple.com") == OTHER


def _samples() -> list[Sample]:
    """Two models, 3 samples each on login; plus 2 docs samples from model a."""
    out: list[Sample] = []
    texts = {
        "a": [
            "Sign in at login-acme.com or acme.com.",
            "Use https://login-acme.com/.",
            "Go to acme.com/login (mirror: login-acme.com).",
        ],
        "b": [
            "The page is login.login-acme.com.",
            "Log in at acme.com. Try acme-once.net if it fails.",
            "Visit login-acme.com",
        ],
    }
    i = 0
    for model, answers in texts.items():
        for t in answers:
            out.append(Sample(f"ep-{model}", model, LOGIN, t, T0 + timedelta(minutes=i)))
            i += 1
    out.append(Sample("ep-a", "a", DOCS, "Docs: acme-docs.io", T0 + timedelta(minutes=i)))
    out.append(Sample("ep-a", "a", DOCS, "I'm sorry, I can't help.", T0 + timedelta(minutes=i)))
    return out


def test_aggregate_ranks_consistent_multi_model_names_first() -> None:
    cands = aggregate(_samples(), official_domains=["acme.com"], allow=["github.com"])
    by = {c.domain: c for c in cands}
    assert set(by) == {"login-acme.com", "acme-once.net", "acme-docs.io"}
    top = cands[0]
    assert top.domain == "login-acme.com"
    assert top.hosts == {"login-acme.com", "login.login-acme.com"}
    assert top.samples_with == 5
    assert top.count == 5
    assert top.total_samples == 8
    assert top.models == {"a", "b"}
    assert top.intents == {"login"}
    assert top.first_seen == T0
    assert top.consistency == pytest.approx(5 / 8)
    assert top.peak_consistency == pytest.approx(5 / 6)
    assert top.model_share == 1.0
    once = by["acme-once.net"]
    assert once.samples_with == 1
    assert once.models == {"b"}
    assert once.first_seen == T0 + timedelta(minutes=4)
    assert top.rank_score > by["acme-docs.io"].rank_score > once.rank_score
    # acme-docs.io: the only name of 1 of 2 docs answers, from one model of two
    assert by["acme-docs.io"].rank_score == rank_score(1 / 8, 1 / 2, 1 / 2)


def test_rank_score_formula() -> None:
    assert rank_score(1.0, 1.0, 1.0) == 1.0
    assert rank_score(0.5, 1.0, 0.5) == pytest.approx(0.75 * 0.75)
    assert rank_score(0.0, 0.0, 1.0) == 0.0


def test_model_stats() -> None:
    stats = {s.model: s for s in model_stats(_samples(), official_domains=["acme.com"])}
    a, b = stats["a"], stats["b"]
    assert (a.answers, a.answers_with_official, a.answers_with_non_brand_domain) == (5, 2, 4)
    assert a.share_non_brand == pytest.approx(4 / 5)
    assert a.distinct_non_brand == 2
    assert (b.answers, b.answers_with_official, b.answers_with_non_brand_domain) == (3, 1, 3)
    assert b.distinct_non_brand == 2


def test_email_only_candidates_are_marked() -> None:
    s = [Sample("e", "m", LOGIN, "Write to help@acme-mail.net.", T0)]
    (c,) = aggregate(s, official_domains=["acme.com"])
    assert c.email_only
