"""Normalization of domains, URLs and wildcards: IDNA, Public Suffix List, confusable skeletons."""

from __future__ import annotations

import codecs
import os
import re
import unicodedata
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import icu
import idna
import publicsuffixlist

__all__ = [
    "MAX_NAME",
    "PLAIN_HOST",
    "InvalidDomain",
    "NormalizedName",
    "from_split",
    "normalize_domain",
    "psl_source",
    "refresh_psl",
    "registrable_domain",
    "skeleton",
    "skeleton_unaccented",
    "split_ascii",
    "suffix_lengths",
]

PSL_URL = "https://publicsuffix.org/list/public_suffix_list.dat"
MAX_NAME = 253
_MAX_LABEL = 63
# Underscore is not legal in host names but shows up in real CT SANs and DNS
# (service labels); rejecting it would turn real data into errors.
_ASCII_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?|[a-z0-9_]")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


class InvalidDomain(ValueError):
    """Input that cannot be read as a domain name; the message is a human reason."""


@dataclass(frozen=True)
class NormalizedName:
    """One name in every form the detectors need."""

    ascii: str
    unicode: str
    registrable: str | None
    suffix: str
    labels: tuple[str, ...]
    wildcard: bool
    unicode_labels: tuple[str, ...] = field(default=())
    skeletons: tuple[str, ...] = field(default=())
    # True when the public suffix comes from the PSL private section (free
    # hosting, dynamic DNS, cloud apps): anyone can get a name there.
    private_suffix: bool = False

    @property
    def registrable_label(self) -> str | None:
        """The label just left of the public suffix (``paypal`` in ``www.paypal.co.uk``)."""
        if self.registrable is None:
            return None
        return self.registrable.split(".", 1)[0]

    @property
    def subdomain_labels(self) -> tuple[str, ...]:
        """Labels left of the registrable domain."""
        if self.registrable is None:
            return self.labels[: len(self.labels) - self.suffix.count(".") - 1]
        return self.labels[: len(self.labels) - self.registrable.count(".") - 1]


def _psl_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "phantomwatch"


def _user_psl_file() -> Path | None:
    """A refreshed list is used only when the user asked for one (env var or refresh_psl)."""
    env = os.environ.get("PHANTOMWATCH_PSL_FILE")
    if env:
        return Path(env)
    candidate = _psl_data_dir() / "public_suffix_list.dat"
    return candidate if candidate.is_file() else None


@lru_cache(maxsize=1)
def _psl() -> tuple[publicsuffixlist.PublicSuffixList, publicsuffixlist.PublicSuffixList]:
    path = _user_psl_file()
    if path is not None and path.is_file():
        with path.open("rb") as fh:
            full = publicsuffixlist.PublicSuffixList(fh)
        with path.open("rb") as fh:
            icann = publicsuffixlist.PublicSuffixList(fh, only_icann=True)
        return full, icann
    return publicsuffixlist.PublicSuffixList(), publicsuffixlist.PublicSuffixList(only_icann=True)


