"""Attribution of one-edit / same-skeleton neighbours, fast paths and caches."""

from __future__ import annotations

import publicsuffixlist
import pytest
import wordninja

from service.detection import BrandSpec, DetectionIndex, normalize_domain, score_names
from service.detection.lexicon import segment
from service.detection.normalize import resolve_suffix

BRANDS = [
    BrandSpec("PayPal", ("paypal.com",)),
    BrandSpec("DHL", ("dhl.com",)),
    BrandSpec("HP", ("hp.com",)),
    BrandSpec("CNN", ("cnn.com",)),
    BrandSpec("MLB", ("mlb.com",)),
    BrandSpec("DB", ("db.com",)),
    BrandSpec("RBS", ("rbs.co.uk",)),
    BrandSpec("PBS", ("pbs.org",)),
    BrandSpec("Bloomberg", ("bloomberg.com",)),
    BrandSpec("Cams", ("cams.com",)),
]

TYPO_FAMILY = {
    "omission",
    "repetition",
    "insertion",
    "replacement",
    "transposition",
    "vowel-swap",
    "addition",
    "plural",
    "hyphenation",
    "bitsquatting",
    "homoglyph",
    "double-replacement",
    "typo",
}


@pytest.fixture(scope="module")
def index() -> DetectionIndex:
    return DetectionIndex.build(BRANDS)


def _techniques(index: DetectionIndex, name: str, brand: str) -> set[str]:
    for b, _score, reasons in index.attributions(name):
        if b == brand:
            return {r.technique for r in reasons}
    return set()


@pytest.mark.parametrize(
    ("name", "brand", "technique"),
    [
        # Short brands: attributed with the right family, but not flagged.
        ("dhk.com", "DHL", "replacement"),  # keyboard-adjacent l/k
        ("h.pe", "HP", "omission"),
        ("hpa.org.uk", "HP", "addition"),
        ("ph.net", "HP", "transposition"),
        ("dt.com", "DB", "replacement"),
        # One edit on another public suffix.
        ("mlbb.de", "MLB", "repetition"),
        # A raw one-letter edit whose skeleton moves two steps (rn folds to m).
        ("crn.com.tr", "CNN", "replacement"),
        ("cars.tatar", "Cams", "replacement"),
    ],
)
def test_short_brand_typo_attributed_not_flagged(
    index: DetectionIndex, name: str, brand: str, technique: str
) -> None:
    res = index.score(name)
    assert not res.flagged, res.to_json()
    assert res.score < 50
    assert technique in _techniques(index, name, brand), index.attributions(name)


@pytest.mark.parametrize(
    ("name", "brand", "technique", "flagged"),
    [
        ("paypall.de", "PayPal", "repetition", True),
        ("paypam.com", "PayPal", "bitsquatting", True),  # l (0x6c) -> m (0x6d)
        ("mnb.date", "MLB", "bitsquatting", False),  # l (0x6c) -> n (0x6e), short brand
        ("cjn.com", "CNN", "bitsquatting", False),  # n (0x6e) -> j (0x6a)
        ("paypa1.xyz", "PayPal", "homoglyph", True),
        ("p\u0430ypal.com", "PayPal", "homoglyph", True),  # Cyrillic a
        ("bl\u00f6\u00f6mberg.org", "Bloomberg", "homoglyph", True),  # diacritics
    ],
)
def test_edit_classification(
    index: DetectionIndex, name: str, brand: str, technique: str, flagged: bool
) -> None:
    res = index.score(name)
    assert res.brand == brand, res.to_json()
    assert res.flagged is flagged, res.to_json()
    assert technique in {r.technique for r in res.reasons}, res.to_json()


def test_ambiguous_name_attributed_to_every_neighbour(index: DetectionIndex) -> None:
    # dbs is one edit from db (addition), rbs and pbs (replacement).
    brands = {b for b, _s, _r in index.attributions("dbs.help")}
    assert {"DB", "RBS", "PBS"} <= brands
    assert index.score("dbs.help").brand in {"DB", "RBS", "PBS"}


def test_attribution_scores_are_low_but_nonzero(index: DetectionIndex) -> None:
    for b, score, reasons in index.attributions("h.pe"):
        if b == "HP":
            assert 0 < score < 40
            assert reasons[0].score == score
            break
    else:
        pytest.fail("h.pe not attributed to HP")


def test_unrelated_names_have_no_brand(index: DetectionIndex) -> None:
    for name in ("example.org", "www.wikipedia.org", "blumenladen.de", "*.shopify-cdn.net"):
        res = index.score(name)
        assert res.brand is None
        assert res.score == 0
        assert res.reasons == []
        assert index.attributions(name) == []


def test_batch_fast_path_and_caches_match_full_evaluation() -> None:
    names = [
        "paypal-login.com",
        "www.paypal.com.evil.ru",
        "mail.dhl-tracking.xyz",
        "plainsite.com",
        "WWW.Plainsite.COM.",
        "*.cdn.example.net",
        "http://user@paypa1.com:8080/x",
        "xn--pypal-4ve.com",
        "bad..name",
        "co.uk",
        "hp.shop.github.io",
    ] * 40  # repeats exercise the result cache; > 64 names the batched fuzzy pass
    cached = DetectionIndex.build(BRANDS)
    uncached = DetectionIndex.build(BRANDS)
    uncached.cache_size = 0
    got = score_names(cached, names)
    want = score_names(uncached, names)
    for raw, a, b in zip(names, got, want, strict=True):
        assert a.to_json() == b.to_json(), raw
        assert a.input == raw
        if b.error is None and b.domain is not None:
            ref = uncached.evaluate(normalize_domain(raw))
            assert (a.brand, a.score, a.registrable) == (ref.brand, ref.score, ref.registrable)
    # Results are independent objects: mutating one does not leak into the cache.
    got[0].reasons.clear()
    assert score_names(cached, [names[0]])[0].reasons


@pytest.mark.parametrize(
    "name",
    [
        "a.b.kobe.jp",
        "city.kobe.jp",
        "www.ck",
        "foo.www.ck",
        "x.y.ck",
        "github.io",
        "me.github.io",
        "a.b.co.uk",
        "co.uk",
        "foo.bar.unknowntld",
        "s3.amazonaws.com",
        "a.b.c.d.e.f.g.compute.amazonaws.com",
        "web.app",
        "x.web.app",
    ],
)
def test_suffix_cache_agrees_with_publicsuffixlist(name: str) -> None:
    full = publicsuffixlist.PublicSuffixList()
    icann = publicsuffixlist.PublicSuffixList(only_icann=True)
    # Twice: the second answer comes from the cache.
    for _ in range(2):
        reg, suffix, _private = resolve_suffix(name.split("."))
        want = full.privatesuffix(name) or icann.privatesuffix(name)
        assert reg == want
        if reg is not None:
            assert suffix == reg.split(".", 1)[1]


@pytest.mark.parametrize(
    "piece",
    ["securepaypallogin", "thequickbrownfox", "abc123def45", "12ab34", "x", "zzqxj", "don't"],
)
def test_segment_matches_wordninja(piece: str) -> None:
    assert segment(piece) == tuple(wordninja.split(piece))
