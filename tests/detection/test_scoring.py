"""Scoring: one table per technique family, own domains, allowlists, short brands, batch."""

from __future__ import annotations

import pytest

from service.detection import (
    DEFAULT_MIN_SCORE,
    BrandSpec,
    DetectionIndex,
    InvalidDomain,
    ScoreResult,
    score_names,
    severity_for,
)
from service.detection.techniques.typo import classify_edit

BRANDS = [
    BrandSpec("PayPal", ("paypal.com",), allow=("paypal-community.com", "paypalobjects.com")),
    BrandSpec("Microsoft", ("microsoft.com",), keywords=("microsoft", "office365")),
    BrandSpec("Apple", ("apple.com",)),
    BrandSpec("Google", ("google.com",)),
    BrandSpec("DHL", ("dhl.com",)),
    BrandSpec("BBC", ("bbc.co.uk",)),
    BrandSpec("Stripe", ("stripe.com",), watchlist=("stripe-payments-api.com",)),
    BrandSpec("LinkedIn", ("linkedin.com",)),
    BrandSpec("Bet-at-home", ("bet-at-home.com",)),
    BrandSpec("Wells Fargo", ("wellsfargo.com",)),
]


@pytest.fixture(scope="module")
def index() -> DetectionIndex:
    return DetectionIndex.build(BRANDS)


def _check(
    index: DetectionIndex, name: str, brand: str, technique: str, min_score: int
) -> ScoreResult:
    res = index.score(name)
    assert res.error is None
    assert res.brand == brand, (name, res.to_json())
    assert res.score >= min_score, (name, res.to_json())
    assert technique in {r.technique for r in res.reasons}, (name, res.to_json())
    return res


@pytest.mark.parametrize(
    ("name", "brand", "technique", "min_score"),
    [
        ("paypl.com", "PayPal", "omission", 75),
        ("paypall.com", "PayPal", "repetition", 75),
        ("paypaol.com", "PayPal", "insertion", 75),
        ("paypak.com", "PayPal", "replacement", 75),
        ("papyal.com", "PayPal", "transposition", 75),
        ("peypal.com", "PayPal", "vowel-swap", 75),
        ("paypalx.com", "PayPal", "addition", 75),
        ("gaagle.com", "Google", "double-replacement", 75),
        ("paypam.com", "PayPal", "bitsquatting", 75),
        ("pay-pal.com", "PayPal", "hyphenation", 75),
        ("betathome.com", "Bet-at-home", "hyphenation", 75),
        ("wwwpaypal.com", "PayPal", "missing-dot", 75),
        ("paypals.com", "PayPal", "plural", 75),
        ("linkedine.com", "LinkedIn", "addition", 75),
        ("linkwdin.com", "LinkedIn", "replacement", 75),
        ("lincedin.com", "LinkedIn", "misspelling", 75),
        ("linkdin.com", "LinkedIn", "omission", 75),
        ("pay.pal.com", "PayPal", "dot-insertion", 60),
        ("paypal-com.net", "PayPal", "wrong-sld", 75),
        ("paypalcom.net", "PayPal", "wrong-sld", 75),
        ("micorsfot.com", "Microsoft", "fuzzy", 40),
    ],
)
def test_typo_family(
    index: DetectionIndex, name: str, brand: str, technique: str, min_score: int
) -> None:
    _check(index, name, brand, technique, min_score)


@pytest.mark.parametrize(
    ("name", "brand", "min_score", "detail_part"),
    [
        ("pаypal.com", "PayPal", 90, "mixed-script"),  # Cyrillic a
        ("xn--pypal-4ve.com", "PayPal", 90, "mixed-script"),
        ("аррӏе.com", "Apple", 90, "whole-label Cyrillic"),
        ("paypa1.com", "PayPal", 80, "'l'->'1'"),
        ("rnicrosoft.com", "Microsoft", 80, "'m'->'rn'"),
        ("g00gle.com", "Google", 75, ""),
        ("goog1e.net", "Google", 75, ""),
    ],
)
def test_homoglyph(
    index: DetectionIndex, name: str, brand: str, min_score: int, detail_part: str
) -> None:
    res = _check(index, name, brand, "homoglyph", min_score)
    assert any(detail_part in r.detail for r in res.reasons)