class _SuffixCache:
    """Memoized public-suffix lengths (full list, ICANN section) keyed by the deciding tail.

    Walking from the TLD, the first tail that is not a proper tail of any rule
    ends the search: no longer rule can match. If that tail is not itself a rule,
    the answer is the same for every name ending in the previous tail (``foo.com``
    and ``bar.com`` share one entry); otherwise it is keyed by the tail (plus one
    label for a wildcard rule). So the per-name PSL walk becomes one dict hit.
    """

    def __init__(
        self, full: publicsuffixlist.PublicSuffixList, icann: publicsuffixlist.PublicSuffixList
    ) -> None:
        self.full = full
        self.icann = icann
        rules: frozenset[str] = getattr(full, "_publicsuffix", frozenset())
        interior: set[str] = set()
        related: set[str] = set()
        for rule in rules:
            base = rule.lstrip("!").removeprefix("*.")
            related.add(base)
            parts = base.split(".")
            for i in range(1, len(parts)):
                interior.add(".".join(parts[i:]))
        # Without the rule set (another library version) the key is the whole name.
        self.exact = bool(rules)
        self.rules = rules
        self.interior = frozenset(interior)
        self.related = frozenset(related)
        self.cache: dict[str, tuple[int, int]] = {}

    @staticmethod
    def _count(psl: publicsuffixlist.PublicSuffixList, tail: str) -> int:
        pub = psl.publicsuffix(tail)
        return pub.count(".") + 1 if pub else 0

    def lengths(self, labels: list[str] | tuple[str, ...]) -> tuple[int, int]:
        """(labels in the public suffix per the full list, per the ICANN section only)."""
        n = len(labels)
        if not self.exact:
            key = query = ".".join(labels)
        else:
            k = 1
            prev = ""
            tail = labels[-1]
            while k < n and tail in self.interior:
                k += 1
                prev = tail
                tail = labels[-k] + "." + tail
            if tail in self.interior or tail in self.related or not prev:
                # The tail itself may be a rule: key on it (one more label for a wildcard).
                if k < n and ("*." + tail) in self.rules:
                    tail = labels[-k - 1] + "." + tail
                key = query = tail
            else:
                # Nothing matches at depth k: every name ending in ``prev`` agrees.
                key = "\x00" + prev
                query = tail
        hit = self.cache.get(key)
        if hit is None:
            hit = (self._count(self.full, query), self._count(self.icann, query))
            if len(self.cache) >= 200_000:
                self.cache.clear()
            self.cache[key] = hit
        return hit


@lru_cache(maxsize=1)
def _suffixes() -> _SuffixCache:
    return _SuffixCache(*_psl())


def suffix_lengths(labels: list[str]) -> tuple[int, int]:
    """Labels in the public suffix of a name's labels: (full list, ICANN section only)."""
    return _suffixes().lengths(labels)


def psl_source() -> str:
    """Where the Public Suffix List in use comes from (bundled snapshot or a refreshed file)."""
    path = _user_psl_file()
    if path is not None and path.is_file():
        return str(path)
    return "bundled:publicsuffixlist " + str(getattr(publicsuffixlist, "__version__", ""))


def refresh_psl(dest: Path | None = None, url: str = PSL_URL, timeout: float = 30.0) -> Path:
    """Download a current Public Suffix List to the user data dir; never called implicitly."""
    target = dest or (_psl_data_dir() / "public_suffix_list.dat")
    target.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        data: bytes = resp.read()
    if b"// ===BEGIN ICANN DOMAINS===" not in data:
        raise ValueError("downloaded file does not look like the Public Suffix List")
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    _psl.cache_clear()
    _suffixes.cache_clear()
    return target


_SPOOF = icu.SpoofChecker()
# ICU keeps some ASCII lookalikes apart that are confusable in URL bars, and
# maps digits to uppercase letters; fold those so both sides compare equal.
# Plain ``i`` stays apart from ``l`` (the dot is visible; folding it made
# ``site`` look like ``slate``).
_FOLD = str.maketrans({"0": "o", "1": "l", "|": "l", "!": "l"})
# Letters ICU sends to ``i`` although they render as a bar like ``l``.
_PRE = str.maketrans({"\u04cf": "l", "\u04c0": "l", "\u01c0": "l", "\u0406": "l", "\u0399": "l"})


def _icu_skeleton(text: str) -> str:
    return str(_SPOOF.getSkeleton(0, text))


# Labels whose skeleton is themselves: ICU maps no ASCII letter, digit 2-9 or
# hyphen to anything else (``m`` goes to ``rn`` and is folded back), so only
# 0, 1 and the folded pairs need the full computation.
_PLAIN_ASCII = re.compile(r"[a-z2-9-]*")


def skeleton(label: str) -> str:
    """UTS #39 confusable skeleton of one label, lowercased and folded (1/l, 0/o, rn/m, vv/w).

    ICU maps ``m`` to ``rn``; folding back to ``m`` keeps skeleton lengths
    equal to the label's so one typo stays one edit.
    """
    if _PLAIN_ASCII.fullmatch(label) and "rn" not in label and "vv" not in label:
        return label
    return _skeleton(label)


