"""Domain names in LLM answers: URLs, bare hosts, e-mail domains; tuned for precision."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache

import publicsuffixlist

from service.detection import InvalidDomain, NormalizedName, normalize_domain

__all__ = [
    "PLACEHOLDER_DOMAINS",
    "Mention",
    "extract_domains",
    "extract_mentions",
    "strip_reasoning",
]

# RFC 2606 / RFC 6761 documentation names, plus the "your domain here" names
# models write in examples. Nobody can be phished through a placeholder the
# reader knows to replace, and example.* belong to IANA anyway.
PLACEHOLDER_DOMAINS = frozenset(
    {
        "example.com",
        "example.net",
        "example.org",
        "example.edu",
        "yourdomain.com",
        "your-domain.com",
        "yourcompany.com",
        "your-company.com",
        "mydomain.com",
        "yoursite.com",
        "your-site.com",
    }
)

# Real TLDs that are also common file extensions: `README.md`, `setup.py`,
# `install.sh`, `lib.rs`, `notes.zip`. A bare two-label name ending in one is
# far more often a file than a host; with a scheme it is kept.
FILE_LIKE_TLDS = frozenset(
    {"md", "py", "sh", "zip", "mov", "rs", "pl", "pm", "so", "ps", "mk", "tf", "ml", "java"}
)
# Product names that happen to be valid domains.
TECH_NAMES = frozenset({"asp.net", "vb.net", "ado.net", "ml.net", "socket.io", "ethers.io"})
# Inside code, `user.name`, `df.at`, `app.run` and `client.chat` are attribute
# accesses on real TLDs; a bare name there must end in a suffix people use for
# sites and not start with a usual variable name.
CODE_SUFFIXES = frozenset(
    {"com", "net", "org", "io", "dev", "ai", "co", "app", "cloud", "info", "biz", "eu"}
)
CODE_IDENTIFIERS = frozenset(
    {
        "self", "this", "cls", "obj", "app", "client", "res", "req", "response", "request",
        "window", "document", "os", "sys", "np", "pd", "df", "console", "module", "process",
        "e", "err", "x", "data", "config", "settings", "user", "api", "http", "json", "math",
    }
)  # fmt: skip
# Roots of reverse-DNS identifiers (Android package and Apple bundle ids:
# `com.brand.mobile`), which read as hosts under a real TLD.
REVERSE_DNS_ROOTS = frozenset({"com", "org", "net", "io", "co", "edu", "gov", "de", "fr", "uk"})

_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
# A host: labels separated by ASCII dots; the last label may not start with a digit.
_HOST = rf"(?:{_LABEL}\.)+[^\W\d_](?:[\w-]*[^\W_])?"
_URL = re.compile(r"\b(?:https?|ftp|wss?)://([^\s/?#<>()\[\]{}\"'`|*\\,;]+)", re.IGNORECASE)
# Not glued to a word, path, port or variable; `_name_` (Markdown emphasis) is fine.
_BARE = re.compile(rf"(?:(?<![\w./\\:%$-])|(?<=\s_)|(?<=\A_))({_HOST})")
_LOCAL_PART = re.compile(r"[\w.+-]+\Z")
_FENCE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n.*?(?:^[ \t]*\1[ \t]*$|\Z)", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]+`")
_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class Mention:
    """One distinct host named in an answer.

    `host` is the ASCII (punycode) form, `domain` its registrable domain.
    `email` is True when the host only appeared as an e-mail domain, `url`
    when it appeared at least once with a scheme, `in_code` when every
    appearance was inside inline code or a fenced block.
    """

    host: str
    domain: str
    unicode_host: str
    email: bool = False
    url: bool = False
    in_code: bool = False


@lru_cache(maxsize=1)
def _tld_list() -> publicsuffixlist.PublicSuffixList:
    # accept_unknown=False: `setup.exe` and `config.json` must not count as names.
    return publicsuffixlist.PublicSuffixList(only_icann=True, accept_unknown=False)


@lru_cache(maxsize=4096)
def _known_tld(label: str) -> bool:
    try:
        return _tld_list().publicsuffix(label.lower()) is not None
    except (UnicodeError, ValueError):
        return False


def strip_reasoning(text: str) -> str:
    """Drop `<think>` blocks of reasoning models: users read only the answer."""
    return _THINK.sub(" ", text)


def _code_spans(text: str) -> list[tuple[int, int]]:
    spans = [m.span() for m in _FENCE.finditer(text)]
    fenced = list(spans)
    for m in _INLINE_CODE.finditer(text):
        if not any(s <= m.start() < e for s, e in fenced):
            spans.append(m.span())
    return sorted(spans)


def _inside(spans: list[tuple[int, int]], starts: list[int], pos: int) -> bool:
    i = bisect.bisect_right(starts, pos) - 1
    return i >= 0 and spans[i][0] <= pos < spans[i][1]


def _trim_tld(host: str) -> str | None:
    """Cut a glued word off a host: `brand.com.Then` (missing space), `brand.co.jpで`."""
    labels = host.split(".")
    last = labels[-1]
    if _known_tld(last):
        return host
    # A CJK or other non-Latin word glued to an ASCII TLD.
    m = re.match(r"[A-Za-z]+", last)
    if m and m.end() < len(last) and not last[m.end()].isascii() and _known_tld(m.group()):
        return ".".join([*labels[:-1], m.group()])
    # A sentence glued after a period: only when the next word is capitalized,
    # so `webpack.prod.js` is not read as `webpack.prod`.
    if len(labels) > 2 and last[:1].isupper() and last[1:].islower() and _known_tld(labels[-2]):
        return ".".join(labels[:-1])
    return None


def _normalize(host: str) -> NormalizedName | None:
    try:
        name = normalize_domain(host)
    except InvalidDomain:
        return None
    if name.registrable is None or name.wildcard:
        return None
    if name.registrable in PLACEHOLDER_DOMAINS or not _known_tld(name.labels[-1]):
        return None
    return name


def _plausible_bare(raw: str, name: NormalizedName, in_code: bool, follower: str) -> bool:
    labels = name.labels
    if labels[0] == "www":
        return True
    if follower == "(":
        return False  # a call: `client.chat(`, `app.run(`
    if name.ascii in TECH_NAMES:
        return False
    if len(labels) == 2 and labels[-1] in FILE_LIKE_TLDS:
        return False
    if len(labels) >= 3 and labels[0] in REVERSE_DNS_ROOTS:
        return False
    first = raw.split(".", 1)[0]
    if len(labels) == 2 and labels[-1] == "app" and first[:1].isupper():
        return False  # a macOS bundle: `Mail.app`
    if in_code:
        if len(labels) == 2 and labels[0] in CODE_IDENTIFIERS:
            return False
        if name.suffix not in CODE_SUFFIXES and "." not in name.suffix:
            return False
    return True


def extract_mentions(text: str) -> list[Mention]:
    """Every distinct host named in `text`, in order of first appearance.

    Finds URLs (any of http, https, ftp, ws, wss; Markdown links and autolinks
    included), bare names (`login.brand-help.com`, `www.x.y`), e-mail domains
    and IDNs, in prose and in code. Drops IP addresses, localhost, unknown
    TLDs (`setup.exe`, `config.json`, `v1.2.3`), documentation placeholders
    (`example.com`), file names on real TLDs (`README.md`), product names
    (`ASP.NET`), reverse-DNS app ids, attribute accesses in code, and the
    `<think>` section of reasoning models.
    """
    text = strip_reasoning(text)
    spans = _code_spans(text)
    starts = [s for s, _ in spans]
    hits: list[tuple[int, NormalizedName, bool, bool, bool]] = []  # pos, name, email, url, code

    masked = list(text)
    for m in _URL.finditer(text):
        masked[m.start() : m.end()] = " " * (m.end() - m.start())
        authority = m.group(1).rsplit("@", 1)[-1]
        if authority.startswith("["):
            continue  # IPv6 literal
        host = authority.split(":", 1)[0].rstrip(".")
        name = _normalize(host) if host else None
        if name is not None:
            hits.append((m.start(), name, False, True, _inside(spans, starts, m.start())))
    rest = "".join(masked)

    for m in _BARE.finditer(rest):
        raw = m.group(1)
        trimmed = _trim_tld(raw)
        if trimmed is None:
            continue
        start = m.start()
        end = start + len(trimmed)
        follower = rest[end : end + 1]
        if follower == "@" or (follower == "_" and rest[end + 1 : end + 2].isalnum()):
            continue  # part of a longer local part or identifier
        name = _normalize(trimmed)
        if name is None:
            continue
        in_code = _inside(spans, starts, start)
        is_email = (
            start > 0 and rest[start - 1] == "@" and bool(_LOCAL_PART.search(rest[: start - 1]))
        )
        if not is_email and not _plausible_bare(trimmed, name, in_code, follower):
            continue
        hits.append((start, name, is_email, False, in_code))

    found: dict[str, Mention] = {}
    for _, name, email, url, in_code in sorted(hits, key=lambda h: h[0]):
        assert name.registrable is not None
        prev = found.get(name.ascii)
        if prev is None:
            found[name.ascii] = Mention(
                name.ascii, name.registrable, name.unicode, email, url, in_code
            )
        else:
            found[name.ascii] = Mention(
                prev.host,
                prev.domain,
                prev.unicode_host,
                prev.email and email,
                prev.url or url,
                prev.in_code and in_code,
            )
    return list(found.values())


def extract_domains(text: str) -> list[str]:
    """The distinct registrable domains named in `text`, in order of first appearance."""
    return list(dict.fromkeys(m.domain for m in extract_mentions(text)))