@pytest.mark.parametrize(
    ("name", "brand", "technique", "low", "high"),
    [
        ("paypal.co", "PayPal", "tld-swap", 60, 74),
        ("paypal.xyz", "PayPal", "tld-swap", 70, 89),
        ("paypal.com.co", "PayPal", "wrong-sld", 60, 89),
        ("bbc.com", "BBC", "tld-swap", 30, 49),  # short brand: low, not flagged
    ],
)
def test_tld_swap(
    index: DetectionIndex, name: str, brand: str, technique: str, low: int, high: int
) -> None:
    res = _check(index, name, brand, technique, low)
    assert res.score <= high


@pytest.mark.parametrize(
    ("name", "brand", "technique", "min_score"),
    [
        ("paypal-login.com", "PayPal", "combosquatting", 70),
        ("securepaypal.com", "PayPal", "combosquatting", 70),
        ("paypal-support24.com", "PayPal", "combosquatting", 50),
        ("paypallogin-verify.xyz", "PayPal", "combosquatting", 75),
        ("appleidverify.com", "Apple", "combosquatting", 50),
        ("paypall-login.com", "PayPal", "combosquatting", 60),
        ("dhl-tracking.com", "DHL", "combosquatting", 50),
        ("paypal.com.verify-id.ru", "PayPal", "subdomain-impersonation", 90),
        ("login-paypal.web.app", "PayPal", "combosquatting", 75),
        ("paypal.github.io", "PayPal", "subdomain-impersonation", 60),
        ("paypal-login.evil-host.com", "PayPal", "subdomain-impersonation", 60),
        ("stripe-docs.io", "Stripe", "phantom", 55),
        ("stripe-payments-api.com", "Stripe", "phantom-watchlist", 90),
        ("wells-fargo-secure.com", "Wells Fargo", "combosquatting", 65),  # split brand
        ("micros0ft-support.net", "Microsoft", "combosquatting", 55),  # lookalike token
        ("paypa1-billing.com", "PayPal", "combosquatting", 80),
        ("paypa1login.com", "PayPal", "combosquatting", 75),  # lookalike digit, glued
        ("app1eid-verify.com", "Apple", "combosquatting", 60),
    ],
)
def test_combo_subdomain_phantom(
    index: DetectionIndex, name: str, brand: str, technique: str, min_score: int
) -> None:
    res = _check(index, name, brand, technique, min_score)
    assert res.flagged


@pytest.mark.parametrize(
    "name",
    [
        "pineapple.com",  # 'apple' inside another word
        "snapple.com",
        "hockey.com",
        "applebees.com",
        "dhlparcelhub.org",  # short brand glued without lure word
        "wikipedia.org",
        "example.com",
        "bbcnews.co.uk",
        "off-ice-rink.com",
    ],
)
def test_not_flagged(index: DetectionIndex, name: str) -> None:
    res = index.score(name)
    assert not res.flagged, res.to_json()


@pytest.mark.parametrize(
    "name",
    [
        "paypal.com",
        "www.paypal.com",
        "*.paypal.com",
        "https://paypal.com/signin",
        "paypal-community.com",
        "x.paypalobjects.com",
        "bbc.co.uk",
    ],
)
def test_own_and_allowlisted_never_alert(index: DetectionIndex, name: str) -> None:
    res = index.score(name)
    assert res.score == 0
    assert res.brand is None
    assert not res.flagged
    assert res.reasons == []


def test_allowlist_is_per_brand() -> None:
    idx = DetectionIndex.build(
        [
            BrandSpec("A", ("paypal.com",), allow=("paypal-login.com",)),
            BrandSpec("B", ("paypal.net",), keywords=("paypal",)),
        ]
    )
    res = idx.score("paypal-login.com")
    assert res.brand == "B"


def test_short_brand_needs_more_evidence(index: DetectionIndex) -> None:
    # one edit from a 3-letter brand is everywhere: not flagged
    for name in ("dhk.com", "dhl.de", "bbd.co.uk", "bbc.net"):
        assert not index.score(name).flagged, name
    # but a lure word or a homograph is
    assert index.score("dhl-delivery-tracking.com").flagged
    assert index.score("dһl.com").flagged  # Cyrillic shha


def test_wildcard_and_url_inputs(index: DetectionIndex) -> None:
    res = index.score("*.paypa1.com")
    assert res.brand == "PayPal"
    assert res.domain == "paypa1.com"
    res = index.score("http://paypal-login.com:8080/x")
    assert res.brand == "PayPal"
    assert res.flagged


