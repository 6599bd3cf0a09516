"""Per-brand-set index and scorer: dict lookups, token automata and length buckets, built once."""

from __future__ import annotations

import gc
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import ahocorasick
import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA, DamerauLevenshtein, JaroWinkler, Levenshtein

from service.detection import lexicon
from service.detection.models import (
    DEFAULT_MIN_SCORE,
    BrandSpec,
    Reason,
    ScoreResult,
    severity_for,
)
from service.detection.normalize import (
    InvalidDomain,
    NormalizedName,
    from_split,
    normalize_domain,
    resolve_suffix,
    skeleton,
    skeleton_unaccented,
    split_ascii,
)
from service.detection.techniques import homoglyph, typo

__all__ = ["DetectionIndex", "score_names"]

_SEPARATORS = frozenset("-_0123456789")
# Whole runs of letters or of digits, of at most 3 characters (short brands' tokens).
_SHORT_TOKEN = re.compile(r"(?<![a-z])[a-z]{1,3}(?![a-z])|(?<![0-9])[0-9]{1,3}(?![0-9])")
# Keywords at least this long get a distance-2 fuzzy pass; shorter ones would
# match half the dictionary at distance 2.
_FUZZY_MIN_LEN = 8
_MAX_SCORE = 99
# Every one-edit / same-skeleton neighbour of a brand keeps at least this score,
# so it is attributed to the brand (severity "none", never flagged) even when
# the evidence is too weak to alert on (two-letter brands, everyday words).
_ATTRIBUTION_FLOOR = 10
# Entries per cache (labels, names) before it is reset; 0 disables caching.
_CACHE_SIZE = 300_000

# Kinds of evidence about the registrable label, cached per label.
_EXACT, _HOMOGRAPH, _TYPO = 0, 1, 2
# (kind, keyword id, technique, detail, penalty or skeleton distance, edits)
_CoreHit = tuple[int, int, str, str, int, tuple[str, ...] | None]
_V = TypeVar("_V")
_Fast = tuple[str, list[str], bool, int, int]

STRONG, MEDIUM, WEAK = "strong", "medium", "weak"
# How a brand token in a label is spelled: as the keyword, with lookalike
# characters only (``micros0ft``: deliberate), or one edit away (``microsft``).
EXACT, LOOKALIKE, ONE_EDIT = 0, 1, 2
_DIGIT_LOOKALIKES = str.maketrans("01", "ol")


@dataclass(frozen=True)
class _Keyword:
    text: str
    compact: str
    skel: str
    brand: int
    tier: str


@dataclass
class _Brand:
    spec: BrandSpec
    own: frozenset[str]
    official_suffixes: frozenset[str]
    official_label_seqs: tuple[tuple[str, ...], ...]
    allow: frozenset[str]
    min_score: int


def _tier(word: str) -> str:
    n = len(word)
    common = lexicon.is_common_word(word)
    if n >= 5 and not common:
        return STRONG
    if n >= 5 or (n == 4 and not common):
        return MEDIUM
    return WEAK


def _add(d: dict[str, list[int]], key: str, value: int) -> None:
    lst = d.get(key)
    if lst is None:
        d[key] = [value]
    elif value not in lst:
        lst.append(value)


