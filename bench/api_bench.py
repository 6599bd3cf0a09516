"""List-alerts latency on 1,000,000 alerts in PostgreSQL, with the chosen indexes and without.

Seeds a private schema (dropped at the end) with N alerts spread over 1,000 brands and
90 days, then times GET /v1/alerts through the real FastAPI app for the common filters,
first with the migration's indexes and then, as the in-process baseline, with the alert
indexes dropped. Prints p50/p95 per filter side by side.

    .venv/bin/python bench/api_bench.py [--alerts 1000000] [--repeat 30] [--database-url URL]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import postgres_url, private_schema
from fastapi.testclient import TestClient
from sqlalchemy import text

from service.app import create_app
from service.auth.service import create_key
from service.config import Settings
from service.db import Database
from service.migrate import upgrade

ALERT_INDEXES = [
    "ix_alerts_first_seen_id",
    "ix_alerts_last_seen_id",
    "ix_alerts_score_id",
    "ix_alerts_brand_first_seen_id",
    "ix_alerts_status_first_seen_id",
    "ix_alerts_severity_first_seen_id",
    "ix_alert_techniques_technique_alert",
    "ix_alerts_domain_trgm",
    "ix_alerts_unicode_trgm",
]

SEED_SQL = """
INSERT INTO brands (id, name, domains, keywords, allow, enabled, created_at, updated_at)
SELECT b, 'brand' || b, json_build_array('brand' || b || '.com'),
       json_build_array('brand' || b), '[]'::json, true, now(), now()
FROM generate_series(1, 1000) AS b;

INSERT INTO alerts (id, brand_id, domain, registrable, unicode, score, severity, severity_rank,
                    reasons, source, status, first_seen, last_seen, updated_at)
SELECT i, 1 + (hashint % 1000), d, d, d, s,
       CASE WHEN s >= 90 THEN 'critical' WHEN s >= 75 THEN 'high' WHEN s >= 60 THEN 'medium'
            ELSE 'low' END,
       CASE WHEN s >= 90 THEN 4 WHEN s >= 75 THEN 3 WHEN s >= 60 THEN 2 ELSE 1 END,
       jsonb_build_array(jsonb_build_object('technique', t, 'detail', t || ' of brand')),
       (ARRAY['ct','ct','ct','dns','feed','phantom'])[1 + hashint % 6],
       (ARRAY['new','new','new','new','triaged','confirmed','false_positive','resolved'])
           [1 + (hashint / 7) % 8],
       ts, ts + interval '1 hour', ts
FROM (
  SELECT i,
         abs(hashtext(i::text)) AS hashint,
         'lookalike' || i || '-' || substr(md5(i::text), 1, 6) || '.com' AS d,
         40 + abs(hashtext('s' || i)) % 61 AS s,
         (ARRAY['typo','homoglyph','combosquat','tld_swap','subdomain','phantom'])
             [1 + abs(hashtext('t' || i)) % 6] AS t,
         now() - (i::float / :n) * interval '90 days' AS ts
  FROM generate_series(1, :n) AS i
) AS g;