def test_batch_errors_and_json(index: DetectionIndex) -> None:
    out = score_names(index, ["paypa1.com", "", "a..b", "paypa1.com", "example.com"])
    assert [r.error is None for r in out] == [True, False, False, True, True]
    assert out[0].to_json() == out[3].to_json()
    bad = out[1].to_json()
    assert set(bad) == {"input", "error"}
    assert bad["error"] == "empty"
    good = out[0].to_json()
    assert set(good) == {
        "input",
        "domain",
        "unicode",
        "registrable",
        "brand",
        "score",
        "severity",
        "flagged",
        "reasons",
    }
    reasons = good["reasons"]
    assert isinstance(reasons, list)
    assert reasons
    assert all(v is not None for r in reasons for v in r.values())


def test_min_score_per_brand() -> None:
    idx = DetectionIndex.build([BrandSpec("PayPal", ("paypal.com",), min_score=95)])
    res = idx.score("paypall.com")
    assert res.score >= DEFAULT_MIN_SCORE
    assert not res.flagged


def test_bad_official_domain_raises() -> None:
    with pytest.raises(InvalidDomain, match="public suffix"):
        DetectionIndex.build([BrandSpec("X", ("co.uk",))])


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (0, "none"),
        (39, "none"),
        (40, "low"),
        (59, "low"),
        (60, "medium"),
        (74, "medium"),
        (75, "high"),
        (89, "high"),
        (90, "critical"),
        (100, "critical"),
    ],
)
def test_severity_bands(score: int, band: str) -> None:
    assert severity_for(score) == band


@pytest.mark.parametrize(
    ("brand", "cand", "technique"),
    [
        ("paypal", "paypl", "omission"),
        ("paypal", "ppaypal", "repetition"),
        ("paypal", "paypal1", "addition"),
        ("paypal", "paypaql", "insertion"),
        ("paypal", "paypsl", "replacement"),
        ("paypal", "paypla", "transposition"),
        ("paypal", "paypel", "vowel-swap"),
        ("paypal", "pay-pal", "hyphenation"),
        ("paypal", "paypa1", "homoglyph"),
        ("google", "goigle", "vowel-swap"),
        ("google", "foogle", "bitsquatting"),
        ("google", "giigle", "double-replacement"),
        ("paypal", "paypals", "plural"),
    ],
)
def test_classify_edit(brand: str, cand: str, technique: str) -> None:
    got = classify_edit(brand, cand)
    assert got is not None
    assert got[0] == technique


def test_lookalike_token_outscores_plain_and_misspelled_tokens(index: DetectionIndex) -> None:
    """Lookalike characters in a brand token are deliberate; one edit may be another word."""
    plain = index.score("microsoft-support.net")
    lookalike = index.score("micros0ft-support.net")
    one_edit = index.score("microsft-support.net")
    assert lookalike.score > plain.score
    assert lookalike.reasons[0].detail.startswith("brand token 'microsoft' as lookalike")
    assert one_edit.score < lookalike.score


def test_split_brand_needs_a_distinctive_brand(index: DetectionIndex) -> None:
    """Only distinctive (not dictionary-word) brands are matched across hyphens."""
    assert index.score("wells-fargo-login.com").brand == "Wells Fargo"
    assert index.score("app-le-login.com").brand != "Apple"  # 'apple' is an everyday word


def test_arbitrary_replacement_is_weaker_than_a_slip_or_lookalike(index: DetectionIndex) -> None:
    """paypak (k next to l) and paypa1 (lookalike) are high; paypaz is flagged, not high."""
    slip, lookalike, arbitrary = (
        index.score(n) for n in ("paypak.com", "paypa1.com", "paypaz.com")
    )
    assert arbitrary.flagged
    assert arbitrary.brand == "PayPal"
    assert arbitrary.severity == "medium"
    assert slip.severity == lookalike.severity == "high"


def test_two_edit_neighbour_found_by_deletions_still_gets_its_fuzzy_reason() -> None:
    """A keyword the one-edit lookup reaches but rejects is still checked at distance 2."""
    res = DetectionIndex.build([BrandSpec("Calendly", ("calendly.com",))]).score("icalendy.com")
    assert res.brand == "Calendly"
    assert [r.technique for r in res.reasons] == ["fuzzy"]


def test_one_evidence_is_not_counted_twice() -> None:
    """A double replacement is also two edits: one reason, not a fuzzy one on top."""
    res = DetectionIndex.build([BrandSpec("Facebook", ("facebook.com",))]).score("facebppk.com")
    assert [r.technique for r in res.reasons] == ["double-replacement"]
