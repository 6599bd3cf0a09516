"""One probe run: every endpoint, every prompt, within a request budget; then rank the names."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from service.sources.phantom.classify import (
    DomainClassifier,
    ModelStats,
    PhantomCandidate,
    Sample,
    aggregate,
    model_stats,
)
from service.sources.phantom.errors import (
    BudgetExhausted,
    LlmBadResponse,
    LlmConfigError,
    LlmUnavailable,
    PhantomError,
)
from service.sources.phantom.extract import extract_mentions
from service.sources.phantom.llm import LlmClient, LlmEndpoint, RequestBudget
from service.sources.phantom.prompts import Prompt, prompts_for

__all__ = ["ProbeError", "ProbeResult", "interleave", "run_probe"]

log = logging.getLogger(__name__)

# After this many malformed answers in a row the endpoint is broken, not unlucky.
MAX_BAD_RESPONSES_IN_A_ROW = 3


@dataclass(frozen=True)
class ProbeError:
    """A failure recorded during a run; `prompt` is None when the whole endpoint stopped."""

    endpoint: str
    kind: str  # the exception class name: LlmUnavailable, LlmBadResponse, LlmConfigError
    message: str
    prompt: Prompt | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class ProbeResult:
    samples: list[Sample]
    candidates: list[PhantomCandidate]
    stats: list[ModelStats]
    requests_made: int
    budget_exhausted: bool
    errors: list[ProbeError]
    prompts: list[Prompt]


def interleave(prompts: Sequence[Prompt]) -> list[Prompt]:
    """Round-robin over intents, so a run cut short by the budget still covers every intent."""
    by_intent: dict[str, list[Prompt]] = {}
    for p in prompts:
        by_intent.setdefault(p.intent, []).append(p)
    out: list[Prompt] = []
    queues = list(by_intent.values())
    for i in range(max((len(q) for q in queues), default=0)):
        out.extend(q[i] for q in queues if i < len(q))
    return out


class _Run:
    def __init__(self, budget: RequestBudget) -> None:
        self.budget = budget
        self.budget_exhausted = False
        self.samples: list[tuple[int, int, Sample]] = []
        self.errors: list[ProbeError] = []

    async def endpoint(
        self,
        order: int,
        endpoint: LlmEndpoint,
        client: LlmClient,
        prompts: Sequence[Prompt],
        concurrency: int,
    ) -> None:
        queue: asyncio.Queue[tuple[int, Prompt]] = asyncio.Queue()
        for item in enumerate(prompts):
            queue.put_nowait(item)
        stopped = False
        bad_in_a_row = 0

        def stop(error: ProbeError) -> None:
            nonlocal stopped
            if not stopped:
                stopped = True
                self.errors.append(error)
                log.warning("phantom probe: endpoint %s stopped: %s", endpoint.name, error.message)

        async def worker() -> None:
            nonlocal bad_in_a_row
            while not (stopped or self.budget_exhausted):
                try:
                    index, prompt = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                messages = [{"role": "user", "content": prompt.text}]
                try:
                    texts = await client.complete(messages, budget=self.budget)
                except BudgetExhausted as exc:
                    self.budget_exhausted = True
                    texts = exc.partial
                except LlmBadResponse as exc:
                    bad_in_a_row += 1
                    self.errors.append(
                        ProbeError(endpoint.name, type(exc).__name__, str(exc), prompt)
                    )
                    if bad_in_a_row >= MAX_BAD_RESPONSES_IN_A_ROW:
                        msg = f"{endpoint.name}: {bad_in_a_row} bad responses in a row"
                        stop(ProbeError(endpoint.name, "LlmBadResponse", msg))
                    continue
                except LlmUnavailable as exc:
                    # Retries are spent: the endpoint is down, asking more prompts wastes budget.
                    kind = type(exc).__name__
                    stop(ProbeError(endpoint.name, kind, str(exc), prompt, exc.retry_after))
                    return
                except (LlmConfigError, PhantomError) as exc:
                    stop(ProbeError(endpoint.name, type(exc).__name__, str(exc), prompt))
                    return
                else:
                    bad_in_a_row = 0
                for text in texts:
                    sample = Sample(endpoint.name, endpoint.model, prompt, text)
                    self.samples.append((order, index, sample))

        await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))


async def run_probe(
    brand_name: str,
    official_domains: Iterable[str],
    allow: Iterable[str],
    endpoints: Sequence[LlmEndpoint],
    clients: Mapping[str, LlmClient] | None = None,
    *,
    budget_requests: int,
    extra_prompts: Sequence[str] = (),
    intents: Iterable[str] | None = None,
    languages: Iterable[str] | None = None,
    main_domain: str | None = None,
    concurrency: int = 1,
) -> ProbeResult:
    """Ask every endpoint every prompt (x its `samples`), then extract, classify and rank.

    `clients` maps endpoint names to ready clients (tests pass a transport
    that way); endpoints without one get a client made and closed here.
    Endpoints run concurrently, each at its own rate, `concurrency` requests
    in flight per endpoint. `budget_requests` caps HTTP requests for the whole
    run, retries included: when spent, the run stops cleanly with
    `budget_exhausted=True` and keeps every answer received. An endpoint that
    stays unavailable or keeps answering garbage is stopped and recorded in
    `errors`; the others go on.
    """
    official = list(official_domains)
    allowed = list(allow)
    DomainClassifier(official, allowed)  # bad settings fail before any request is spent
    names = [e.name for e in endpoints]
    if len(set(names)) != len(names):
        raise ValueError(f"endpoint names must be unique: {names}")
    prompts = interleave(
        prompts_for(brand_name, extra_prompts, intents, languages, main_domain=main_domain)
    )
    budget = RequestBudget(budget_requests)
    run = _Run(budget)
    provided = dict(clients or {})
    owned = {e.name: LlmClient(e) for e in endpoints if e.name not in provided}
    try:
        await asyncio.gather(
            *(
                run.endpoint(i, e, provided.get(e.name) or owned[e.name], prompts, concurrency)
                for i, e in enumerate(endpoints)
            )
        )
    finally:
        for client in owned.values():
            await client.aclose()
    samples = [s for _, _, s in sorted(run.samples, key=lambda t: (t[0], t[1]))]
    mentions = [extract_mentions(s.text) for s in samples]
    candidates = aggregate(samples, official_domains=official, allow=allowed, mentions=mentions)
    stats = model_stats(samples, official_domains=official, allow=allowed, mentions=mentions)
    return ProbeResult(
        samples=samples,
        candidates=candidates,
        stats=stats,
        requests_made=budget.used,
        budget_exhausted=run.budget_exhausted,
        errors=run.errors,
        prompts=prompts,
    )
