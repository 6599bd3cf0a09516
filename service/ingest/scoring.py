"""The detection index over the enabled brands, rebuilt only when the brands change."""

from __future__ import annotations

import gc
import multiprocessing
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.alerts.models import AlertSource
from service.alerts.service import Evidence
from service.brands.models import Brand
from service.brands.service import to_spec
from service.detection import DetectionIndex, ScoreResult, score_names
from service.watch.models import WatchEntry


@dataclass(frozen=True)
class BrandSet:
    """An index over a fixed set of brands and the ids to file alerts under."""

    index: DetectionIndex
    brand_ids: dict[str, int]

    def evidence(
        self,
        names: Iterable[str],
        source: AlertSource,
        seen_at: datetime,
        context: dict[str, object] | None = None,
    ) -> list[Evidence]:
        """Score names and turn every flagged one into evidence for its brand.

        When the registrable domain alone carries the evidence (`www.paypa1.com`),
        the alert is filed under it, so one lookalike domain is one alert however
        many host names its certificates list; when only the subdomain does
        (`paypal.com.verify-id.ru`), under the full name.
        """
        out: list[Evidence] = []
        if not self.brand_ids:
            return out  # nothing protected yet: nothing to score
        for result in score_names(self.index, names):
            if not (result.flagged and result.brand in self.brand_ids and result.domain):
                continue
            where = dict(context or {})
            if result.registrable and result.registrable != result.domain:
                parent = self.index.score(result.registrable)
                if parent.flagged and parent.brand == result.brand:
                    where["seen_as"] = result.domain
                    result = parent
            brand_id = self.brand_ids[result.brand or ""]
            out.append(evidence_from(result, brand_id, source, seen_at, where))
        return out


def evidence_from(
    result: ScoreResult,
    brand_id: int,
    source: AlertSource,
    seen_at: datetime,
    context: dict[str, object] | None = None,
) -> Evidence:
    assert result.domain is not None
    return Evidence(
        brand_id=brand_id,
        domain=result.domain,
        registrable=result.registrable,
        unicode=result.unicode or result.domain,
        score=result.score,
        reasons=[r.to_json() for r in result.reasons],
        source=source,
        seen_at=seen_at,
        context=dict(context or {}),
    )


class BrandIndexCache:
    """Keeps one BrandSet per process; a cheap query tells when brands changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: tuple[object, ...] | None = None
        self._current: BrandSet | None = None

    def get(self, session: Session) -> BrandSet:
        live = Brand.deleted_at.is_(None) & Brand.enabled.is_(True)
        stamp = select(func.count(Brand.id), func.max(Brand.updated_at)).where(live)
        phantom = (WatchEntry.origin == "phantom") & WatchEntry.removed_at.is_(None)
        phantom_stamp = select(func.count(WatchEntry.id), func.max(WatchEntry.id)).where(phantom)
        version = (*session.execute(stamp).one(), *session.execute(phantom_stamp).one())
        with self._lock:
            if self._current is not None and version == self._version:
                return self._current
        query = select(Brand).where(live).order_by(Brand.id)
        brands: Sequence[Brand] = list(session.scalars(query))
        # Names LLMs invented for a brand are matched wherever they show up (CT, feeds).
        watchlists: dict[int, list[str]] = {}
        for brand_id, domain in session.execute(
            select(WatchEntry.brand_id, WatchEntry.domain).where(phantom)
        ):
            watchlists.setdefault(brand_id, []).append(domain)
        built = BrandSet(
            index=DetectionIndex.build([to_spec(b, watchlists.get(b.id, ())) for b in brands]),
            brand_ids={b.name: b.id for b in brands},
        )
        with self._lock:
            self._version, self._current = version, built
        return built


# The brand set a forked scoring process inherits (set just before the fork).
_INHERITED: BrandSet | None = None
_INHERITED_LOCK = threading.Lock()


def score_inherited(
    names: list[str], source: AlertSource, seen_at: datetime, context: dict[str, object]
) -> list[Evidence]:
    assert _INHERITED is not None, "scoring process started without a brand set"
    return _INHERITED.evidence(names, source, seen_at, context)


def _scoring_process_started() -> None:
    # Everything inherited from the parent (the index above all) lives as long as the
    # process: frozen, the cyclic collector leaves it alone. A full collection walks
    # it (~0.15 s with 1,000 brands) and writes the GC headers of every object,
    # turning the pages shared with the parent into private copies.
    gc.freeze()
    # The per-name caches would die with this process, and a feed's names are all
    # distinct (98 % of a daily NRD list's registrable labels too): filling them
    # only costs. What the parent had cached is still read.
    assert _INHERITED is not None
    _INHERITED.index.cache_size = 0


@contextmanager
def scoring_processes(brand_set: BrandSet, processes: int) -> Iterator[Executor | None]:
    """Processes that score with `brand_set` (inherited by fork: no index is pickled).

    Scoring is pure CPU: a feed of distinct names scores on every core this way. None
    when one process is asked for or fork is unavailable: the caller scores inline.
    """
    global _INHERITED
    if processes < 2 or "fork" not in multiprocessing.get_all_start_methods():
        yield None
        return
    with _INHERITED_LOCK:  # one set of scoring processes at a time: they share the global
        _INHERITED = brand_set
        pool = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_scoring_process_started,
        )
        try:
            yield pool
        finally:
            pool.shutdown(cancel_futures=True)
            _INHERITED = None