@lru_cache(maxsize=262144)
def _skeleton(label: str) -> str:
    if not label.isascii():
        label = label.translate(_PRE)
    sk = _icu_skeleton(label).lower().translate(_FOLD)
    if "rn" in sk:
        sk = sk.replace("rn", "m")
    if "vv" in sk:
        sk = sk.replace("vv", "w")
    return sk


@lru_cache(maxsize=65536)
def skeleton_unaccented(label: str) -> str:
    """Skeleton after removing combining marks (``blöömberg`` -> ``bloomberg``).

    UTS #39 keeps diacritics apart, but at URL-bar size ``ö`` or ``é`` reads as
    the bare letter, a common IDN lookalike trick.
    """
    base = "".join(
        ch for ch in unicodedata.normalize("NFD", label) if not unicodedata.combining(ch)
    )
    return skeleton(unicodedata.normalize("NFC", base))


def _extract_host(text: str) -> str:
    """Pull the host out of a URL or an ``user@host:port/path`` string."""
    if _SCHEME.match(text) or any(c in text for c in "/@?#") or text.count(":") == 1:
        to_parse = text if _SCHEME.match(text) else "//" + text
        try:
            parts = urllib.parse.urlsplit(to_parse)
            host = parts.hostname
        except ValueError as exc:
            raise InvalidDomain(f"not a URL or domain: {exc}") from exc
        if not host:
            raise InvalidDomain("no host name in URL")
        return host
    if text.count(":") > 1 or text.startswith("["):
        raise InvalidDomain("IP address, not a domain name")
    return text


def _to_ascii_label(label: str) -> tuple[str, str]:
    """Return (ascii, unicode) forms of one already-lowercased label."""
    if label.isascii():
        if label.startswith("xn--"):
            try:
                uni = idna.decode(label)
            except (idna.IDNAError, UnicodeError, ValueError):
                try:
                    uni = codecs.decode(label[4:].encode("ascii"), "punycode")
                except (UnicodeError, ValueError) as exc:
                    raise InvalidDomain(f"bad IDNA: invalid punycode label {label!r}") from exc
                if not uni or uni.isascii():
                    raise InvalidDomain(f"bad IDNA: invalid punycode label {label!r}") from None
            return label, uni
        return label, label
    try:
        asc = idna.encode(label, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        # IDNA2003 still resolves in browsers for symbols/emoji; phishing uses them.
        try:
            asc = label.encode("idna").decode("ascii")
        except (UnicodeError, ValueError) as exc:
            raise InvalidDomain(f"bad IDNA: label {label!r} cannot be encoded") from exc
    return asc, label


_HOST = r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z][a-z0-9-]{0,61}"
_FAST_NAME = re.compile(rf"(\*\.)?({_HOST})\.?")
# A name split_ascii takes as it is (already lowercase, no wildcard, no trailing dot);
# it still has to be checked for "xn--", length and a label left of its public suffix.
PLAIN_HOST = re.compile(_HOST)


def split_ascii(raw: str) -> tuple[str, list[str], bool, int, int] | None:
    """Fast path of normalize_domain for plain ASCII hosts (no punycode, no URL syntax).

    Returns (ascii name, labels, wildcard, public-suffix label count, ICANN-only
    count), or None when the general path is needed.
    """
    text = raw.strip().strip("\ufeff")
    if not text.isascii():
        return None
    low = text.lower()
    m = _FAST_NAME.fullmatch(low)
    if m is None or "xn--" in low:
        return None
    name = m.group(2)
    if len(name) > MAX_NAME:
        return None
    labels = name.split(".")
    full_n, icann_n = _suffixes().lengths(labels)
    return name, labels, m.group(1) is not None, full_n, icann_n


def from_split(fast: tuple[str, list[str], bool, int, int]) -> NormalizedName:
    """The NormalizedName of a split_ascii result (same as normalize_domain on that input)."""
    return _finish(fast[0], fast[1], None, fast[2], (fast[3], fast[4]))


def normalize_domain(raw: str) -> NormalizedName:
    """Normalize a domain, URL or wildcard name; raise InvalidDomain with a reason."""
    if not isinstance(raw, str):
        raise InvalidDomain(f"not a string: {type(raw).__name__}")
    # Fast path for the common case (plain lowercase ASCII host, no punycode):
    # same result as the general path, a fraction of the cost.
    fast = split_ascii(raw)
    if fast is not None:
        return _finish(fast[0], fast[1], None, fast[2], (fast[3], fast[4]))
    return _normalize_slow(raw.strip().strip("\ufeff"))


