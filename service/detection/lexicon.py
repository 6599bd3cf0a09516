"""Word lists and tables for the detectors (hand-written from general knowledge, not data)."""

from __future__ import annotations

import re
from functools import lru_cache

import wordninja

# Words that turn a brand mention into a credential, payment or delivery lure.
RISK_WORDS: frozenset[str] = frozenset(
    [
        "login",
        "logon",
        "signin",
        "signon",
        "auth",
        "authenticate",
        "verify",
        "verification",
        "verified",
        "validate",
        "validation",
        "confirm",
        "confirmation",
        "secure",
        "security",
        "account",
        "accounts",
        "acct",
        "update",
        "unlock",
        "locked",
        "suspend",
        "suspended",
        "suspension",
        "restore",
        "recovery",
        "recover",
        "reset",
        "password",
        "passwd",
        "billing",
        "invoice",
        "payment",
        "payments",
        "refund",
        "refunds",
        "wallet",
        "banking",
        "helpdesk",
        "alert",
        "alerts",
        "warning",
        "claim",
        "bonus",
        "reward",
        "rewards",
        "gift",
        "prize",
        "giveaway",
        "airdrop",
        "webscr",
        "checkout",
        "tracking",
        "redelivery",
        "parcel",
        "shipment",
        "customs",
        "webmail",
        "sso",
        "mfa",
        "2fa",
        "otp",
        "appleid",
        "kyc",
        "dispute",
        "unblock",
        "activate",
        "activation",
        "reactivate",
        "renew",
        "renewal",
        "expired",
        "expiry",
        "subscription",
        "cancellation",
        "unusual",
        "reverify",
        "revalidate",
        "unlocking",
        "chargeback",
    ]
)
# Weaker context: common in phishing, but also in ordinary business names.
CONTEXT_WORDS: frozenset[str] = frozenset(
    [
        "support",
        "help",
        "service",
        "services",
        "customer",
        "care",
        "center",
        "centre",
        "online",
        "portal",
        "official",
        "access",
        "pay",
        "bank",
        "card",
        "cards",
        "credit",
        "mail",
        "email",
        "inbox",
        "office365",
        "outlook",
        "id",
        "identity",
        "member",
        "members",
        "client",
        "clients",
        "order",
        "orders",
        "delivery",
        "deliver",
        "package",
        "shipping",
        "post",
        "notice",
        "review",
        "case",
        "ticket",
        "session",
        "token",
        "free",
        "promo",
    ]
)

# Service words that LLMs attach to a brand when they invent a URL ("phantom" names).
PHANTOM_WORDS: frozenset[str] = frozenset(
    [
        "docs",
        "doc",
        "documentation",
        "api",
        "apis",
        "developer",
        "developers",
        "dev",
        "devs",
        "status",
        "app",
        "apps",
        "portal",
        "download",
        "downloads",
        "sdk",
        "cli",
        "console",
        "dashboard",
        "help",
        "support",
        "community",
        "forum",
        "forums",
        "learn",
        "academy",
        "labs",
        "lab",
        "studio",
        "platform",
        "hub",
        "store",
        "shop",
        "cdn",
        "static",
        "assets",
        "files",
        "blog",
        "news",
        "careers",
        "jobs",
        "partners",
        "partner",
        "plugins",
        "plugin",
        "extensions",
        "marketplace",
        "pricing",
        "demo",
        "sandbox",
        "beta",
        "playground",
        "chat",
        "ai",
        "gpt",
        "assistant",
        "bot",
        "cloud",
        "web",
        "mobile",
        "desktop",
        "install",
        "setup",
        "get",
        "try",
        "start",
    ]
)

# TLDs language models tend to produce for software/brand URLs.
LLM_TLDS: frozenset[str] = frozenset(
    [
        "com",
        "io",
        "ai",
        "dev",
        "app",
        "co",
        "net",
        "org",
        "tech",
        "cloud",
        "sh",
        "so",
        "me",
        "xyz",
        "gg",
        "tools",
        "site",
        "online",
    ]
)

