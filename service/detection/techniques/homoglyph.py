"""Homoglyph family: describe the scripts of an IDN label (mixed-script, whole-script swaps)."""

from __future__ import annotations

import unicodedata


def scripts(label: str) -> list[str]:
    """Scripts of the letters of a label in order of appearance (from Unicode character names)."""
    seen: list[str] = []
    for ch in label:
        if not ch.isalpha():
            continue
        try:
            script = unicodedata.name(ch).split(" ", 1)[0]
        except ValueError:
            script = "UNKNOWN"
        if script not in seen:
            seen.append(script)
    return seen


def describe(label: str) -> str:
    """Human description of why an IDN label looks like ASCII (mixed or whole-script)."""
    sc = scripts(label)
    odd = [ch for ch in label if not ch.isascii()]
    chars = ", ".join(f"U+{ord(c):04X} {unicodedata.name(c, '?').lower()}" for c in odd[:4])
    if len(sc) > 1:
        return f"mixed-script label ({'+'.join(s.title() for s in sc)}): {chars}"
    if sc and sc[0] != "LATIN":
        return f"whole-label {sc[0].title()} lookalike: {chars}"
    return f"confusable characters: {chars}" if chars else "confusable characters"