def _normalize_slow(text: str) -> NormalizedName:
    if not text:
        raise InvalidDomain("empty")
    if any(c.isspace() for c in text):
        raise InvalidDomain("contains whitespace")
    host = _extract_host(text)
    if not host.isascii():
        try:
            host = idna.uts46_remap(host, std3_rules=False, transitional=False)
        except (idna.IDNAError, UnicodeError, ValueError) as exc:
            raise InvalidDomain(f"bad IDNA: {exc}") from exc
    host = host.lower()
    wildcard = False
    if host.startswith("*."):
        wildcard = True
        host = host[2:]
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise InvalidDomain("empty")
    if "*" in host:
        raise InvalidDomain("wildcard only allowed as the leftmost label ('*.example.com')")
    if _IPV4.fullmatch(host) or ":" in host:
        raise InvalidDomain("IP address, not a domain name")
    raw_labels = host.split(".")
    if any(not lab for lab in raw_labels):
        raise InvalidDomain("empty label (consecutive or leading dots)")
    ascii_labels: list[str] = []
    unicode_labels: list[str] = []
    for lab in raw_labels:
        asc, uni = _to_ascii_label(lab)
        if len(asc) > _MAX_LABEL:
            raise InvalidDomain(f"label longer than 63 characters: {asc[:20]!r}...")
        if not _ASCII_LABEL.fullmatch(asc):
            raise InvalidDomain(f"invalid characters in label {lab!r}")
        ascii_labels.append(asc)
        unicode_labels.append(uni)
    ascii_name = ".".join(ascii_labels)
    if len(ascii_name) > MAX_NAME:
        raise InvalidDomain("name longer than 253 characters")
    if ascii_labels[-1].isdigit():
        raise InvalidDomain("numeric top-level label: not a domain name")
    return _finish(ascii_name, ascii_labels, unicode_labels, wildcard)


def resolve_suffix(
    labels: list[str] | tuple[str, ...], counts: tuple[int, int] | None = None
) -> tuple[str | None, str, bool]:
    """(registrable domain or None, public suffix, suffix from the PSL private section)."""
    full_n, icann_n = counts if counts is not None else _suffixes().lengths(labels)
    n = len(labels)
    if full_n and n > full_n:
        return (
            ".".join(labels[n - full_n - 1 :]),
            ".".join(labels[n - full_n :]),
            (icann_n != full_n and icann_n > 0),
        )
    # A platform's own apex (github.io, web.app) is a private-section suffix
    # but still an ICANN registrable domain owned by someone.
    if icann_n and n > icann_n:
        return ".".join(labels[n - icann_n - 1 :]), ".".join(labels[n - icann_n :]), False
    suffix = ".".join(labels[n - full_n :]) if full_n else labels[-1]
    return None, suffix, False


def _finish(
    ascii_name: str,
    ascii_labels: list[str],
    unicode_labels: list[str] | None,
    wildcard: bool,
    counts: tuple[int, int] | None = None,
) -> NormalizedName:
    if unicode_labels is None:
        unicode_labels = ascii_labels
    registrable, suffix, private = resolve_suffix(ascii_labels, counts)
    skeletons = tuple(skeleton(u) for u in unicode_labels)
    return NormalizedName(
        ascii=ascii_name,
        unicode=".".join(unicode_labels),
        registrable=registrable,
        suffix=suffix,
        labels=tuple(ascii_labels),
        wildcard=wildcard,
        unicode_labels=tuple(unicode_labels),
        skeletons=skeletons,
        private_suffix=private,
    )


def registrable_domain(raw: str) -> str:
    """Return the registrable domain of ``raw``; raise InvalidDomain if it is a public suffix."""
    name = normalize_domain(raw)
    if name.registrable is None:
        raise InvalidDomain(f"not a registrable domain: {name.ascii!r} is a public suffix")
    return name.registrable