# TLDs with a long record of cheap, abuse-heavy registrations (general knowledge).
ABUSED_TLDS: frozenset[str] = frozenset(
    [
        "tk",
        "ml",
        "ga",
        "cf",
        "gq",
        "xyz",
        "top",
        "icu",
        "buzz",
        "cyou",
        "shop",
        "online",
        "site",
        "live",
        "click",
        "link",
        "support",
        "rest",
        "bond",
        "sbs",
        "cfd",
        "monster",
        "work",
        "fit",
        "zip",
        "mov",
        "country",
        "kim",
        "loan",
        "win",
        "bid",
        "date",
        "review",
        "club",
        "vip",
        "pw",
        "su",
        "ru",
        "cn",
        "info",
        "biz",
        "lol",
        "quest",
        "beauty",
        "hair",
        "skin",
        "makeup",
        "mom",
        "autos",
        "boats",
        "yachts",
    ]
)

# Free hosting / site builders not (or not always) in the PSL private section.
HOSTING_REGISTRABLES: frozenset[str] = frozenset(
    [
        "000webhostapp.com",
        "weebly.com",
        "wixsite.com",
        "godaddysites.com",
        "square.site",
        "webflow.io",
        "wordpress.com",
        "blogspot.com",
        "sharepoint.com",
        "firebaseapp.com",
        "web.app",
        "netlify.app",
        "vercel.app",
        "pages.dev",
        "workers.dev",
        "glitch.me",
        "herokuapp.com",
        "azurewebsites.net",
        "repl.co",
        "replit.app",
        "ngrok.io",
        "ngrok-free.app",
        "github.io",
        "gitlab.io",
        "r2.dev",
        "duckdns.org",
        "ddns.net",
        "no-ip.org",
    ]
)

VOWELS = frozenset("aeiouy")

# Multi-character ASCII lookalikes (one direction; both are generated).
ASCII_HOMOGLYPHS: tuple[tuple[str, str], ...] = (
    ("m", "rn"),
    ("w", "vv"),
    ("d", "cl"),
    ("m", "nn"),
    ("o", "0"),
    ("l", "1"),
    ("i", "1"),
    ("l", "i"),
    ("i", "l"),
    ("g", "q"),
    ("b", "6"),
    ("s", "5"),
    ("e", "3"),
    ("a", "4"),
    ("z", "2"),
    ("t", "7"),
    ("b", "8"),
    ("h", "lh"),
    ("u", "v"),
)
HOMOGLYPH_PAIRS: frozenset[tuple[str, str]] = frozenset(
    {(a, b) for a, b in ASCII_HOMOGLYPHS if len(a) == len(b) == 1}
    | {(b, a) for a, b in ASCII_HOMOGLYPHS if len(a) == len(b) == 1}
)

NUMERALS: tuple[tuple[str, str], ...] = (
    ("zero", "0"),
    ("one", "1"),
    ("won", "1"),
    ("two", "2"),
    ("to", "2"),
    ("too", "2"),
    ("three", "3"),
    ("four", "4"),
    ("for", "4"),
    ("five", "5"),
    ("six", "6"),
    ("seven", "7"),
    ("eight", "8"),
    ("ate", "8"),
    ("nine", "9"),
    ("ten", "10"),
)

# Common English spelling confusions, applied one occurrence at a time.
MISSPELLINGS: tuple[tuple[str, str], ...] = (
    ("ph", "f"),
    ("f", "ph"),
    ("ck", "k"),
    ("ck", "c"),
    ("c", "k"),
    ("k", "c"),
    ("ie", "ei"),
    ("ei", "ie"),
    ("ou", "o"),
    ("oo", "u"),
    ("ee", "ea"),
    ("ea", "ee"),
    ("y", "ie"),
    ("ie", "y"),
    ("x", "ks"),
    ("ks", "x"),
    ("qu", "kw"),
    ("s", "z"),
    ("z", "s"),
    ("tion", "sion"),
    ("er", "re"),
    ("re", "er"),
    ("ai", "ay"),
    ("ay", "ai"),
    ("ow", "ou"),
)