class DetectionIndex:
    """Everything needed to score names against a brand set, precomputed once."""

    def __init__(self, brands: Sequence[BrandSpec]) -> None:
        self.brands: tuple[BrandSpec, ...] = tuple(brands)
        self._brands: list[_Brand] = []
        self._kw: list[_Keyword] = []
        self._exact: dict[str, list[int]] = {}
        self._skel_d1: dict[str, list[int]] = {}
        # Keyword text, compact text and skeleton, each with its one-character
        # deletions -> keyword ids (symmetric deletion index for one-edit lookups).
        self._any_d1: dict[str, list[int]] = {}
        # First and last two characters of every keyword form of 5+ characters (three
        # of 6+) -> bitmask of the form lengths: a cheap test that rules out one-edit
        # neighbours of most long labels before the deletion lookups.
        self._heads: dict[str, int] = {}
        self._tails: dict[str, int] = {}
        self._fuzzy_batch: dict[str, list[tuple[int, int]]] = {}
        self.cache_size = _CACHE_SIZE
        self._core_cache: dict[str, tuple[_CoreHit, ...]] = {}
        self._hits_cache: dict[str, tuple[tuple[int, int, int, int], ...]] = {}
        self._label_cache: dict[
            str,
            tuple[
                tuple[tuple[int, int, int, int], ...], tuple[tuple[int, int, str, int, bool], ...]
            ],
        ] = {}
        # Raw line -> result (or (domain, registrable) for names without evidence).
        self._result_cache: dict[str, ScoreResult | tuple[str, str | None]] = {}
        self._variants: dict[str, list[tuple[int, str, str]]] = {}
        self._short: dict[str, list[int]] = {}
        self._own: dict[str, list[int]] = {}
        self._watch: dict[str, list[int]] = {}
        self._fuzzy_buckets: dict[int, list[tuple[str, int]]] = {}
        self._fuzzy_windows: dict[int, tuple[list[str], list[int]]] = {}
        self._ac = ahocorasick.Automaton()
        self._words = ahocorasick.Automaton()
        self._build()

    @classmethod
    def build(cls, brands: Sequence[BrandSpec]) -> DetectionIndex:
        """Build the index for a brand set (validates official domains)."""
        return cls(brands)

    # ------------------------------------------------------------------ build
    def _build(self) -> None:
        ac_forms: dict[str, list[int]] = {}
        for b_idx, spec in enumerate(self.brands):
            regs: list[str] = []
            suffixes: set[str] = set()
            seqs: list[tuple[str, ...]] = []
            for dom in spec.domains:
                n = normalize_domain(dom)
                if n.registrable is None:
                    raise InvalidDomain(
                        f"brand {spec.name!r}: not a registrable domain: "
                        f"{n.ascii!r} is a public suffix"
                    )
                regs.append(n.registrable)
                suffixes.add(n.suffix)
                seqs.append(tuple(n.registrable.split(".")))
                _add(self._own, n.registrable, b_idx)
            allow: set[str] = set()
            for entry in spec.allow:
                e = entry.strip().lstrip("*").lstrip(".")
                if e:
                    allow.add(normalize_domain(e).ascii)
            for w in spec.watchlist:
                try:
                    wn = normalize_domain(w)
                except InvalidDomain:
                    continue
                _add(self._watch, wn.ascii, b_idx)
            self._brands.append(
                _Brand(
                    spec=spec,
                    own=frozenset(regs),
                    official_suffixes=frozenset(suffixes),
                    official_label_seqs=tuple(seqs),
                    allow=frozenset(allow),
                    min_score=spec.min_score if spec.min_score is not None else DEFAULT_MIN_SCORE,
                )
            )
            keywords = [k.strip().lower() for k in spec.keywords if k.strip()]
            if not keywords:
                keywords = [r.split(".", 1)[0] for r in regs]
            for raw_kw in dict.fromkeys(keywords):
                try:
                    kw_text = normalize_domain(raw_kw + ".invalid").labels[0]
                except InvalidDomain:
                    continue
                if kw_text.startswith("xn--"):
                    kw_uni = normalize_domain(raw_kw + ".invalid").unicode_labels[0]
                    kw_skel = skeleton(kw_uni)
                else:
                    kw_skel = skeleton(kw_text)
                compact = kw_text.replace("-", "")
                kw = _Keyword(kw_text, compact, kw_skel, b_idx, _tier(compact))
                k_id = len(self._kw)
                self._kw.append(kw)
                _add(self._exact, kw_text, k_id)
                _add(self._exact, compact, k_id)
                _add(self._skel_d1, kw_skel, k_id)
                for d in typo.deletes(kw_skel):
                    _add(self._skel_d1, d, k_id)
                # Raw-text neighbours too: a one-letter typo can move the skeleton
                # two steps (cnn -> crn, whose skeleton is "cm").
                for form in {kw_text, compact, kw_skel}:
                    _add(self._any_d1, form, k_id)
                    for d in typo.deletes(form):
                        _add(self._any_d1, d, k_id)
                    for k in (2, 3):
                        if len(form) >= k + 3:
                            bit = 1 << len(form)
                            self._heads[form[:k]] = self._heads.get(form[:k], 0) | bit
                            self._tails[form[-k:]] = self._tails.get(form[-k:], 0) | bit
                for v, tech, detail in typo.variants(kw_text):
                    if v != kw_text and v:
                        self._variants.setdefault(v, []).append((k_id, tech, detail))
                if len(compact) >= _FUZZY_MIN_LEN:
                    self._fuzzy_buckets.setdefault(len(compact), []).append((compact, k_id))
                if len(compact) <= 3:
                    _add(self._short, compact, k_id)
                else:
                    for form in {compact, kw_text, kw_skel}:
                        if form.isascii():
                            _add(ac_forms, form, k_id)
        # One precomputed choice list per candidate length (keywords within +-2).
        lengths = set(self._fuzzy_buckets)
        for length in range(min(lengths, default=0) - 2, max(lengths, default=0) + 3):
            window = [
                item
                for ln in range(length - 2, length + 3)
                for item in self._fuzzy_buckets.get(ln, ())
            ]
            if window:
                self._fuzzy_windows[length] = ([c for c, _ in window], [k for _, k in window])
        for form, ids in ac_forms.items():
            self._ac.add_word(form, (form, tuple(ids)))
        if ac_forms:
            self._ac.make_automaton()
        for w in lexicon.RISK_WORDS | lexicon.CONTEXT_WORDS | lexicon.PHANTOM_WORDS:
            strength = 2 if w in lexicon.RISK_WORDS else 1 if w in lexicon.CONTEXT_WORDS else 0
            self._words.add_word(w, (w, strength, w in lexicon.PHANTOM_WORDS))
        self._words.make_automaton()

    # ------------------------------------------------------------------ score
    def score(self, name: str) -> ScoreResult:
        """Score one name (see score_names for batches)."""
        return score_names(self, [name])[0]

    def _allowed(self, b: _Brand, n: NormalizedName) -> bool:
        if n.registrable in b.own:
            return True
        if not b.allow:
            return False
        labels = n.labels
        return any(".".join(labels[i:]) in b.allow for i in range(len(labels)))

    def _brand_scores(
        self, n: NormalizedName, fuzzy: list[tuple[int, int]] | None = None
    ) -> list[tuple[int, int, list[Reason]]]:
        """(brand index, score, reasons best first) for every brand with evidence."""
        reasons: dict[int, list[Reason]] = {}
        if n.registrable is not None:
            self._collect(n, reasons, fuzzy)
        out: list[tuple[int, int, list[Reason]]] = []
        for b_idx, rs in reasons.items():
            b = self._brands[b_idx]
            if self._allowed(b, n):
                continue
            rs.sort(key=lambda r: -r.score)
            techniques = {r.technique for r in rs[1:] if r.score >= 40} - {rs[0].technique}
            total = min(_MAX_SCORE, rs[0].score + 4 * min(2, len(techniques)))
            out.append((b_idx, total, rs))
        return out

    def attributions(self, name: str) -> list[tuple[str, int, list[Reason]]]:
        """Every brand the name is evidence against: (brand name, score, reasons), best first.

        ``score`` reports only the best brand; a name one edit from several short
        brands (``dbs`` vs ``db``, ``rbs``, ``pbs``) is attributed to all of them here.
        Raises InvalidDomain for a bad name.
        """
        n = normalize_domain(name)
        found = [
            (self._brands[b_idx].spec.name, total, rs) for b_idx, total, rs in self._brand_scores(n)
        ]
        found.sort(key=lambda t: -t[1])
        return found

    def evaluate(
        self, n: NormalizedName, fuzzy: list[tuple[int, int]] | None = None
    ) -> ScoreResult:
        """Score a normalized name; ``fuzzy`` holds precomputed (keyword id, distance) pairs."""
        best_b = -1
        best_score = 0
        best_reasons: list[Reason] = []
        for b_idx, total, rs in self._brand_scores(n, fuzzy):
            if total > best_score:
                best_b, best_score, best_reasons = b_idx, total, rs
        brand = self._brands[best_b] if best_b >= 0 else None
        return ScoreResult(
            input="",
            domain=n.ascii,
            unicode=n.unicode,
            registrable=n.registrable,
            brand=brand.spec.name if brand else None,
            score=best_score,
            severity=severity_for(best_score),
            flagged=brand is not None and best_score >= brand.min_score,
            reasons=best_reasons,
        )

    # -------------------------------------------------------------- collect
    def _reason(
        self,
        out: dict[int, list[Reason]],
        k_id: int,
        technique: str,
        detail: str,
        score: int,
        **extra: object,
    ) -> None:
        self._reason_b(out, self._kw[k_id].brand, technique, detail, score, **extra)

    def _reason_b(
        self,
        out: dict[int, list[Reason]],
        b_idx: int,
        technique: str,
        detail: str,
        score: int,
        **extra: object,
    ) -> None:
        r = Reason(
            technique=technique,
            detail=detail,
            brand=self._brands[b_idx].spec.name,
            score=max(0, min(_MAX_SCORE, score)),
            **extra,  # type: ignore[arg-type]
        )
        lst = out.setdefault(b_idx, [])
        for old in lst:
            if old.technique == r.technique and old.score >= r.score:
                return
        lst.append(r)

    def _collect(
        self,
        n: NormalizedName,
        out: dict[int, list[Reason]],
        fuzzy: list[tuple[int, int]] | None,
    ) -> None:
        labels = n.labels
        assert n.registrable is not None
        core_idx = len(labels) - n.registrable.count(".") - 1
        core = labels[core_idx]
        core_u = n.unicode_labels[core_idx] if n.unicode_labels else core
        core_sk = n.skeletons[core_idx] if n.skeletons else skeleton(core_u)
        is_idn = core != core_u
        tld = labels[-1]
        # The platform's own apex (github.io) is not hosted content; names under it are.
        hosting = n.private_suffix or (
            core_idx > 0 and n.registrable in lexicon.HOSTING_REGISTRABLES
        )
        abused = tld in lexicon.ABUSED_TLDS

        for b_idx in {*self._watch.get(n.ascii, ()), *self._watch.get(n.registrable, ())}:
            b = self._brands[b_idx]
            self._reason_b(
                out,
                b_idx,
                "phantom-watchlist",
                f"{n.ascii} is on {b.spec.name}'s phantom watchlist",
                92,
                matched=n.ascii,
            )

        # 1-4. the registrable label itself: exact keyword on another suffix,
        # generated variants, one edit / same skeleton, distance 2 for long keywords.
        if fuzzy is None:
            hits = self._core_hits(core, core_u, core_sk, is_idn)
        else:
            hits = self._compute_core_hits(core, core_u, core_sk, is_idn, fuzzy)
        for kind, k_id, tech, detail, extra, edits in hits:
            if kind == _EXACT:
                self._tld_swap(out, k_id, n, hosting, abused)
            elif kind == _HOMOGRAPH:
                self._homograph(out, k_id, n, core_u, core_sk, extra)
            else:
                self._typo(out, k_id, n, tech, detail, abused, penalty=extra, edits=edits)

        # 5. dot moved inside the brand: pay.pal.com
        if core_idx > 0:
            joined = labels[core_idx - 1] + core
            for k_id in self._exact.get(joined, ()):
                self._typo(
                    out,
                    k_id,
                    n,
                    "dot-insertion",
                    f"dot inside the brand: {labels[core_idx - 1]}.{core}",
                    abused,
                )

        # 6. brand tokens inside labels: combosquatting, subdomain impersonation, phantom.
        self._tokens(n, out, core_idx, hosting, abused)

    def _core_hits(
        self, core: str, core_u: str, core_sk: str, is_idn: bool
    ) -> tuple[_CoreHit, ...]:
        """Evidence about a registrable label that depends on the label alone (cached)."""
        hit = self._core_cache.get(core_u)
        if hit is None:
            hit = self._compute_core_hits(core, core_u, core_sk, is_idn, None)
            if self.cache_size:
                if len(self._core_cache) >= self.cache_size:
                    _evict(self._core_cache)
                self._core_cache[core_u] = hit
        return hit

    def _compute_core_hits(
        self,
        core: str,
        core_u: str,
        core_sk: str,
        is_idn: bool,
        fuzzy: list[tuple[int, int]] | None,
    ) -> tuple[_CoreHit, ...]:
        hits: list[_CoreHit] = []
        for k_id in self._exact.get(core, ()):
            hits.append((_EXACT, k_id, "", "", 0, None))
        skels = [core_sk]
        if is_idn:
            bare = skeleton_unaccented(core_u)
            if bare != core_sk:
                skels.append(bare)
            for sk in skels:
                for k_id in self._exact.get(sk, ()):
                    hits.append((_HOMOGRAPH, k_id, "", "", 0, None))
        # Generated variants no single edit reaches.
        for k_id, tech, detail in self._variants.get(core, ()):
            hits.append((_TYPO, k_id, tech, detail, 0, None))
        # One edit away, at skeleton level or on the raw text: symmetric deletion
        # lookups (len + 1 dict hits whatever the number of brands), confirmed by
        # an exact Damerau-Levenshtein check.
        cands: dict[int, None] = {}
        if len(core_sk) <= 40:
            d1 = self._any_d1
            queries = skels if is_idn or core == core_sk else [core, core_sk]
            for q in queries:
                if self._no_keyword_near(q):
                    continue
                for k_id in d1.get(q, ()):
                    cands[k_id] = None
                for i in range(len(q)):
                    ids = d1.get(q[:i] + q[i + 1 :])
                    if ids:
                        for k_id in ids:
                            cands[k_id] = None
        for k_id in cands:
            kw = self._kw[k_id]
            if core == kw.text or core == kw.compact:
                continue
            if is_idn:
                dist = min(DamerauLevenshtein.distance(sk, kw.skel, score_cutoff=1) for sk in skels)
                if dist <= 1:
                    hits.append((_HOMOGRAPH, k_id, "", "", dist, None))
                continue
            c = None
            for form in dict.fromkeys((kw.text, kw.compact)):
                if DamerauLevenshtein.distance(core, form, score_cutoff=1) == 1:
                    c = typo.classify_edit(form, core) or ("typo", "one edit")
                    break
            if c is not None:
                hits.append((_TYPO, k_id, c[0], c[1], 0, None))
            elif core_sk == kw.skel:
                hits.append((_TYPO, k_id, "homoglyph", "ASCII lookalike characters", 0, None))
            elif DamerauLevenshtein.distance(core_sk, kw.skel, score_cutoff=1) <= 1:
                pen = 8 if len(kw.compact) >= 5 else 15
                hits.append((_TYPO, k_id, "homoglyph", "ASCII lookalikes plus one edit", pen, None))
        # Distance-2 fuzzy matches for long keywords.
        if is_idn:
            return tuple(hits)
        if fuzzy is None:
            pre = self._fuzzy_batch.get(core)
            fuzzy = pre if pre is not None else self.fuzzy_candidates(core)
        near = {h[1] for h in hits} if fuzzy else ()
        for k_id, _dist in fuzzy:
            if k_id in near:
                continue  # a closer technique already names it
            kw = self._kw[k_id]
            if DamerauLevenshtein.distance(core, kw.compact, score_cutoff=2) != 2:
                continue
            jw = JaroWinkler.similarity(core, kw.compact)
            if jw < 0.88:
                continue
            ops = tuple(
                f"{op.tag} {kw.compact[op.src_pos] if op.src_pos < len(kw.compact) else ''}"
                f"->{core[op.dest_pos] if op.tag != 'delete' and op.dest_pos < len(core) else ''}"
                f" at {op.src_pos}"
                for op in Levenshtein.editops(kw.compact, core)
            )
            # Two edits on a long name is weak alone: many real names sit two
            # edits from some brand (gamestop/gamespot), so keep it low.
            pen = 40 if len(kw.compact) < 10 else 35
            hits.append((_TYPO, k_id, "fuzzy", f"two edits, Jaro-Winkler {jw:.2f}", pen, ops))
        return tuple(hits)

    def _prefetch_fuzzy(self, cores: Iterable[str]) -> None:
        """Distance-2 candidates for many labels at once: one cdist call per length window."""
        by_len: dict[int, list[str]] = {}
        for core in cores:
            if len(core) in self._fuzzy_windows:
                by_len.setdefault(len(core), []).append(core)
        for length, group in by_len.items():
            choices, ids = self._fuzzy_windows[length]
            if len(group) < 8:
                for core in group:
                    self._fuzzy_batch[core] = self.fuzzy_candidates(core)
                continue
            mat = process.cdist(
                group, choices, scorer=OSA.distance, score_cutoff=2, dtype=np.int8, workers=1
            )
            found: dict[int, list[tuple[int, int]]] = {}
            for row, col in zip(*np.nonzero(mat == 2), strict=True):
                found.setdefault(int(row), []).append((ids[int(col)], 2))
            # Each label's list is published whole, empty ones too: the index is shared
            # by threads (CT logs commit concurrently), and a label missing here only
            # means "compute it", never "no candidates".
            for row, core in enumerate(group):
                self._fuzzy_batch[core] = found.get(row, [])

    def fuzzy_candidates(self, core: str) -> list[tuple[int, int]]:
        """(keyword id, Levenshtein distance) for long keywords within distance 2 of ``core``."""
        window = self._fuzzy_windows.get(len(core))
        if window is None:
            return []
        choices, ids = window
        found = process.extract(core, choices, scorer=OSA.distance, score_cutoff=2, limit=None)
        return [(ids[pos], int(dist)) for _c, dist, pos in found if dist == 2]

    # ---------------------------------------------------------- technique scores
    def _tld_swap(
        self,
        out: dict[int, list[Reason]],
        k_id: int,
        n: NormalizedName,
        hosting: bool,
        abused: bool,
    ) -> None:
        kw = self._kw[k_id]
        b = self._brands[kw.brand]
        if n.registrable in b.own:
            return
        if hosting:
            base = {STRONG: 70, MEDIUM: 55, WEAK: 40}[kw.tier]
            self._reason(
                out,
                k_id,
                "subdomain-impersonation",
                f"brand name as a site on shared hosting {n.suffix}",
                base,
                matched=kw.text,
                tld_risk="free-hosting",
            )
            return
        # Same label on another suffix is often the brand's own ccTLD site:
        # medium, not high, unless the TLD is an abuse favourite.
        base = {STRONG: 65, MEDIUM: 50, WEAK: 40}[kw.tier]
        if len(kw.compact) <= 2:
            base = 30
        parts = n.suffix.split(".")
        official_tlds = {s.rsplit(".", 1)[-1] for s in b.official_suffixes}
        official_slds = {s.split(".")[0] for s in b.official_suffixes}
        if len(parts) > 1 and (
            parts[0] in official_slds or parts[0] in {"com", "net", "org", "co"}
        ):
            tech, detail = "wrong-sld", f"brand under second-level domain .{n.suffix}"
        else:
            tech, detail = (
                "tld-swap",
                f"brand on .{n.suffix} instead of "
                + ", ".join("." + s for s in sorted(b.official_suffixes)),
            )
        del official_tlds
        self._reason(
            out,
            k_id,
            tech,
            detail,
            base + (10 if abused else 0),
            matched=kw.text,
            tld_risk="abused" if abused else None,
        )

    def _typo(
        self,
        out: dict[int, list[Reason]],
        k_id: int,
        n: NormalizedName,
        tech: str,
        detail: str,
        abused: bool,
        penalty: int = 0,
        edits: tuple[str, ...] | None = None,
    ) -> None:
        kw = self._kw[k_id]
        b = self._brands[kw.brand]
        if n.registrable in b.own:
            return
        length = len(kw.compact)
        # Shorter brands have many legitimate one-edit neighbours (asos/asus,
        # match/patch), so one edit is weaker evidence the shorter the brand.
        if length >= 8:
            base = 82
        elif length >= 6:
            base = 75
        elif length == 5:
            base = 65
        elif length == 4:
            base = 52
        elif length == 3:
            base = 42
        else:
            base = 25
        if tech == "homoglyph":
            base += 5
        if n.suffix in b.official_suffixes:
            base += 5
        elif abused:
            base += 3
        elif length <= 5:
            base -= 5
        if typo.is_arbitrary(tech, detail):
            # Neither a slip of the finger nor a lookalike: a different name, as often as not.
            base -= 8
        if lexicon.is_common_word(kw.compact, top=1500) and tech != "homoglyph":
            # news/live/time: every one-letter variant is some other site.
            base -= 10
        core = n.registrable.split(".", 1)[0] if n.registrable else ""
        rank = lexicon.word_rank(core)
        if rank is not None and rank < 30000 and tech != "homoglyph":
            # The lookalike is itself an everyday word: more likely its own business.
            base -= 20
        self._reason(
            out,
            k_id,
            tech,
            detail,
            max(_ATTRIBUTION_FLOOR, base - penalty),
            matched=core,
            edits=edits if edits is not None else (detail,),
            keyword=kw.text,
            tld_risk="abused" if abused else None,
        )

    def _homograph(
        self,
        out: dict[int, list[Reason]],
        k_id: int,
        n: NormalizedName,
        core_u: str,
        core_sk: str,
        dist: int,
    ) -> None:
        kw = self._kw[k_id]
        length = len(kw.compact)
        base = 95 if length >= 4 else 80 if length == 3 else 60
        if dist:
            base -= 12
        detail = homoglyph.describe(core_u)
        if dist:
            detail += " plus one edit"
        self._reason(
            out,
            k_id,
            "homoglyph",
            detail,
            base,
            matched=core_u,
            keyword=kw.text,
            edits=(f"skeleton {core_sk!r} vs {kw.skel!r}",),
        )

    # ---------------------------------------------------------------- tokens
    def _tokens(
        self,
        n: NormalizedName,
        out: dict[int, list[Reason]],
        core_idx: int,
        hosting: bool,
        abused: bool,
    ) -> None:
        labels = n.labels
        if any(lab.startswith("xn--") for lab in labels[: core_idx + 1]):
            labels = tuple(n.skeletons[: core_idx + 1]) + labels[core_idx + 1 :]
        # (k_id, label index, start in label, end in label, spelling)
        hits: list[tuple[int, int, int, int, int]] = []
        for li in range(core_idx + 1):
            lab = labels[li]
            for k_id, s, e, mis in self._label_hits(lab):
                if li == core_idx and s == 0 and e == len(lab):
                    continue
                hits.append((k_id, li, s, e, mis))
        if not hits:
            return
        words: list[tuple[int, int, int, str, int, bool]] = []
        for li in range(core_idx + 1):
            for ws, we, w, r, p in self._label_tokens(labels[li])[1]:
                words.append((li, ws, we, w, r, p))
        risk: list[str] = []
        service: list[str] = []
        for k_id, li, s, e, misspelled in hits:
            kw = self._kw[k_id]
            lab = labels[li]
            if not misspelled and not self._is_token(lab, s, e, kw.tier, bool(words)):
                continue
            if words:
                risk = sorted(
                    {
                        w
                        for (w_li, ws, we, w, r, _p) in words
                        if r and not (w_li == li and ws < e and we > s)
                    },
                    key=lambda w: (-int(w in lexicon.RISK_WORDS), w),
                )
                service = sorted(
                    {
                        w
                        for (w_li, ws, we, w, _r, p) in words
                        if p and not (w_li == li and ws < e and we > s)
                    }
                )
            self._combo_reason(
                out, n, k_id, li, s, e, core_idx, risk, service, hosting, abused, misspelled
            )

    def _may_match(self, name: str, labels: list[str], registrable: str) -> bool:
        """Cheap necessary condition for any evidence on a plain ASCII name.

        False only when no technique of ``_collect`` can fire: no watchlist entry,
        no exact/variant/one-edit/fuzzy hit on the registrable label (cached per
        label), no brand token in any label left of the suffix, no dot inside a brand.
        """
        if self._watch and (name in self._watch or registrable in self._watch):
            return True
        core_idx = len(labels) - registrable.count(".") - 1
        core = labels[core_idx]
        n_core = len(core)
        for _k, s, e, _m in self._label_hits(core):
            if s or e != n_core:
                return True
        if self._core_hits(core, core, skeleton(core), False):
            return True
        for lab in labels[:core_idx]:
            if self._label_hits(lab):
                return True
        return core_idx > 0 and (labels[core_idx - 1] + core) in self._exact

    def score_one(self, raw: str) -> ScoreResult:
        """Score one raw input line (the per-name step of score_names)."""
        hit = self._result_cache.get(raw)
        if hit is not None:
            return _from_cache(hit, raw)
        return self._score_fresh(raw, split_ascii(raw))

    def _score_fresh(self, raw: str, fast: _Fast | None) -> ScoreResult:
        res: ScoreResult | None = None
        entry: ScoreResult | tuple[str, str | None]
        if fast is not None:
            name, labels, _wild, full_n, icann_n = fast
            registrable = resolve_suffix(labels, (full_n, icann_n))[0]
            if registrable is None or not self._may_match(name, labels, registrable):
                entry = (name, registrable)
                res = _no_evidence(raw, name, registrable)
        if res is None:
            try:
                n = from_split(fast) if fast is not None else normalize_domain(raw)
            except InvalidDomain as exc:
                res = ScoreResult(
                    input=raw,
                    domain=None,
                    unicode=None,
                    registrable=None,
                    brand=None,
                    score=0,
                    severity="none",
                    flagged=False,
                    error=str(exc),
                )
            else:
                res = self.evaluate(n)
                res.input = raw
            entry = _with_input(res, raw)
        if self.cache_size:
            if len(self._result_cache) >= self.cache_size:
                _evict(self._result_cache)
            self._result_cache[raw] = entry
        return res

    def _no_keyword_near(self, q: str) -> bool:
        """True when no keyword form (text, compact, skeleton) is within one edit of `q`.

        Decided only for `q` of 6+ characters (else False: look it up): one edit
        changes the length by at most one and leaves the first or the last k
        characters of a string of k + 4 or more in place.
        """
        n_q = len(q)
        if n_q < 6:
            return False
        k = 3 if n_q >= 7 else 2
        return not (self._heads.get(q[:k], 0) | self._tails.get(q[-k:], 0)) >> (n_q - 1) & 7

    def _token_typo(self, tok: str) -> list[tuple[int, int]]:
        """(keyword id, LOOKALIKE or ONE_EDIT) for keywords a hyphen-delimited token imitates."""
        sk = skeleton(tok)
        if self._no_keyword_near(sk):
            return []
        cands = set(self._skel_d1.get(sk, ()))
        for d in typo.deletes(sk):
            cands.update(self._skel_d1.get(d, ()))
        found: list[tuple[int, int]] = []
        for k_id in cands:
            kw = self._kw[k_id]
            if kw.tier == WEAK or tok == kw.compact or tok == kw.text:
                continue
            if sk == kw.skel:
                found.append((k_id, LOOKALIKE))
            elif (
                kw.tier == STRONG and DamerauLevenshtein.distance(sk, kw.skel, score_cutoff=1) <= 1
            ):
                found.append((k_id, ONE_EDIT))
        return found

    def _is_token(self, lab: str, s: int, e: int, tier: str, has_words: bool) -> bool:
        left = s == 0 or lab[s - 1] in _SEPARATORS
        right = e == len(lab) or lab[e] in _SEPARATORS
        if left and right:
            return True
        if not has_words and tier != STRONG:
            return False
        # Find the hyphen-delimited piece and check the segmentation agrees.
        p0 = lab.rfind("-", 0, s) + 1
        p1 = lab.find("-", e)
        if p1 == -1:
            p1 = len(lab)
        piece = lab[p0:p1]
        bounds = lexicon.word_boundaries(piece)
        return (left or (s - p0) in bounds) and (right or (e - p0) in bounds)

    def _label_hits(self, lab: str) -> tuple[tuple[int, int, int, int], ...]:
        """Brand tokens (k_id, start, end, EXACT/LOOKALIKE/ONE_EDIT) in one label (cached)."""
        cached = self._hits_cache.get(lab)
        if cached is not None:
            return cached
        hits: list[tuple[int, int, int, int]] = []
        for end, (form, ids) in self._ac.iter(lab):
            start = end - len(form) + 1
            for k_id in ids:
                hits.append((k_id, start, end + 1, EXACT))
        if self._short:
            for m in _SHORT_TOKEN.finditer(lab):
                for k_id in self._short.get(m.group(), ()):
                    hits.append((k_id, m.start(), m.end(), EXACT))
        if ("0" in lab or "1" in lab) and not lab.startswith("xn--"):
            # Digits for lookalike letters glued to other words (paypa1login):
            # the whole-label case is the homoglyph technique's.
            folded = lab.translate(_DIGIT_LOOKALIKES)
            for end, (form, ids) in self._ac.iter(folded):
                start = end - len(form) + 1
                if lab[start : end + 1] == form:
                    continue  # spelled plainly: found above
                for k_id in ids:
                    if self._kw[k_id].tier != WEAK:
                        hits.append((k_id, start, end + 1, LOOKALIKE))
        if "-" in lab:
            # A distinctive brand split by hyphens (wells-fargo-secure): match the
            # label without them and map the span back.
            joined = lab.replace("-", "")
            where: list[int] | None = None
            for end, (form, ids) in self._ac.iter(joined):
                start = end - len(form) + 1
                if where is None:
                    where = [i for i, ch in enumerate(lab) if ch != "-"]
                s0, e0 = where[start], where[end] + 1
                if e0 - s0 == len(form):
                    continue  # no hyphen inside: found above
                for k_id in ids:
                    if self._kw[k_id].tier == STRONG:
                        hits.append((k_id, s0, e0, EXACT))
            off = 0
            typo_keys: dict[tuple[int, int], int] = {}
            for tok in lab.split("-"):
                if len(tok) >= 5:
                    for k_id, kind in self._token_typo(tok):
                        hits.append((k_id, off, off + len(tok), kind))
                        typo_keys[k_id, off] = kind
                off += len(tok) + 1
            if typo_keys:
                # Same (keyword, start) as a misspelled token: report it as misspelled.
                hits = [(k, s, e, m or typo_keys.get((k, s), EXACT)) for k, s, e, m in hits]
        result = tuple(dict.fromkeys(hits)) if len(hits) > 1 else tuple(hits)
        if self.cache_size:
            if len(self._hits_cache) >= self.cache_size:
                _evict(self._hits_cache)
            self._hits_cache[lab] = result
        return result

    def _label_tokens(
        self, lab: str
    ) -> tuple[tuple[tuple[int, int, int, int], ...], tuple[tuple[int, int, str, int, bool], ...]]:
        """Brand tokens (k_id, start, end, spelling) and context words of one label (cached)."""
        cached = self._label_cache.get(lab)
        if cached is not None:
            return cached
        hits = self._label_hits(lab)
        n = len(lab)
        words: list[tuple[int, int, str, int, bool]] = []
        for end, (w, is_risk, is_phantom) in self._words.iter(lab):
            s = end - len(w) + 1
            e = end + 1
            left = s == 0 or lab[s - 1] in _SEPARATORS
            right = e == n or lab[e] in _SEPARATORS
            if not (left and right):
                if len(w) < 4:
                    continue
                # A glued word counts only if each open side abuts a brand hit
                # (``paypallogin``) or falls on a word boundary of the segmentation.
                left = left or any(he == s for _k, _hs, he, _m in hits)
                right = right or any(hs == e for _k, hs, _he, _m in hits)
                if not (left and right):
                    p0 = lab.rfind("-", 0, s) + 1
                    p1 = lab.find("-", e)
                    p1 = n if p1 == -1 else p1
                    bounds = lexicon.word_boundaries(lab[p0:p1])
                    if not ((left or s - p0 in bounds) and (right or e - p0 in bounds)):
                        continue
            words.append((s, e, w, is_risk, is_phantom))
        result = (hits, tuple(words))
        if self.cache_size:
            if len(self._label_cache) >= self.cache_size:
                _evict(self._label_cache)
            self._label_cache[lab] = result
        return result

    def _combo_reason(
        self,
        out: dict[int, list[Reason]],
        n: NormalizedName,
        k_id: int,
        li: int,
        s: int,
        e: int,
        core_idx: int,
        risk: list[str],
        service: list[str],
        hosting: bool,
        abused: bool,
        misspelled: int = EXACT,
    ) -> None:
        kw = self._kw[k_id]
        b = self._brands[kw.brand]
        lab = n.labels[li]
        token = lab[s:e]
        tld = n.labels[-1]
        strong_risk = [w for w in risk if w in lexicon.RISK_WORDS]
        if strong_risk:
            # Weak brand tokens start lower, so a lure word has to lift them more.
            risk_bonus = (30 if kw.tier == WEAK else 25) + 5 * min(2, len(risk) - 1)
        elif risk:
            risk_bonus = 10 + 5 * min(1, len(risk) - 1)
        else:
            risk_bonus = 0
        tld_risk = "free-hosting" if hosting else "abused" if abused else None
        extra = (10 if hosting else 0) + (5 if abused else 0)
        kw_word = ", ".join(risk) if risk else (", ".join(service) if service else None)
        if li == core_idx:
            # Brand + unrelated word alone (thomsonreuters, googleapis) is mostly
            # benign or brand-owned: low, not flagged, until a lure word appears.
            base = {STRONG: 45, MEDIUM: 35, WEAK: 20}[kw.tier]
            if service and not risk and tld in lexicon.LLM_TLDS and misspelled != LOOKALIKE:
                score = base + 10 + (5 if tld in {"io", "ai", "dev", "app"} else 0) + extra
                self._reason(
                    out,
                    k_id,
                    "phantom",
                    f"brand + service word '{service[0]}' on .{tld}, a pattern LLMs invent",
                    min(score, 89),
                    matched=lab,
                    keyword=kw_word,
                    tld_risk=tld_risk,
                )
                return
            # Lookalike characters in a brand token are deliberate (nobody writes
            # micros0ft by accident); one edit may be a different word.
            spelling = {EXACT: 0, LOOKALIKE: 10, ONE_EDIT: -5}[misspelled]
            score = base + risk_bonus + (5 if service else 0) + extra + spelling
            detail = f"brand token {kw.text!r} in {lab!r}"
            if misspelled == LOOKALIKE:
                detail = f"brand token {kw.text!r} as lookalike {token!r} in {lab!r}"
            elif misspelled:
                detail = f"misspelled brand token {token!r} ({kw.text!r}) in {lab!r}"
            if risk:
                detail += " with lure word(s) " + ", ".join(risk)
            self._reason(
                out,
                k_id,
                "combosquatting",
                detail,
                min(score, 89),
                matched=lab,
                keyword=kw_word,
                tld_risk=tld_risk,
            )
            return
        # In a subdomain of someone else's registrable domain.
        whole = s == 0 and e == len(lab)
        official = whole and any(
            n.labels[li : li + len(seq)] == seq for seq in b.official_label_seqs
        )
        if official:
            score = {STRONG: 85, MEDIUM: 80, WEAK: 70}[kw.tier] + (5 if risk else 0) + extra
            self._reason(
                out,
                k_id,
                "subdomain-impersonation",
                f"official domain as labels of {n.registrable}",
                min(score, 95),
                matched=".".join(n.labels[li:core_idx]),
                keyword=kw_word,
                tld_risk=tld_risk,
            )
            return
        base = (
            {STRONG: 55, MEDIUM: 40, WEAK: 25}[kw.tier]
            if whole
            else {STRONG: 50, MEDIUM: 35, WEAK: 20}[kw.tier]
        )
        score = base + risk_bonus + extra
        self._reason(
            out,
            k_id,
            "subdomain-impersonation",
            f"brand token {kw.text!r} in subdomain label {lab!r} of {n.registrable}",
            min(score, 89),
            matched=lab,
            keyword=kw_word,
            tld_risk=tld_risk,
        )


