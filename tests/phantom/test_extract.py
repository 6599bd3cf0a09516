"""Domain extraction on a table of realistic LLM answers: exact hosts, precision and recall."""

from __future__ import annotations

import pytest

from service.sources.phantom.extract import extract_domains, extract_mentions

# (answer text, the exact set of hosts a careful human would flag)
CASES: list[tuple[str, set[str]]] = [
    # plain prose, sentence punctuation
    ("You can log in at login.acme.com.", {"login.acme.com"}),
    ("Visit acme-login.com, then click Sign in.", {"acme-login.com"}),
    ("Is it acme.com? Or acme.net!", {"acme.com", "acme.net"}),
    ("Go to acme.com.Then sign in.", {"acme.com"}),
    ("The site (acme-help.org) has a chat.", {"acme-help.org"}),
    ("Try \"acme-portal.com\" or 'acme-portal.net'.", {"acme-portal.com", "acme-portal.net"}),
    ("Use **acme-secure.com** for sign-in.", {"acme-secure.com"}),
    ("Use _acme-secure.com_ for sign-in.", {"acme-secure.com"}),
    ("Acme's site is Acme.com; its UK site is acme.co.uk.", {"acme.com", "acme.co.uk"}),
    ("« Connectez-vous sur connexion.acme.fr »", {"connexion.acme.fr"}),
    ("¿Dónde? En ayuda.acme.es.", {"ayuda.acme.es"}),
    ("Melden Sie sich unter anmelden.acme.de an.", {"anmelden.acme.de"}),
    ("acme.co.jpでログインしてください", {"acme.co.jp"}),
    ("Bare www: www.acme-store.shop is the store.", {"www.acme-store.shop"}),
    ("The login is login.brand-help.com/signin?next=%2F", {"login.brand-help.com"}),
    ("Port and path: acme.com:8443/admin", {"acme.com"}),
    # URLs and Markdown
    ("See [the docs](https://docs.acme-docs.io/start).", {"docs.acme-docs.io"}),
    ("Autolink: <https://status.acme.com/>", {"status.acme.com"}),
    ("[login.acme.com](https://login-acme.com/)", {"login.acme.com", "login-acme.com"}),
    ("Open https://acme.com/login.", {"acme.com"}),
    ("Open (https://acme.com/login) now", {"acme.com"}),
    ("ftp://files.acme-dl.net/pub/ and wss://rt.acme.com/ws", {"files.acme-dl.net", "rt.acme.com"}),
    ("https://user:pw@vault.acme-id.com:8443/x", {"vault.acme-id.com"}),
    ("HTTPS://WWW.ACME.COM/LOGIN", {"www.acme.com"}),
    ("Query only: https://acme-pay.com?x=1", {"acme-pay.com"}),
    (
        "| Region | Site |\n|---|---|\n| UK | acme.co.uk |\n| DE | acme.de |",
        {"acme.co.uk", "acme.de"},
    ),
    (
        "- Support: [help](https://help.acme.com)\n- Forum: community.acme-forum.org",
        {"help.acme.com", "community.acme-forum.org"},
    ),
    # e-mail
    ("Write to support@acme-support.net.", {"acme-support.net"}),
    ("mailto:security@acme.com", {"acme.com"}),
    ("Clone git@github.com:acme/sdk.git", {"github.com"}),
    # code
    ("```bash\ncurl https://api.acme-cloud.com/v2/me\n```", {"api.acme-cloud.com"}),
    ("Base URL: `https://api.acme.com/v1`", {"api.acme.com"}),
    ("Set `ACME_HOST=api.acme-cloud.io` in `.env`.", {"api.acme-cloud.io"}),
    ("```python\nimport acme\nuser.name = client.chat(x)\ndf.at[0] = app.run()\n```", set()),
    ("```js\nconst res = await fetch(url);\nconsole.log(res.json());\n```", set()),
    ("```yaml\nhost: api.acme.com\nconfig: settings.yaml\n```", {"api.acme.com"}),
    # IDN
    ("The German site is bücher-acme.de.", {"xn--bcher-acme-9db.de"}),
    ("Или https://пример.рф/вход", {"xn--e1afmkfd.xn--p1ai"}),
    ("Punycode: xn--bcher-kva.de", {"xn--bcher-kva.de"}),
    # things that are not hosts
    ("Install Node.js, then ASP.NET and Socket.IO.", set()),
    ("See README.md, setup.py, install.sh and lib.rs.", set()),
    ("Run setup.exe or edit config.json and index.html.", set()),
    ("Upgrade to v1.2.3 (or 2.0.1-rc1).", set()),
    ("Examples, e.g. i.e. etc. are not hosts.", set()),
    ("Use example.com or api.example.org as placeholders.", set()),
    ("Replace yourdomain.com with your own.", set()),
    ("Local: localhost:11434, 127.0.0.1:8080, http://192.168.0.1/ and http://[::1]/", set()),
    ("The app id is com.acme.mobile on Android.", set()),
    ("Drag Acme.app to Applications.", set()),
    ("Follow @acmestatus on X.", set()),
    ("I'm sorry, but I can't help with that.", set()),
    ("webpack.prod.js and next.config.js", set()),
    ("<think>maybe acme-guess.com?</think>The answer is acme.com.", {"acme.com"}),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_extracts_exactly_the_hosts(text: str, expected: set[str]) -> None:
    assert {m.host for m in extract_mentions(text)} == expected


def test_precision_and_recall_over_the_table() -> None:
    tp = fp = fn = 0
    for text, expected in CASES:
        got = {m.host for m in extract_mentions(text)}
        tp += len(got & expected)
        fp += len(got - expected)
        fn += len(expected - got)
    assert len(CASES) >= 40
    assert tp / (tp + fp) == 1.0
    assert tp / (tp + fn) == 1.0


def test_mention_flags_and_registrable_domain() -> None:
    text = (
        "Mail help@acme-support.net, see https://docs.acme.com and `api.acme-cloud.com`; "
        "docs.acme.com again."
    )
    got = {m.host: m for m in extract_mentions(text)}
    assert got["acme-support.net"].email
    assert not got["acme-support.net"].url
    assert got["docs.acme.com"].url
    assert got["docs.acme.com"].domain == "acme.com"
    assert not got["docs.acme.com"].in_code
    assert got["api.acme-cloud.com"].in_code
    assert got["api.acme-cloud.com"].domain == "acme-cloud.com"


def test_email_flag_drops_when_also_named_as_a_site() -> None:
    (m,) = extract_mentions("Write to help@acme-help.com or open acme-help.com.")
    assert not m.email


def test_extract_domains_is_registrable_distinct_in_order() -> None:
    text = "Try login.acme-id.com, then www.acme.com, then https://acme-id.com/x and bücher.de."
    assert extract_domains(text) == ["acme-id.com", "acme.com", "xn--bcher-kva.de"]
    assert extract_mentions("bücher.de")[0].unicode_host == "bücher.de"


def test_private_suffix_hosts_are_their_own_registrable() -> None:
    assert extract_domains("Docs: acme-sdk.github.io and acme.github.io/x") == [
        "acme-sdk.github.io",
        "acme.github.io",
    ]
