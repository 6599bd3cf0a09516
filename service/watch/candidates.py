"""Predicted lookalikes of a brand, ranked by the detection engine: what to watch for registration.

Generation is deliberately broad (single edits, keyboard slips, ASCII homoglyphs, bit
flips, TLD swaps, phantom service-word names); the engine then scores every candidate
against the brand and the highest-risk ones are kept. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from service.detection import BrandSpec, DetectionIndex, normalize_domain
from service.detection.lexicon import ASCII_HOMOGLYPHS, KEYBOARD_ADJACENT, LLM_TLDS

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_SWAP_TLDS = ("com", "net", "org", "co", "io", "ai", "app", "dev", "info", "xyz", "online", "site")
# Service words LLMs attach to brands when they invent domains.
_PHANTOM_SERVICES = ("login", "docs", "api", "support", "status", "developer", "app", "portal")


@dataclass(frozen=True)
class Candidate:
    domain: str
    unicode: str
    technique: str
    score: int


def _edits(label: str) -> Iterator[str]:
    for i in range(len(label)):
        yield label[:i] + label[i + 1 :]  # omission
        yield label[:i] + label[i] + label[i:]  # repetition
        for ch in KEYBOARD_ADJACENT.get(label[i], ()):
            yield label[:i] + ch + label[i + 1 :]  # keyboard replacement
            yield label[:i] + ch + label[i:]  # keyboard insertion
        byte = ord(label[i])
        for bit in range(8):
            flipped = chr(byte ^ (1 << bit))
            if flipped in _ALPHABET:
                yield label[:i] + flipped + label[i + 1 :]  # bitsquatting
    for i in range(len(label) - 1):
        yield label[:i] + label[i + 1] + label[i] + label[i + 2 :]  # transposition
        yield label[: i + 1] + "-" + label[i + 1 :]  # hyphenation
    for a, b in ASCII_HOMOGLYPHS:
        start = label.find(a)
        while start != -1:
            yield label[:start] + b + label[start + len(a) :]
            start = label.find(a, start + 1)


def generate(brand: BrandSpec) -> Iterator[str]:
    """Every candidate registrable domain for the brand's official domains (may repeat)."""
    for official in brand.domains:
        name = normalize_domain(official)
        label = name.labels[0]
        suffix = name.suffix
        for variant in _edits(label):
            if variant and not variant.startswith("-") and not variant.endswith("-"):
                yield f"{variant}.{suffix}"
        for tld in _SWAP_TLDS:
            yield f"{label}.{tld}"
        for service in _PHANTOM_SERVICES:
            for tld in sorted(LLM_TLDS)[:8] if LLM_TLDS else ("com",):
                yield f"{label}-{service}.{tld}"
                yield f"{service}-{label}.{tld}"


def top_candidates(brand: BrandSpec, limit: int) -> list[Candidate]:
    """The `limit` highest-scoring predicted lookalikes of one brand."""
    index = DetectionIndex.build([brand])
    owned = {normalize_domain(d).ascii for d in brand.domains}
    best: dict[str, Candidate] = {}
    for raw in set(generate(brand)):
        result = index.score(raw)
        if (
            result.error is not None
            or not result.flagged
            or result.brand != brand.name
            or result.registrable is None
            or result.registrable in owned
        ):
            continue
        technique = result.reasons[0].technique if result.reasons else "unknown"
        candidate = Candidate(result.registrable, result.unicode or raw, technique, result.score)
        if candidate.domain not in best or best[candidate.domain].score < candidate.score:
            best[candidate.domain] = candidate
    # Round-robin over techniques, best first within each: a watch list of 30
    # names should cover TLD swaps and phantom names, not 30 keyboard slips.
    by_technique: dict[str, list[Candidate]] = {}
    for candidate in sorted(best.values(), key=lambda c: (-c.score, c.domain)):
        by_technique.setdefault(candidate.technique, []).append(candidate)
    queues = sorted(by_technique.values(), key=lambda q: (-q[0].score, q[0].technique))
    ranked: list[Candidate] = []
    while len(ranked) < limit and any(queues):
        for queue in queues:
            if queue and len(ranked) < limit:
                ranked.append(queue.pop(0))
    return ranked