SLD_WORDS: tuple[str, ...] = ("com", "net", "org", "co", "comm", "corn")

_KEYBOARD_ROWS: dict[str, tuple[str, ...]] = {
    "qwerty": ("1234567890-", "qwertyuiop", "asdfghjkl", "zxcvbnm"),
    "qwertz": ("1234567890-", "qwertzuiop", "asdfghjkl", "yxcvbnm"),
    "azerty": ("1234567890-", "azertyuiop", "qsdfghjklm", "wxcvbn"),
}


def _build_adjacency() -> dict[str, frozenset[str]]:
    adj: dict[str, set[str]] = {}
    for rows in _KEYBOARD_ROWS.values():
        for r, row in enumerate(rows):
            for c, ch in enumerate(row):
                near = adj.setdefault(ch, set())
                for dr, dc in ((0, -1), (0, 1), (-1, 0), (-1, 1), (1, -1), (1, 0)):
                    rr, cc = r + dr, c + dc
                    if 0 <= rr < len(rows) and 0 <= cc < len(rows[rr]):
                        near.add(rows[rr][cc])
    return {k: frozenset(v - {k}) for k, v in adj.items()}


KEYBOARD_ADJACENT: dict[str, frozenset[str]] = _build_adjacency()


@lru_cache(maxsize=1)
def _word_ranks() -> dict[str, int]:
    model = wordninja.DEFAULT_LANGUAGE_MODEL
    costs: dict[str, float] = model._wordcost
    return {w: i for i, w in enumerate(sorted(costs, key=costs.__getitem__))}


def word_rank(word: str) -> int | None:
    """Frequency rank of an English word in wordninja's model (0 = most common), else None."""
    return _word_ranks().get(word)


def is_common_word(word: str, top: int = 5000) -> bool:
    """True for everyday words (``live``, ``apple``) that appear in many unrelated names."""
    rank = word_rank(word)
    return rank is not None and rank < top


_SPLIT_RE = re.compile(r"[^a-zA-Z0-9']+")


def _split_run(s: str) -> list[str]:
    """wordninja's dynamic programme for one run of [a-z0-9'], same result, no per-step tuples.

    Minimal total cost, ties to the shorter last word, exactly as
    ``wordninja.LanguageModel._split`` (whose digit re-attachment is kept too).
    """
    model = wordninja.DEFAULT_LANGUAGE_MODEL
    wc: dict[str, float] = model._wordcost
    maxword: int = model._maxword
    low = s.lower()
    inf = float("inf")
    cost = [0.0]
    back = [0]
    get = wc.get
    for i in range(1, len(s) + 1):
        best = inf
        bk = 1
        for j in range(i - 1, max(0, i - maxword) - 1, -1):
            w = get(low[j:i])
            if w is not None:
                c = cost[j] + w
                if c < best:
                    best = c
                    bk = i - j
        cost.append(best)
        back.append(bk)
    out: list[str] = []
    i = len(s)
    while i > 0:
        k = back[i]
        new_token = True
        if (
            s[i - k : i] != "'"
            and out
            and (out[-1] == "'s" or (s[i - 1].isdigit() and out[-1][0].isdigit()))
        ):
            out[-1] = s[i - k : i] + out[-1]
            new_token = False
        if new_token:
            out.append(s[i - k : i])
        i -= k
    out.reverse()
    return out


@lru_cache(maxsize=200_000)
def segment(piece: str) -> tuple[str, ...]:
    """Split a concatenation into words (``securepaypallogin`` -> secure paypal login)."""
    return tuple(w for run in _SPLIT_RE.split(piece) for w in _split_run(run))


def word_boundaries(piece: str) -> frozenset[int]:
    """Character offsets where a word starts or ends in the segmentation of ``piece``."""
    bounds = {0}
    pos = 0
    for w in segment(piece):
        pos += len(w)
        bounds.add(pos)
    return frozenset(bounds)