INSERT INTO alert_techniques (alert_id, technique)
SELECT id, reasons->0->>'technique' FROM alerts;
"""


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=1_000_000, help="alerts to seed")
    parser.add_argument("--repeat", type=int, default=30, help="requests per filter")
    parser.add_argument("--page", type=int, default=100, help="page size")
    parser.add_argument(
        "--database-url",
        default=postgres_url(),
        help="PostgreSQL database to use (a private schema is created and dropped)",
    )
    args = parser.parse_args()

    with private_schema(args.database_url, "pw_bench") as url:
        upgrade(url)
        database = Database(url, pool_size=2)
        started = time.perf_counter()
        with database.engine.begin() as conn:
            for statement in SEED_SQL.split(";\n"):
                if statement.strip():
                    conn.execute(text(statement), {"n": args.alerts} if ":n" in statement else {})
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        print(f"seeded {args.alerts:,} alerts in {time.perf_counter() - started:.1f} s")
        with database.session() as session:
            _, key = create_key(session, "bench", ["read"])

        settings = Settings(database_url=url.render_as_string(hide_password=False))
        client = TestClient(create_app(settings, database))
        client.__enter__()  # run the app's startup, as a server would
        headers = {"Authorization": f"Bearer {key}"}
        page = {"limit": args.page}

        def deep_page() -> dict[str, object]:
            # the 20th page of the default listing, reached by following cursors
            cursor = None
            for _ in range(19):
                body = client.get(
                    "/v1/alerts",
                    params={**page, **({"cursor": cursor} if cursor else {})},
                    headers=headers,
                ).json()
                cursor = body["next_cursor"]
            return {**page, "cursor": cursor}

        cases: list[tuple[str, Callable[[], dict[str, object]]]] = [
            ("newest first (default)", lambda: page),
            ("brand_id", lambda: {**page, "brand_id": 1 + secrets.randbelow(1000)}),
            ("status=new", lambda: {**page, "status": "new"}),
            ("status=confirmed", lambda: {**page, "status": "confirmed"}),
            ("min_severity=critical", lambda: {**page, "min_severity": "critical"}),
            ("technique=homoglyph", lambda: {**page, "technique": "homoglyph"}),
            ("source=dns", lambda: {**page, "source": "dns"}),
            ("since last 24 h", lambda: {**page, "since": _hours_ago(24)}),
            ("sort=-score", lambda: {**page, "sort": "-score"}),
            (
                "brand_id+status=new",
                lambda: {**page, "brand_id": 1 + secrets.randbelow(1000), "status": "new"},
            ),
            ("domain substring", lambda: {**page, "domain": f"{secrets.randbelow(999)}-"}),
        ]

        def run_all() -> dict[str, tuple[float, float]]:
            results: dict[str, tuple[float, float]] = {}
            for name, make_params in cases:
                samples: list[float] = []
                for _ in range(3):  # warm caches and plans; not timed
                    client.get("/v1/alerts", params=make_params(), headers=headers)
                for _ in range(args.repeat):
                    params = make_params()
                    t0 = time.perf_counter()
                    response = client.get("/v1/alerts", params=params, headers=headers)
                    samples.append((time.perf_counter() - t0) * 1000)
                    assert response.status_code == 200, response.text
                results[name] = (statistics.median(samples), percentile(samples, 0.95))
            cursor_params = deep_page()
            samples = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                client.get("/v1/alerts", params=cursor_params, headers=headers)
                samples.append((time.perf_counter() - t0) * 1000)
            results["page 20 by cursor"] = (statistics.median(samples), percentile(samples, 0.95))
            return results

        with_indexes = run_all()
        with database.engine.begin() as conn:
            for index in ALERT_INDEXES:
                conn.execute(text(f'DROP INDEX "{index}"'))
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
        baseline = run_all()
        client.__exit__(None, None, None)
        database.dispose()

        print(
            f"\nGET /v1/alerts, page of {args.page}, {args.alerts:,} alerts, {args.repeat} requests each"
        )
        print(
            f"{'filter':28} {'indexed p50':>12} {'p95':>8}   {'no index p50':>12} {'p95':>8}  {'p95 ratio':>9}"
        )
        for name, (p50, p95) in with_indexes.items():
            b50, b95 = baseline[name]
            print(
                f"{name:28} {p50:10.1f}ms {p95:6.1f}ms   {b50:10.1f}ms {b95:6.1f}ms  {b95 / p95:8.1f}x"
            )
        worst = max(p95 for _, p95 in with_indexes.values())
        print(f"\nworst indexed p95: {worst:.1f} ms (target < 50 ms)")
    return 0


def _hours_ago(hours: int) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat()


if __name__ == "__main__":
    sys.exit(main())
