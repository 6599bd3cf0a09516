"""Phantom squatting: domains LLMs invent for a brand, found by asking them and ranked for watch."""

from service.sources.phantom.classify import (
    ALLOWED,
    OFFICIAL,
    OTHER,
    DomainClassifier,
    ModelStats,
    PhantomCandidate,
    Sample,
    aggregate,
    model_stats,
    rank_score,
)
from service.sources.phantom.errors import (
    BudgetExhausted,
    LlmBadResponse,
    LlmConfigError,
    LlmUnavailable,
    PhantomError,
)
from service.sources.phantom.extract import (
    PLACEHOLDER_DOMAINS,
    Mention,
    extract_domains,
    extract_mentions,
)
from service.sources.phantom.llm import LlmClient, LlmEndpoint, RequestBudget
from service.sources.phantom.probe import ProbeError, ProbeResult, run_probe
from service.sources.phantom.prompts import INTENTS, LANGUAGES, Prompt, prompts_for

__all__ = [
    "ALLOWED",
    "INTENTS",
    "LANGUAGES",
    "OFFICIAL",
    "OTHER",
    "PLACEHOLDER_DOMAINS",
    "BudgetExhausted",
    "DomainClassifier",
    "LlmBadResponse",
    "LlmClient",
    "LlmConfigError",
    "LlmEndpoint",
    "LlmUnavailable",
    "Mention",
    "ModelStats",
    "PhantomCandidate",
    "PhantomError",
    "ProbeError",
    "ProbeResult",
    "Prompt",
    "RequestBudget",
    "Sample",
    "aggregate",
    "extract_domains",
    "extract_mentions",
    "model_stats",
    "prompts_for",
    "rank_score",
    "run_probe",
]
