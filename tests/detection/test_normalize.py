"""Normalization: forms, PSL, skeletons, errors, and a never-crash property."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.detection import InvalidDomain, normalize_domain, registrable_domain, skeleton


@pytest.mark.parametrize(
    ("raw", "ascii_", "unicode_", "registrable", "suffix", "wildcard"),
    [
        ("PayPal.com.", "paypal.com", "paypal.com", "paypal.com", "com", False),
        (
            "  www.example.co.uk  ",
            "www.example.co.uk",
            "www.example.co.uk",
            "example.co.uk",
            "co.uk",
            False,
        ),
        (
            "https://user@WWW.Paypal.co.uk:443/x?y#z",
            "www.paypal.co.uk",
            "www.paypal.co.uk",
            "paypal.co.uk",
            "co.uk",
            False,
        ),
        ("example.com/login", "example.com", "example.com", "example.com", "com", False),
        (
            "*.login.example.com",
            "login.example.com",
            "login.example.com",
            "example.com",
            "com",
            True,
        ),
        ("pаypal.com", "xn--pypal-4ve.com", "pаypal.com", "xn--pypal-4ve.com", "com", False),
        ("xn--pypal-4ve.com", "xn--pypal-4ve.com", "pаypal.com", "xn--pypal-4ve.com", "com", False),
        ("straße.de", "xn--strae-oqa.de", "straße.de", "xn--strae-oqa.de", "de", False),
        (
            "ドメイン.テスト",
            "xn--eckwd4c7c.xn--zckzah",
            "ドメイン.テスト",
            "xn--eckwd4c7c.xn--zckzah",
            "xn--zckzah",
            False,
        ),
        (
            "login-paypal.web.app",
            "login-paypal.web.app",
            "login-paypal.web.app",
            "login-paypal.web.app",
            "web.app",
            False,
        ),
        ("co.uk", "co.uk", "co.uk", None, "co.uk", False),
        ("EXAMPLE．COM", "example.com", "example.com", "example.com", "com", False),
    ],
)
def test_forms(
    raw: str, ascii_: str, unicode_: str, registrable: str | None, suffix: str, wildcard: bool
) -> None:
    n = normalize_domain(raw)
    assert (n.ascii, n.unicode, n.registrable, n.suffix, n.wildcard) == (
        ascii_,
        unicode_,
        registrable,
        suffix,
        wildcard,
    )
    assert n.labels == tuple(ascii_.split("."))


def test_private_suffix_and_subdomain_labels() -> None:
    n = normalize_domain("a.b.login-paypal.web.app")
    assert n.private_suffix is True
    assert n.subdomain_labels == ("a", "b")
    assert n.registrable_label == "login-paypal"
    assert normalize_domain("www.paypal.com").private_suffix is False


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("a..b.com", "empty label"),
        ("1.2.3.4", "IP address"),
        ("http://[::1]/", "IP address"),
        ("xn--zz.com", "bad IDNA"),
        ("a*b.com", "wildcard"),
        ("foo bar.com", "whitespace"),
        ("exa$mple.com", "invalid characters"),
        ("a" * 64 + ".com", "longer than 63"),
        (".".join(["abcdefghi"] * 30) + ".com", "longer than 253"),
    ],
)
def test_errors_have_reasons(raw: str, reason: str) -> None:
    with pytest.raises(InvalidDomain, match=reason):
        normalize_domain(raw)


def test_registrable_domain() -> None:
    assert registrable_domain("https://www.bbc.co.uk/news") == "bbc.co.uk"
    assert registrable_domain("x.github.io") == "x.github.io"
    with pytest.raises(InvalidDomain, match=r"'co\.uk' is a public suffix"):
        registrable_domain("co.uk")
    # a hosting platform's own apex is registrable (ICANN rules), its users' sites too
    assert registrable_domain("github.io") == "github.io"
    assert registrable_domain("googleapis.com") == "googleapis.com"
    with pytest.raises(InvalidDomain, match="public suffix"):
        registrable_domain("com")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("paypal", "pаypal"),  # Cyrillic a
        ("apple", "аррӏе"),  # whole-label Cyrillic with palochka
        ("paypal", "paypa1"),
        ("google", "g00gle"),
        ("microsoft", "rnicrosoft"),
        ("wells", "vvells"),
    ],
)
def test_skeleton_equal(a: str, b: str) -> None:
    assert skeleton(a) == skeleton(b)


def test_skeleton_keeps_i_and_l_apart() -> None:
    assert skeleton("site") != skeleton("slte")


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_never_crashes_on_text(raw: str) -> None:
    try:
        n = normalize_domain(raw)
    except InvalidDomain as exc:
        reason = str(exc)
        assert reason
    else:
        assert n.ascii.isascii()
        assert len(n.ascii) <= 253
        assert all(n.labels)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from("abcxyz019-_.аорεіﬁ*:/@ÄßΣ"), min_size=1, max_size=12),
        min_size=1,
        max_size=5,
    )
)
def test_never_crashes_on_domainish(parts: list[str]) -> None:
    raw = ".".join(parts)
    try:
        n = normalize_domain(raw)
    except InvalidDomain as exc:
        reason = str(exc)
        assert reason
    else:
        # Round trip: normalizing the ASCII form gives the same name.
        again = normalize_domain(n.ascii)
        assert again.ascii == n.ascii
        assert again.registrable == n.registrable


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-mrnvw", max_size=24))
def test_plain_ascii_skeleton_shortcut_matches_icu(label: str) -> None:
    """The shortcut for plain ASCII labels gives what the full ICU computation gives."""
    from service.detection.normalize import _skeleton

    assert skeleton(label) == _skeleton(label)


@pytest.mark.parametrize(
    ("label", "expected"),
    [("modern", "modem"), ("paypa1", "paypal"), ("g00gle", "google"), ("vvw", "ww"), ("mm", "mm")],
)
def test_skeleton_folds(label: str, expected: str) -> None:
    assert skeleton(label) == expected