def score_names(index: DetectionIndex, names: Iterable[str]) -> list[ScoreResult]:
    """Score a batch of names; bad names give a result with ``error`` set.

    Lines seen recently come from a bounded cache; registrable labels not seen
    before get their distance-2 fuzzy candidates in one vectorised pass per
    length before the per-name checks.
    """
    # The caches hold hundreds of thousands of small containers; letting the
    # cyclic collector walk them mid-batch costs more than the scoring itself.
    # Nothing created here forms cycles, so collection is deferred to the end
    # of the batch (and the caller's setting restored).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _score_batch(index, names)
    finally:
        if gc_was_enabled:
            gc.enable()


def _score_batch(index: DetectionIndex, names: Iterable[str]) -> list[ScoreResult]:
    rc = index._result_cache
    core_cache = index._core_cache
    prepared: list[tuple[str, ScoreResult | tuple[str, str | None] | None, _Fast | None]] = []
    pending: set[str] = set()
    for raw in names:
        hit = rc.get(raw)
        if hit is not None:
            prepared.append((raw, hit, None))
            continue
        fast = split_ascii(raw)
        prepared.append((raw, None, fast))
        if fast is not None:
            labels, full_n = fast[1], fast[3]
            if len(labels) > full_n:
                core = labels[-full_n - 1]
                if core not in core_cache:
                    pending.add(core)
    if len(pending) >= 16 and index._fuzzy_windows:
        index._prefetch_fuzzy(pending)
    fresh = index._score_fresh
    try:
        return [
            _from_cache(hit, raw) if hit is not None else fresh(raw, fast)
            for raw, hit, fast in prepared
        ]
    finally:
        index._fuzzy_batch.clear()


def _evict(cache: dict[str, _V]) -> None:
    """Drop the older half of a bounded cache (dicts keep insertion order)."""
    for key in list(itertools.islice(cache, len(cache) // 2)):
        cache.pop(key, None)


def _from_cache(entry: ScoreResult | tuple[str, str | None], raw: str) -> ScoreResult:
    if isinstance(entry, tuple):
        return _no_evidence(raw, entry[0], entry[1])
    return _with_input(entry, raw)


def _no_evidence(raw: str, domain: str, registrable: str | None) -> ScoreResult:
    """The result of a valid name that imitates no brand."""
    return ScoreResult(raw, domain, domain, registrable, None, 0, "none", False)


def _with_input(res: ScoreResult, raw: str) -> ScoreResult:
    return ScoreResult(
        input=raw,
        domain=res.domain,
        unicode=res.unicode,
        registrable=res.registrable,
        brand=res.brand,
        score=res.score,
        severity=res.severity,
        flagged=res.flagged,
        reasons=list(res.reasons),
        error=res.error,
    )
