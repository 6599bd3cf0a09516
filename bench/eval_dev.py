"""Recall per squat type and benign false-positive rate of the engine and two simple baselines."""

from __future__ import annotations

import argparse
import collections
import random
import re
import time
from collections.abc import Callable

from _common import DATA, require_data, squat_rows, tranco
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from service.detection import (
    BrandSpec,
    DetectionIndex,
    InvalidDomain,
    normalize_domain,
    score_names,
)
from service.detection.lexicon import KEYBOARD_ADJACENT

THRESHOLDS = (40, 50, 75)
TYPES = ("typo", "bits", "homo", "wrongTLD", "combo")
REPORT = ("typo", "bits", "homo", "wrongTLD", "combo-tok", "combo")


def _token_evident(fqdn: str, target: str) -> bool:
    """The brand label occurs as a whole token (split on dots, hyphens, digits) of the name."""
    label = target.split(".", 1)[0]
    return label in re.split(r"[.\-_0-9]+", fqdn.lower())


_BASELINE_TLDS = [
    "com",
    "net",
    "org",
    "info",
    "biz",
    "co",
    "io",
    "us",
    "uk",
    "de",
    "ru",
    "cn",
    "jp",
    "fr",
    "it",
    "nl",
    "br",
    "au",
    "in",
    "eu",
]


# ----------------------------------------------------------------- baselines
def _permutations(label: str) -> set[str]:
    """A small dnstwist-style permutation generator (own code) for the baseline."""
    out: set[str] = set()
    alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
    glyphs = {"o": "0", "0": "o", "l": "1", "1": "l", "i": "l", "m": "rn", "w": "vv", "d": "cl"}
    for i in range(len(label)):
        out.add(label[:i] + label[i + 1 :])  # omission
        out.add(label[:i] + label[i] + label[i:])  # repetition
        for ch in KEYBOARD_ADJACENT.get(label[i], ()):
            out.add(label[:i] + ch + label[i + 1 :])  # replacement
            out.add(label[:i] + ch + label[i:])  # insertion
        for bit in range(8):
            c = chr(ord(label[i]) ^ (1 << bit))
            if c in alnum or c == "-":
                out.add(label[:i] + c + label[i + 1 :])  # bitsquatting
        if label[i] in glyphs:
            out.add(label[:i] + glyphs[label[i]] + label[i + 1 :])  # homoglyph
        if label[i] in "aeiou":
            for v in "aeiou":
                out.add(label[:i] + v + label[i + 1 :])  # vowel swap
        if i + 1 < len(label):
            out.add(label[:i] + label[i + 1] + label[i] + label[i + 2 :])  # transposition
        if i > 0:
            out.add(label[:i] + "-" + label[i:])  # hyphenation
    for ch in alnum:
        out.add(label + ch)  # addition
    out.discard(label)
    return {p for p in out if p and not p.startswith("-") and not p.endswith("-")}


class PermutationBaseline:
    """Exact match against permutations of each brand domain (same suffix) + brand on common TLDs."""

    def __init__(self, domains: list[str]) -> None:
        self.table: dict[str, str] = {}
        for dom in domains:
            n = normalize_domain(dom)
            label = n.registrable.split(".", 1)[0] if n.registrable else n.labels[0]
            for p in _permutations(label):
                self.table.setdefault(f"{p}.{n.suffix}", dom)
            for t in _BASELINE_TLDS:
                if t != n.suffix:
                    self.table.setdefault(f"{label}.{t}", dom)

    def __call__(self, name: str) -> str | None:
        try:
            reg = normalize_domain(name).registrable
        except InvalidDomain:
            return None
        return self.table.get(reg) if reg else None


class LevenshteinBaseline:
    """Registrable label within Levenshtein distance 2 of a brand label."""

    def __init__(self, domains: list[str]) -> None:
        self.labels: list[str] = []
        self.domains = domains
        for dom in domains:
            n = normalize_domain(dom)
            self.labels.append(n.registrable.split(".", 1)[0] if n.registrable else n.labels[0])

    def __call__(self, name: str) -> str | None:
        try:
            n = normalize_domain(name)
        except InvalidDomain:
            return None
        if not n.registrable:
            return None
        label = n.registrable.split(".", 1)[0]
        hit = process.extractOne(label, self.labels, scorer=Levenshtein.distance, score_cutoff=2)
        return self.domains[hit[2]] if hit else None


