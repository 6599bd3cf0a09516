"""Throughput and peak memory of the batch scorer vs a per-pair rapidfuzz loop, on real-looking names."""

from __future__ import annotations

import argparse
import random
import resource
import time

from _common import nrd_names, tranco
from rapidfuzz import fuzz

from service.detection import BrandSpec, DetectionIndex, normalize_domain, score_names

_PREFIXES = ("", "", "", "www.", "mail.", "api.", "cdn.", "login.", "shop.", "*.")
_TLDS = ("com", "net", "org", "xyz", "top", "shop", "online", "co.uk", "de", "ru", "io", "app")
_WORDS = ("login", "secure", "shop", "online", "app", "support", "store", "news", "blog", "my")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_names(n: int, brand_domains: list[str], seed: int) -> list[str]:
    """NRD names plus variations (prefixes, TLD swaps, glued words) and ~1% brand lookalikes."""
    rng = random.Random(seed)
    base = list(nrd_names())
    labels = [d.split(".", 1)[0] for d in base]
    brand_labels = [d.split(".", 1)[0] for d in brand_domains]
    out: list[str] = []
    while len(out) < n:
        r = rng.random()
        if r < 0.01:
            b = rng.choice(brand_labels)
            i = rng.randrange(len(b))
            v = rng.choice(
                [
                    b[:i] + b[i + 1 :],
                    b[:i] + b[i] + b[i:],
                    f"{b}-{rng.choice(_WORDS)}",
                    f"secure{b}",
                ]
            )
            out.append(f"{rng.choice(_PREFIXES)}{v or b}.{rng.choice(_TLDS)}")
        elif r < 0.5:
            out.append(rng.choice(base))
        else:
            lab = rng.choice(labels)
            if rng.random() < 0.3:
                lab = (
                    f"{lab}-{rng.choice(_WORDS)}"
                    if rng.random() < 0.5
                    else f"{rng.choice(_WORDS)}{lab}"
                )
            out.append(f"{rng.choice(_PREFIXES)}{lab}.{rng.choice(_TLDS)}")
    return out


def baseline(names: list[str], brand_labels: list[str]) -> tuple[float, int]:
    """Per-pair loop: normalize, then fuzz.ratio of the registrable label against every brand."""
    t0 = time.perf_counter()
    hits = 0
    for name in names:
        try:
            reg = normalize_domain(name).registrable
        except ValueError:
            continue
        label = reg.split(".", 1)[0] if reg else ""
        for b in brand_labels:
            if fuzz.ratio(label, b) >= 85:
                hits += 1
                break
    return time.perf_counter() - t0, hits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--names", type=int, default=1_000_000, help="names to score")
    ap.add_argument("--brands", type=int, default=1000, help="brands (first N Tranco domains)")
    ap.add_argument(
        "--baseline-sample", type=int, default=2000, help="names for the per-pair baseline"
    )
    ap.add_argument("--batch", type=int, default=5000, help="batch size passed to score_names")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--cache-size",
        type=int,
        default=None,
        help="entries per engine cache (labels, names); 0 disables caching (worst case)",
    )
    args = ap.parse_args()

    brand_domains = tranco(args.brands)
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    index = DetectionIndex.build([BrandSpec(name=d, domains=(d,)) for d in brand_domains])
    build_s = time.perf_counter() - t0
    if args.cache_size is not None:
        index.cache_size = args.cache_size
    rss_index = _rss_mb()
    names = make_names(args.names, brand_domains, args.seed)
    rss_names = _rss_mb()
    print(
        f"brands={len(brand_domains)} names={len(names):,} distinct={len(set(names)):,} "
        f"cache_size={index.cache_size:,} index build={build_s:.2f}s "
        f"rss: start {rss0:.0f} MB, after index {rss_index:.0f} MB, after names {rss_names:.0f} MB"
    )

    flagged = errors = 0
    t0 = time.perf_counter()
    for i in range(0, len(names), args.batch):
        for res in score_names(index, names[i : i + args.batch]):
            flagged += res.flagged
            errors += res.error is not None
    eng_s = time.perf_counter() - t0
    print(
        f"engine:   {len(names) / eng_s:>10,.0f} names/s  ({eng_s:.1f}s, flagged {flagged:,}, "
        f"errors {errors:,}), peak RSS {_rss_mb():.0f} MB"
    )

    sample = names[: args.baseline_sample]
    labels = [d.split(".", 1)[0] for d in brand_domains]
    base_s, hits = baseline(sample, labels)
    rate = len(sample) / base_s
    print(
        f"baseline: {rate:>10,.0f} names/s  (per-pair fuzz.ratio loop over {len(labels)} brands, "
        f"measured on {len(sample):,} names, {hits} hits; extrapolated to {len(names):,} names: "
        f"{len(names) / rate:,.0f}s)"
    )


if __name__ == "__main__":
    main()
