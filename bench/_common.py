"""Shared helpers for the benchmarks: locating ../shared/data and building brand sets."""

from __future__ import annotations

import contextlib
import csv
import gzip
import os
import random
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))


def require_data() -> Path:
    """Exit with a clear message when the shared data set is not present."""
    if not DATA.is_dir():
        sys.exit(f"reference data not found at {DATA} (expected ../shared/data next to the repo)")
    return DATA


def tranco(limit: int | None = None) -> list[str]:
    """Tranco top 10k registrable domains in rank order."""
    path = require_data() / "benign" / "tranco_top10k_20250626.csv"
    with path.open() as fh:
        rows = [r["Domain"].strip().lower() for r in csv.DictReader(fh) if r.get("Domain")]
    return rows[:limit] if limit else rows


def squat_rows(path: Path, sample: int | None, seed: int = 1) -> list[dict[str, str]]:
    """Rows of a squatting CSV (optionally a reproducible random sample)."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if sample and sample < len(rows):
        rows = random.Random(seed).sample(rows, sample)
    return rows


def nrd_names() -> Iterator[str]:
    """Newly registered domains of one day."""
    path = require_data() / "nrd" / "whoisds_2025-12-01.txt"
    with path.open() as fh:
        for line in fh:
            line = line.strip()
            if line:
                yield line


@contextlib.contextmanager
def private_schema(base_url: str, prefix: str) -> Iterator[URL]:
    """A URL on a new PostgreSQL schema of `base_url` (empty, not migrated), dropped on exit."""
    from sqlalchemy import text

    from service.config import normalize_database_url
    from service.db import Database

    base = normalize_database_url(base_url)
    schema = f"{prefix}_{secrets.token_hex(4)}"
    admin = Database(base)
    try:
        with admin.engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield base.update_query_dict({"options": f"-csearch_path={schema}"})
        finally:
            with admin.engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


def postgres_url() -> str:
    """The PostgreSQL the benchmarks use: PHANTOMWATCH_TEST_DATABASE_URL or the local one."""
    return os.environ.get("PHANTOMWATCH_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1/test")