# ----------------------------------------------------------------- evaluation
def _pct(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "  n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--sample", type=int, default=5000, help="rows sampled per squatting file (0 = all)"
    )
    ap.add_argument("--seed", type=int, default=1, help="sampling seed")
    ap.add_argument(
        "--show-fp", type=int, default=15, help="print this many benign false positives"
    )
    ap.add_argument(
        "--show-miss", type=int, default=0, help="print this many misses per squat type"
    )
    args = ap.parse_args()
    require_data()
    rows = []
    all_targets_set: set[str] = set()
    for f in ("squatting_noncombo.dev.csv.gz", "squatting_combo.dev.csv.gz"):
        full = squat_rows(DATA / "squatting" / f, None)
        all_targets_set.update(r["target_domain"].lower() for r in full if r["squat_type"] in TYPES)
        if args.sample and args.sample < len(full):
            full = random.Random(args.seed).sample(full, args.sample)
        rows += full
    rows = [r for r in rows if r["squat_type"] in TYPES]
    all_targets = sorted(all_targets_set)
    # Brands: every target of the full dev split, so the sample does not shrink the brand set.
    t0 = time.perf_counter()
    brands = [BrandSpec(name=d, domains=(d,)) for d in all_targets]
    index = DetectionIndex.build(brands)
    build_s = time.perf_counter() - t0
    perm = PermutationBaseline(all_targets)
    lev = LevenshteinBaseline(all_targets)
    print(f"brands: {len(brands)}  rows: {len(rows)}  index build: {build_s:.2f}s")

    # engine
    t0 = time.perf_counter()
    results = score_names(index, [r["squat_fqdn"] for r in rows])
    eng_s = time.perf_counter() - t0
    methods: dict[str, Callable[[str], str | None]] = {"perm": perm, "lev<=2": lev}
    per_type: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    misses: dict[str, list[str]] = collections.defaultdict(list)
    for row, res in zip(rows, results, strict=True):
        t, target = row["squat_type"], row["target_domain"].lower()
        if t == "combo" and _token_evident(row["squat_fqdn"], target):
            t = "combo-tok"
        c = per_type[t]
        c["n"] += 1
        long_brand = len(target.split(".", 1)[0]) >= 5
        if long_brand:
            c["ln"] += 1
            if res.brand == target and res.score >= 50:
                c["l50"] += 1
        if res.brand == target:
            c["attr"] += 1
        else:
            # Not the best brand: is the correct brand among the attributed ones?
            try:
                if any(b == target for b, _s, _r in index.attributions(row["squat_fqdn"])):
                    c["attr"] += 1
            except InvalidDomain:
                pass
        if res.brand == target:
            c["any"] += 1
            for th in THRESHOLDS:
                if res.score >= th:
                    c[f"s{th}"] += 1
        elif len(misses[t]) < args.show_miss:
            misses[t].append(f"{row['squat_fqdn']} ({target}) -> {res.brand} {res.score}")
        for name, fn in methods.items():
            if fn(row["squat_fqdn"]) == target:
                c[name] += 1
    print(f"engine throughput on eval rows: {len(rows) / eng_s:,.0f} names/s")
    head = (
        f"{'type':9} {'n':>6} | {'attrib':>6} {'top':>6} {'>=40':>6} {'flag50':>6} {'>=75':>6}"
        f" | {'perm':>6} {'lev<=2':>6} | {'n(5+)':>6} {'>=50(5+)':>8}"
    )
    print("\nRecall with the correct brand (engine at score thresholds; baselines exact)")
    print(
        "attrib = any reason for the correct brand (any score, any rank: index.attributions);"
        " top = correct brand is the best brand (any score); flag50 = flagged at the default"
        " threshold (score >= 50); baselines: perm = exact dnstwist-style permutation table,"
        " lev<=2 = nearest brand label within Levenshtein 2"
    )
    print("(5+) = only brands whose label has 5+ characters")
    print(
        "combo-tok = combo rows where the brand label is a whole token of the name; combo = the rest"
    )
    print(head)
    for t in REPORT:
        c = per_type[t]
        if not c["n"]:
            continue
        print(
            f"{t:9} {c['n']:6d} | {_pct(c['attr'], c['n']):>6} {_pct(c['any'], c['n']):>6} "
            + " ".join(f"{_pct(c[f's{th}'], c['n']):>6}" for th in THRESHOLDS)
            + f" | {_pct(c['perm'], c['n']):>6} {_pct(c['lev<=2'], c['n']):>6}"
            + f" | {c['ln']:6d} {_pct(c['l50'], c['ln']):>8}"
        )
    for t, ms in misses.items():
        if not ms:
            continue
        print(f"\nmisses {t}:")
        for m in ms:
            print("  ", m)

    # benign
    own = set(all_targets)
    benign = [d for d in tranco() if d not in own]
    bres = score_names(index, benign)
    fp: collections.Counter[str] = collections.Counter()
    fps = []
    for dom, res in zip(benign, bres, strict=True):
        if res.brand is not None and res.score > 0:
            fp["any"] += 1
        for th in THRESHOLDS:
            if res.score >= th:
                fp[f"s{th}"] += 1
        exact_variant = bool(res.reasons and res.reasons[0].technique in ("tld-swap", "wrong-sld"))
        if exact_variant:
            for th in THRESHOLDS:
                if res.score >= th:
                    fp[f"v{th}"] += 1
        if res.score >= 50:
            fps.append((res.score, dom, res.brand, res.reasons[0].technique if res.reasons else ""))
        for name, fn in methods.items():
            if fn(dom) is not None:
                fp[name] += 1
    nb = len(benign)
    print(f"\nBenign false-positive rate on Tranco top 10k ({nb} domains not owned by the brands)")
    print(
        f"{'':9} {'':>6} | {'any':>6} {'>=40':>6} {'flag50':>6} {'>=75':>6} | {'perm':>6} {'lev<=2':>6}"
    )
    print(
        f"{'tranco':9} {nb:6d} | {fp['any'] / nb:6.4f} "
        + " ".join(f"{fp[f's{th}'] / nb:6.4f}" for th in THRESHOLDS)
        + f" | {fp['perm'] / nb:6.4f} {fp['lev<=2'] / nb:6.4f}"
    )
    print(
        f"{'excl.var':9} {nb:6d} | {'':>6} "
        + " ".join(f"{(fp[f's{th}'] - fp[f'v{th}']) / nb:6.4f}" for th in THRESHOLDS)
        + "  (excluding the brand's own label on another suffix, e.g. vodafone.de)"
    )
    fps.sort(reverse=True)
    by_tech = collections.Counter(t for _s, _d, _b, t in fps)
    print("benign hits >=50 by technique:", dict(by_tech.most_common()))
    if args.show_fp:
        print(f"\ntop benign hits at >=50 ({len(fps)} total):")
        for s, d, b, t in fps[: args.show_fp]:
            print(f"  {s:3d} {d:30} brand={b} {t}")


if __name__ == "__main__":
    main()
