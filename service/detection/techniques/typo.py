"""Typo family: classify one edit between a brand label and a candidate; enumerate variants."""

from __future__ import annotations

from collections.abc import Iterator

from service.detection.lexicon import (
    ASCII_HOMOGLYPHS,
    HOMOGLYPH_PAIRS,
    KEYBOARD_ADJACENT,
    MISSPELLINGS,
    NUMERALS,
    SLD_WORDS,
    VOWELS,
)

_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


def deletes(word: str) -> Iterator[str]:
    """All strings with exactly one character removed."""
    for i in range(len(word)):
        yield word[:i] + word[i + 1 :]


def deletes2(word: str) -> set[str]:
    """All strings with exactly two characters removed."""
    out: set[str] = set()
    for d in set(deletes(word)):
        out.update(deletes(d))
    return out


def _adjacent(a: str, b: str) -> bool:
    return b in KEYBOARD_ADJACENT.get(a, frozenset())


def _bitflip(a: str, b: str) -> bool:
    x = ord(a) ^ ord(b)
    return x != 0 and x & (x - 1) == 0


def classify_edit(brand: str, cand: str) -> tuple[str, str] | None:
    """Name the single edit turning ``brand`` into ``cand`` as (technique, edit), or None."""
    lb, lc = len(brand), len(cand)
    if lc == lb - 1:
        for i in range(lb):
            if brand[:i] + brand[i + 1 :] == cand:
                ch = brand[i]
                if ch == "-":
                    return "hyphenation", f"removed '-' at {i}"
                if brand.endswith("s") and i == lb - 1:
                    return "plural", f"removed plural 's' at {i}"
                return "omission", f"omitted '{ch}' at {i}"
        return None
    if lc == lb + 1:
        for i in range(lc):
            if cand[:i] + cand[i + 1 :] == brand:
                ch = cand[i]
                if ch == "-":
                    return "hyphenation", f"inserted '-' at {i}"
                if (i > 0 and cand[i - 1] == ch) or (i + 1 < lc and cand[i + 1] == ch):
                    return "repetition", f"repeated '{ch}' at {i}"
                if i == lb:
                    if ch == "s":
                        return "plural", "added plural 's'"
                    return "addition", f"appended '{ch}'"
                if (i > 0 and _adjacent(cand[i - 1], ch)) or (
                    i + 1 < lc and _adjacent(cand[i + 1], ch)
                ):
                    return "insertion", f"inserted keyboard-adjacent '{ch}' at {i}"
                return "insertion", f"inserted '{ch}' at {i}"
        return None
    if lc != lb:
        return None
    diff = [i for i in range(lb) if brand[i] != cand[i]]
    if len(diff) == 2 and diff[1] == diff[0] + 1:
        i = diff[0]
        if brand[i] == cand[i + 1] and brand[i + 1] == cand[i]:
            return "transposition", f"swapped '{brand[i]}{brand[i + 1]}' at {i}"
        if brand[i] == brand[i + 1] and cand[i] == cand[i + 1]:
            return "double-replacement", f"'{brand[i] * 2}'->'{cand[i] * 2}' at {i}"
        return None
    if len(diff) != 1:
        return None
    i = diff[0]
    a, b = brand[i], cand[i]
    if (a, b) in HOMOGLYPH_PAIRS:
        return "homoglyph", f"'{a}'->'{b}' at {i}"
    if a in VOWELS and b in VOWELS:
        return "vowel-swap", f"'{a}'->'{b}' at {i}"
    if _bitflip(a, b):
        return "bitsquatting", f"'{a}'->'{b}' at {i} (one bit)"
    if _adjacent(a, b):
        return "replacement", f"'{a}'->'{b}' at {i} (keyboard-adjacent)"
    return "replacement", f"'{a}'->'{b}' at {i}"


def is_arbitrary(technique: str, detail: str) -> bool:
    """A replacement or insertion that is neither keyboard-adjacent nor a lookalike."""
    return technique in ("replacement", "insertion") and "keyboard-adjacent" not in detail


def _replace_each(word: str, old: str, new: str) -> Iterator[str]:
    start = word.find(old)
    while start != -1:
        yield word[:start] + new + word[start + len(old) :]
        start = word.find(old, start + 1)


def variants(brand: str) -> Iterator[tuple[str, str, str]]:
    """Enumerate (variant, technique, detail) that a single-edit lookup does not reach."""
    for old, new in MISSPELLINGS:
        for v in _replace_each(brand, old, new):
            yield v, "misspelling", f"'{old}'->'{new}'"
    for word, digit in NUMERALS:
        for v in _replace_each(brand, word, digit):
            yield v, "numeral-swap", f"'{word}'->'{digit}'"
        for v in _replace_each(brand, digit, word):
            yield v, "numeral-swap", f"'{digit}'->'{word}'"
    for a, b in ASCII_HOMOGLYPHS:
        if len(a) != len(b):
            for v in _replace_each(brand, a, b):
                yield v, "homoglyph", f"'{a}'->'{b}'"
            for v in _replace_each(brand, b, a):
                yield v, "homoglyph", f"'{b}'->'{a}'"
    for i in range(len(brand) - 1):
        if brand[i] == brand[i + 1] and brand[i].isalpha():
            for ch in _ALNUM:
                if ch != brand[i]:
                    v = brand[:i] + ch * 2 + brand[i + 2 :]
                    yield v, "double-replacement", f"'{brand[i] * 2}'->'{ch * 2}' at {i}"
    yield brand + "es", "plural", "added plural 'es'"
    for prefix in ("www", "ww", "www-", "wwww"):
        yield prefix + brand, "missing-dot", f"'{prefix}' glued to the brand"
    for sld in SLD_WORDS:
        yield brand + sld, "wrong-sld", f"'{sld}' glued to the brand"
        yield brand + "-" + sld, "wrong-sld", f"'-{sld}' after the brand"
    if "-" in brand:
        yield brand.replace("-", ""), "hyphenation", "removed hyphens"
