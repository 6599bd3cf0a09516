"""Per-brand-set index and scorer: dict lookups, token automata and length buckets, built once."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import ahocorasick
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
    normalize_domain,
    skeleton,
)
from service.detection.techniques import homoglyph, typo

__all__ = ["DetectionIndex", "score_names"]

_SEPARATORS = frozenset("-_0123456789")
_SHORT_TOKEN = re.compile(r"[a-z]+|[0-9]+")
# Keywords at least this long get a distance-2 fuzzy pass; shorter ones would
# match half the dictionary at distance 2.
_FUZZY_MIN_LEN = 8
_MAX_SCORE = 99

STRONG, MEDIUM, WEAK = "strong", "medium", "weak"


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

    def evaluate(
        self, n: NormalizedName, fuzzy: list[tuple[int, int]] | None = None
    ) -> ScoreResult:
        """Score a normalized name; ``fuzzy`` holds precomputed (keyword id, distance) pairs."""
        reasons: dict[int, list[Reason]] = {}
        if n.registrable is not None:
            self._collect(n, reasons, fuzzy)
        best_b = -1
        best_score = 0
        best_reasons: list[Reason] = []
        for b_idx, rs in reasons.items():
            b = self._brands[b_idx]
            if self._allowed(b, n):
                continue
            rs.sort(key=lambda r: -r.score)
            techniques = {r.technique for r in rs[1:] if r.score >= 40} - {rs[0].technique}
            total = min(_MAX_SCORE, rs[0].score + 4 * min(2, len(techniques)))
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

        # 1. the registrable label itself: exact keyword on another suffix.
        for k_id in self._exact.get(core, ()):
            self._tld_swap(out, k_id, n, hosting, abused)
        if is_idn:
            for k_id in self._exact.get(core_sk, ()):
                self._homograph(out, k_id, n, core_u, core_sk, 0)

        # 2. generated variants no single edit reaches.
        for k_id, tech, detail in self._variants.get(core, ()):
            self._typo(out, k_id, n, tech, detail, abused)

        # 3. one edit away at skeleton level (typo, bitsquat, homoglyph, ...).
        seen: set[int] = set()
        cands = list(self._skel_d1.get(core_sk, ()))
        if len(core_sk) <= 40:
            for d in typo.deletes(core_sk):
                cands.extend(self._skel_d1.get(d, ()))
        for k_id in cands:
            if k_id in seen:
                continue
            seen.add(k_id)
            kw = self._kw[k_id]
            if core == kw.text or core == kw.compact:
                continue
            if is_idn:
                dist = DamerauLevenshtein.distance(core_sk, kw.skel, score_cutoff=1)
                if dist <= 1:
                    self._homograph(out, k_id, n, core_u, core_sk, dist)
                continue
            raw = DamerauLevenshtein.distance(core, kw.text, score_cutoff=2)
            if raw == 1:
                c = typo.classify_edit(kw.text, core)
                tech, detail = c if c else ("typo", "one edit")
                self._typo(out, k_id, n, tech, detail, abused)
            elif core_sk == kw.skel:
                self._typo(out, k_id, n, "homoglyph", "ASCII lookalike characters", abused)
            elif (
                len(kw.compact) >= 5
                and DamerauLevenshtein.distance(core_sk, kw.skel, score_cutoff=1) <= 1
            ):
                self._typo(
                    out, k_id, n, "homoglyph", "ASCII lookalikes plus one edit", abused, penalty=8
                )

        # 4. distance-2 fuzzy matches for long keywords.
        if fuzzy is None:
            fuzzy = self.fuzzy_candidates(core) if not is_idn else []
        for k_id, _dist in fuzzy:
            if k_id in seen:
                continue
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
            self._typo(
                out,
                k_id,
                n,
                "fuzzy",
                f"two edits, Jaro-Winkler {jw:.2f}",
                abused,
                penalty=pen,
                edits=ops,
            )

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
            base - penalty,
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
        text = ".".join(labels[: core_idx + 1])
        starts: list[int] = []
        pos = 0
        for lab in labels[: core_idx + 1]:
            starts.append(pos)
            pos += len(lab) + 1
        # (k_id, label index, start in label, end in label)
        hits: list[tuple[int, int, int, int]] = []
        typo_hits: set[tuple[int, int, int]] = set()
        for end, (form, ids) in self._ac.iter(text):
            start = end - len(form) + 1
            li = bisect.bisect_right(starts, start) - 1
            ls = starts[li]
            lab = labels[li]
            s, e = start - ls, end - ls + 1
            if e > len(lab):
                continue
            if li == core_idx and s == 0 and e == len(lab):
                continue
            for k_id in ids:
                hits.append((k_id, li, s, e))
        for li in range(core_idx + 1):
            lab = labels[li]
            for m in _SHORT_TOKEN.finditer(lab):
                tok = m.group()
                if li == core_idx and m.start() == 0 and m.end() == len(lab):
                    continue
                for k_id in self._short.get(tok, ()):
                    hits.append((k_id, li, m.start(), m.end()))
            if "-" in lab:
                off = 0
                for tok in lab.split("-"):
                    if len(tok) >= 5:
                        for k_id in self._token_typo(tok):
                            hits.append((k_id, li, off, off + len(tok)))
                            typo_hits.add((k_id, li, off))
                    off += len(tok) + 1
        if not hits:
            return
        words = self._context_words(labels, core_idx, hits)
        for k_id, li, s, e in hits:
            kw = self._kw[k_id]
            lab = labels[li]
            misspelled = (k_id, li, s) in typo_hits
            if not misspelled and not self._is_token(lab, s, e, kw.tier, bool(words)):
                continue
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

    def _token_typo(self, tok: str) -> list[int]:
        """Keyword ids one edit (or lookalike characters) away from a hyphen-delimited token."""
        sk = skeleton(tok)
        cands = set(self._skel_d1.get(sk, ()))
        for d in typo.deletes(sk):
            cands.update(self._skel_d1.get(d, ()))
        found: list[int] = []
        for k_id in cands:
            kw = self._kw[k_id]
            if kw.tier == WEAK or tok == kw.compact or tok == kw.text:
                continue
            if sk != kw.skel and (
                kw.tier != STRONG or DamerauLevenshtein.distance(sk, kw.skel, score_cutoff=1) > 1
            ):
                continue
            found.append(k_id)
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

    def _context_words(
        self, labels: tuple[str, ...], core_idx: int, hits: list[tuple[int, int, int, int]]
    ) -> list[tuple[int, int, int, str, int, bool]]:
        text = ".".join(labels[: core_idx + 1])
        starts: list[int] = []
        pos = 0
        for lab in labels[: core_idx + 1]:
            starts.append(pos)
            pos += len(lab) + 1
        found: list[tuple[int, int, int, str, int, bool]] = []
        for end, (w, is_risk, is_phantom) in self._words.iter(text):
            start = end - len(w) + 1
            li = bisect.bisect_right(starts, start) - 1
            lab = labels[li]
            s, e = start - starts[li], end - starts[li] + 1
            if e > len(lab):
                continue
            left = s == 0 or lab[s - 1] in _SEPARATORS
            right = e == len(lab) or lab[e] in _SEPARATORS
            if not (left and right):
                if len(w) < 4:
                    continue
                # A glued word counts only if each open side abuts a brand hit
                # (``paypallogin``) or falls on a word boundary of the segmentation.
                left = left or any(h_li == li and he == s for _k, h_li, _hs, he in hits)
                right = right or any(h_li == li and hs == e for _k, h_li, hs, _he in hits)
                if not (left and right):
                    p0 = lab.rfind("-", 0, s) + 1
                    p1 = lab.find("-", e)
                    p1 = len(lab) if p1 == -1 else p1
                    bounds = lexicon.word_boundaries(lab[p0:p1])
                    if not ((left or s - p0 in bounds) and (right or e - p0 in bounds)):
                        continue
            found.append((li, s, e, w, is_risk, is_phantom))
        return found

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
        misspelled: bool = False,
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
            if service and not risk and tld in lexicon.LLM_TLDS:
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
            score = base + risk_bonus + (5 if service else 0) + extra - (5 if misspelled else 0)
            detail = f"brand token {kw.text!r} in {lab!r}"
            if misspelled:
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
    """Score a batch of names; bad names give a result with ``error`` set."""
    results: list[ScoreResult] = []
    cache: dict[str, ScoreResult] = {}
    for raw in names:
        key = raw.strip()
        hit = cache.get(key)
        if hit is not None:
            results.append(_with_input(hit, raw))
            continue
        try:
            n = normalize_domain(raw)
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
            res = index.evaluate(n)
            res.input = raw
        if len(cache) < 10000:
            cache[key] = res
        results.append(res)
    return results


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
