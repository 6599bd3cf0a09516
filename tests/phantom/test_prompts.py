"""Prompt templates: coverage of intents and languages, and that only public brand data goes in."""

from __future__ import annotations

import pytest

from service.sources.phantom.prompts import (
    INTENTS,
    LANGUAGES,
    TEMPLATES,
    Prompt,
    prompts_for,
)


def test_every_intent_in_every_language() -> None:
    assert set(INTENTS) >= {
        "login", "support", "docs", "api", "downloads", "status", "careers", "mobile_app",
        "regional", "billing", "developer_portal", "community", "security",
    }  # fmt: skip
    assert set(LANGUAGES) == {"en", "es", "de", "fr"}
    for intent in INTENTS:
        langs = {t.language for t in TEMPLATES if t.intent == intent}
        assert langs == set(LANGUAGES), intent
        english = [t for t in TEMPLATES if t.intent == intent and t.language == "en"]
        assert len(english) >= 2, intent  # several phrasings
    assert all("{brand}" in t.text for t in TEMPLATES)


def test_domain_is_left_out_unless_given() -> None:
    without = prompts_for("Acme")
    assert all("{" not in p.text for p in without)
    assert not any("acme.com" in p.text for p in without)
    with_domain = prompts_for("Acme", main_domain="ACME.com")
    extra = [p for p in with_domain if p not in without]
    assert extra
    assert all("acme.com" in p.text for p in extra)
    assert len([t for t in TEMPLATES if not t.include_domain]) == len(without)


def test_each_prompt_is_a_template_with_only_the_brand_filled_in() -> None:
    texts = {t.text.replace("{brand}", "Zyx Corp") for t in TEMPLATES if not t.include_domain}
    for p in prompts_for("  Zyx   Corp "):
        assert p.text in texts


def test_filters_and_extra_prompts() -> None:
    got = prompts_for(
        "Acme",
        ["Who runs {brand}'s {status} page?", "Is {brand} legit?"],
        intents=["login", "status"],
        languages=["de"],
    )
    assert {(p.intent, p.language) for p in got[:-2]} == {("login", "de"), ("status", "de")}
    assert got[-2:] == [
        Prompt("custom", "und", "Who runs Acme's {status} page?"),  # other braces untouched
        Prompt("custom", "und", "Is Acme legit?"),
    ]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("",), {}, "empty"),
        (("A" * 101,), {}, "longer"),
        (("Ac\x00me",), {}, "control"),
        (("Acme",), {"intents": ["phishing"]}, "unknown intents"),
        (("Acme",), {"languages": ["xx"]}, "unknown languages"),
        (("Acme", ["Visit {domain}"]), {}, "no main domain"),
        (("Acme",), {"main_domain": "not a domain"}, "main domain"),
    ],
)
def test_bad_input_is_rejected(
    args: tuple[object, ...], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        prompts_for(*args, **kwargs)  # type: ignore[arg-type]
