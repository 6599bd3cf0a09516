"""run_probe against fake servers: budget, two models, ranking, failures, what is sent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from service.sources.phantom.llm import LlmClient, LlmEndpoint
from service.sources.phantom.probe import ProbeResult, interleave, run_probe
from service.sources.phantom.prompts import TEMPLATES, prompts_for
from tests.phantom.fake_llm import FakeLlm

FAST: dict[str, Any] = {"backoff_initial": 0.01, "backoff_max": 0.02, "max_attempts": 2}
OFFICIAL = ["acme.com", "acme.de"]


def _endpoint(name: str, url: str, model: str, **kw: Any) -> LlmEndpoint:
    return LlmEndpoint(name, url, model, **{"requests_per_minute": 60000, **kw})


def probe(endpoints: Sequence[LlmEndpoint], **kw: Any) -> ProbeResult:
    async def go() -> ProbeResult:
        clients = {e.name: LlmClient(e, **FAST) for e in endpoints}
        try:
            return await run_probe("Acme", OFFICIAL, kw.pop("allow", []), endpoints, clients, **kw)
        finally:
            for c in clients.values():
                await c.aclose()

    return asyncio.run(go())


def test_budget_is_respected_exactly(fake: FakeLlm) -> None:
    ep = _endpoint("local", fake.base_url, "llama3.1:8b", samples=2)
    result = probe([ep], budget_requests=7)
    assert result.requests_made == 7
    assert len(fake.requests) == 7
    assert result.budget_exhausted
    assert len(result.samples) == 14
    assert result.errors == []
    # Interleaved: a short run still covers seven different intents.
    assert len({s.prompt.intent for s in result.samples}) == 7


def test_budget_counts_fallback_requests_and_keeps_partial_answers(fake: FakeLlm) -> None:
    fake.n_mode = "ignore"
    ep = _endpoint("local", fake.base_url, "m", samples=3)
    result = probe([ep], budget_requests=5)
    assert result.requests_made == len(fake.requests) == 5
    assert len(result.samples) == 5  # 3 for the first prompt, 2 kept from the second
    assert result.budget_exhausted


def test_run_within_budget_is_complete(fake: FakeLlm) -> None:
    ep = _endpoint("local", fake.base_url, "m", samples=3)
    result = probe([ep], budget_requests=100, intents=["login", "docs"], languages=["en"])
    assert not result.budget_exhausted
    assert result.requests_made == len(fake.requests) == 4  # 4 prompts, n=3 each
    assert len(result.samples) == 12


def test_two_models_are_aggregated_and_ranked(fake: FakeLlm) -> None:
    answered = {"n": 0}

    def responder(model: str, prompt: str, i: int) -> str:
        answered["n"] += 1
        k = answered["n"]
        if k == 4:
            return "Sign in at acme.com; some people use acme-once.net."
        if k == 2:
            return "I'm sorry, I can't help with that."
        return f"Log in at https://login-acme.com/ ({model}) or the official acme.com."

    fake.responder = responder
    endpoints = [
        _endpoint("ollama", fake.base_url, "llama3.1:8b", samples=3),
        _endpoint("vllm", fake.base_url, "qwen2.5:7b", samples=3),
    ]
    result = probe(
        endpoints, budget_requests=10, extra_prompts=["Where do I log in to {brand}?"],
        intents=["login"], languages=["fr"],
    )  # fmt: skip
    # 3 prompts (2 French + 1 extra) x 2 endpoints, n=3 each.
    assert result.requests_made == 6
    assert len(result.samples) == 18
    cands = {c.domain: c for c in result.candidates}
    assert set(cands) == {"login-acme.com", "acme-once.net"}
    top, low = result.candidates
    assert top.domain == "login-acme.com"
    assert top.samples_with == 16
    assert top.models == {"llama3.1:8b", "qwen2.5:7b"}
    assert low.domain == "acme-once.net"
    assert low.samples_with == 1
    assert top.rank_score > low.rank_score
    stats = {s.model: s for s in result.stats}
    assert sum(s.answers for s in stats.values()) == 18
    # Official domains count as correct, not as candidates.
    assert sum(s.answers_with_official for s in stats.values()) == 17
    assert "acme.com" not in cands


def test_one_failing_endpoint_does_not_stop_the_others(fake: FakeLlm) -> None:
    down = FakeLlm()
    down_url = down.start()
    down.stop()  # nothing listens there any more: connection refused
    broken = FakeLlm()
    broken.fault = "malformed"
    broken_url = broken.start()
    try:
        endpoints = [
            _endpoint("down", down_url, "m1", samples=1),
            _endpoint("ok", fake.base_url, "m2", samples=1),
            _endpoint("broken", broken_url, "m3", samples=1),
        ]
        result = probe(endpoints, budget_requests=1000, languages=["en"])
    finally:
        broken.stop()
    english = len(prompts_for("Acme", languages=["en"]))
    assert len(fake.requests) == english
    assert {s.endpoint for s in result.samples} == {"ok"}
    kinds = [(e.endpoint, e.kind, e.prompt is None) for e in result.errors]
    assert ("down", "LlmUnavailable", False) in kinds
    # Three malformed answers in a row, then the endpoint is given up.
    assert len(broken.requests) == 3
    assert kinds.count(("broken", "LlmBadResponse", False)) == 3
    assert ("broken", "LlmBadResponse", True) in kinds
    assert result.candidates


def test_nothing_but_public_brand_data_is_sent(fake: FakeLlm) -> None:
    ep = _endpoint("local", fake.base_url, "llama3.1:8b", samples=2, temperature=0.5)
    private = ["acme-internal-corp.net", "acme-staging.dev"]
    result = probe(
        [ep], budget_requests=1000, allow=["partner-secret.org"],
        extra_prompts=["What is the {brand} login URL?"],
    )  # fmt: skip
    allowed_texts = {t.text.replace("{brand}", "Acme") for t in TEMPLATES if not t.include_domain}
    allowed_texts.add("What is the Acme login URL?")
    assert len(fake.requests) == len(allowed_texts) == len(result.prompts)
    for req in fake.requests:
        body = req.body
        assert set(body) == {"model", "messages", "temperature", "n"}
        assert (body["model"], body["temperature"], body["n"]) == ("llama3.1:8b", 0.5, 2)
        (message,) = body["messages"]
        assert set(message) == {"role", "content"}
        assert message["role"] == "user"
        assert message["content"] in allowed_texts
        sent = req.raw.decode() + json.dumps(req.headers)
        for secret in [*private, "partner-secret.org", *OFFICIAL]:
            assert secret not in sent
        assert set(req.headers) <= {
            "host", "accept", "accept-encoding", "connection", "user-agent",
            "content-type", "content-length",
        }  # fmt: skip
    assert {m for r in fake.requests for m in [r.body["messages"][0]["content"]]} == allowed_texts


def test_main_domain_is_the_only_domain_sent_when_given(fake: FakeLlm) -> None:
    ep = _endpoint("local", fake.base_url, "m", samples=1)
    probe([ep], budget_requests=1000, intents=["api", "security"], main_domain="acme.com")
    texts = fake.prompts()
    assert any("acme.com" in t for t in texts)
    assert not any("acme.de" in t for t in texts)


def test_interleave_round_robins_intents() -> None:
    prompts = prompts_for("Acme", intents=["login", "docs"], languages=["en", "es"])
    assert [p.intent for p in interleave(prompts)][:4] == ["login", "docs", "login", "docs"]
