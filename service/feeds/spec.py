"""A configured feed: `nrd:PATH_OR_URL` or `zone:PATH` (no I/O; settings validate with it)."""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("nrd", "zone")


@dataclass(frozen=True)
class FeedSpec:
    kind: str
    location: str

    @classmethod
    def parse(cls, text: str) -> FeedSpec:
        kind, sep, location = text.partition(":")
        if not sep or kind not in KINDS or not location:
            raise ValueError(f"feed {text!r}: write nrd:PATH_OR_URL or zone:PATH")
        if kind == "zone" and location.startswith(("http://", "https://")):
            raise ValueError(f"feed {text!r}: zone files are read from disk")
        return cls(kind, location)

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.location}"
