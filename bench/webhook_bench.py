"""Webhook delivery throughput and alert-to-receiver latency, PostgreSQL store.

A receiver runs in a separate process (stdlib HTTP server, answers 204 and reports
each webhook-id with its arrival time). In this process:
1. throughput: N alerts are recorded (each writes its outbox row in the same
   transaction), then the delivery worker drains the queue; deliveries/s is printed
   next to a baseline in the same run: the same signed requests POSTed one after the
   other with a plain httpx client and no bookkeeping (the ceiling of one sender);
2. latency: the worker runs on its schedule (PHANTOMWATCH_WEBHOOK_POLL_INTERVAL,
   default 1 s) while alerts are recorded at a steady rate; p50/p95 of the time from
   the alert's commit to its arrival at the receiver.

    .venv/bin/python bench/webhook_bench.py [--alerts 3000] [--subscriptions 1] [--rate 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx
from _common import postgres_url, private_schema
from sqlalchemy import func, select

from service.alerts.models import AlertSource
from service.alerts.service import Evidence, record
from service.brands.schemas import BrandCreate
from service.brands.service import create_brand
from service.config import Settings
from service.db import Database, utcnow
from service.migrate import upgrade
from service.webhooks.delivery import DeliveryConfig, DeliveryWorker, Senders, delivery_job
from service.webhooks.formats import render_json
from service.webhooks.models import WebhookDelivery
from service.webhooks.schemas import WebhookCreate
from service.webhooks.service import create as subscribe

RECEIVER = """
import http.server, sys, time, json
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        sys.stdout.write(f"{self.headers.get('webhook-id')} {time.time()}\\n"); sys.stdout.flush()
        self.send_response(204); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *a): pass
class S(http.server.ThreadingHTTPServer):
    daemon_threads = True
server = S(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class Receiver:
    """The receiver process and the arrivals it reports."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{self.proc.stdout.readline().strip()}/hook"
        self.arrivals: dict[str, float] = {}
        self.count = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            event_id, at = line.split()
            self.arrivals.setdefault(event_id, float(at))
            self.count += 1

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def evidence(brand_id: int, i: int) -> Evidence:
    domain = f"paypal-login-{i}.com"
    return Evidence(
        brand_id=brand_id,
        domain=domain,
        registrable=domain,
        unicode=domain,
        score=80,
        reasons=[{"technique": "combosquatting", "detail": "bench"}],
        source=AlertSource.CT,
    )


def record_alert(database: Database, brand_id: int, i: int, subscriptions: int) -> list[str]:
    """Record one alert (one transaction, with its outbox rows); returns its webhook ids."""
    with database.session() as session:
        record(session, evidence(brand_id, i))
        session.flush()
        # this process is the only writer: the newest outbox rows are this alert's
        return list(
            session.scalars(
                select(WebhookDelivery.event_id)
                .order_by(WebhookDelivery.id.desc())
                .limit(subscriptions)
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=3000)
    parser.add_argument("--subscriptions", type=int, default=1)
    parser.add_argument("--rate", type=float, default=50.0, help="alerts/s in the latency run")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the latency run")
    parser.add_argument(
        "--database-url",
        default=postgres_url(),
    )
    args = parser.parse_args()

    receiver = Receiver()
    with contextlib.ExitStack() as stack:
        stack.callback(receiver.stop)
        url = stack.enter_context(private_schema(args.database_url, "pw_whbench"))
        upgrade(url)
        database = Database(url, pool_size=4)
        settings = Settings(
            database_url=url.render_as_string(hide_password=False),
            webhook_allow_private=["127.0.0.0/8"],
        )
        with database.session() as session:
            brand_id = create_brand(session, BrandCreate(name="PayPal", domains=["paypal.com"])).id
            secret_list = []
            for i in range(args.subscriptions):
                _, secret = subscribe(session, WebhookCreate(name=f"sub{i}", target=receiver.url))
                secret_list.append(str(secret))

        # 1. throughput
        t0 = time.perf_counter()
        for i in range(args.alerts):
            record_alert(database, brand_id, i, args.subscriptions)
        recorded = time.perf_counter() - t0
        with database.session() as session:
            queued = session.scalar(select(func.count()).select_from(WebhookDelivery))
        config = DeliveryConfig(batch_size=1000)

        async def drain() -> int:
            senders = Senders(settings)
            delivered = 0
            try:
                while True:
                    stats = await DeliveryWorker(database, senders, config).run_once()
                    delivered += stats.delivered
                    if stats.subscriptions == 0:
                        return delivered
            finally:
                await senders.aclose()

        t0 = time.perf_counter()
        delivered = asyncio.run(drain())
        elapsed = time.perf_counter() - t0
        assert delivered == queued, (delivered, queued)

        # baseline: the same signed bodies, plain sequential POSTs, no bookkeeping
        with database.session() as session:
            rows = list(session.scalars(select(WebhookDelivery).limit(args.alerts)))
        from service.webhooks.delivery import event_of

        specs = [render_json(event_of(d), secret_list[:1], utcnow()) for d in rows]
        t0 = time.perf_counter()
        with httpx.Client() as client:
            for spec in specs:
                client.post(receiver.url, content=spec.body, headers=spec.headers)
        baseline = time.perf_counter() - t0

        print(
            f"recorded {args.alerts:,} alerts with their outbox rows in {recorded:.1f}s "
            f"({args.alerts / recorded:,.0f}/s); {queued:,} deliveries queued "
            f"to {args.subscriptions} subscription(s)"
        )
        print(f"{'':34} {'deliveries/s':>13}")
        print(f"{'delivery worker (signed, logged)':34} {delivered / elapsed:>13,.0f}")
        print(
            f"{'baseline: plain httpx POST loop':34} {len(specs) / baseline:>13,.0f}   "
            f"ratio {(delivered / elapsed) / (len(specs) / baseline):.2f}"
        )

        # 2. latency on the default schedule
        stop = threading.Event()

        def worker() -> None:
            while not stop.is_set():
                delivery_job(settings, database)
                stop.wait(settings.webhook_poll_interval)

        thread = threading.Thread(target=worker, daemon=True)
        thread.start()
        sent_ids: dict[str, float] = {}
        start_id = args.alerts
        n = int(args.rate * args.seconds)
        t0 = time.perf_counter()
        for k in range(n):
            target_time = t0 + k / args.rate
            delay = target_time - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            for event_id in record_alert(database, brand_id, start_id + k, args.subscriptions):
                sent_ids[event_id] = time.time()
        deadline = time.time() + 10
        while time.time() < deadline and not all(e in receiver.arrivals for e in sent_ids):
            time.sleep(0.1)
        stop.set()
        thread.join(timeout=30)
        latencies = sorted(
            receiver.arrivals[e] - t for e, t in sent_ids.items() if e in receiver.arrivals
        )
        lost = len(sent_ids) - len(latencies)
        p50 = statistics.median(latencies)
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        print(
            f"\nlatency, alert committed -> received ({len(latencies)} events at {args.rate:.0f}/s, "
            f"poll interval {settings.webhook_poll_interval:.1f}s): p50 {p50 * 1000:,.0f} ms, "
            f"p95 {p95 * 1000:,.0f} ms, max {latencies[-1] * 1000:,.0f} ms; not received: {lost}"
        )
        database.dispose()


if __name__ == "__main__":
    main()
