"""The `phantomwatch` command (also `python -m service`): serve, api, worker, migrate, ..."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from pydantic import ValidationError

from service import __version__
from service.config import ConfigError, Settings, describe_invalid
from service.db import Database
from service.detection.command import register as register_score
from service.errors import PhantomWatchError
from service.exits import EXIT_FAILURE, EXIT_USAGE
from service.sources.ct.command import register_tail
from service.sources.ct.loglist import OFFICIAL_URL as OFFICIAL_LOG_LIST_URL
from service.sources.dns.command import register_lookup

log = logging.getLogger("phantomwatch")


class CliError(Exception):
    """A user-facing failure: printed as one line, exit code 1 (or 2 for bad input)."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise CliError(describe_invalid(exc), EXIT_USAGE) from None


def _database(settings: Settings, require_current: bool = True) -> Database:
    from service.migrate import ensure_current

    database = Database(settings.sqlalchemy_url, settings.db_pool_size)
    if require_current:
        try:
            ensure_current(database.engine)
        except ConfigError as exc:
            raise CliError(str(exc)) from None
        except Exception as exc:
            raise CliError(f"cannot reach the database: {str(exc).splitlines()[0]}") from None
    return database


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Alembic announces its context on every readiness check, and APScheduler every
    # job run (the webhook worker runs every second): keep their chatter out of INFO.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def cmd_migrate(args: argparse.Namespace) -> int:
    from service import migrate

    settings = _settings()
    url = settings.sqlalchemy_url
    try:
        if args.downgrade:
            migrate.downgrade(url, args.downgrade)
        else:
            migrate.upgrade(url, args.revision)
        database = Database(url)
        current = migrate.current_revision(database.engine)
        database.dispose()
    except Exception as exc:
        raise CliError(f"migration failed: {str(exc).splitlines()[0]}") from None
    print(f"database at revision {current or 'base'} ({url.render_as_string()})", file=sys.stderr)
    return 0


def _serve(with_scheduler: bool) -> int:
    import uvicorn

    from service.app import create_app
    from service.worker import build_scheduler

    settings = _settings()
    _configure_logging(settings)
    database = _database(settings)
    app = create_app(settings, database)

    if with_scheduler and settings.scheduler_enabled:
        scheduler = build_scheduler(settings, database)
        inner = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(a: object) -> AsyncIterator[None]:
            scheduler.start()
            try:
                async with inner(app):
                    yield
            finally:
                scheduler.shutdown(wait=True)

        app.router.lifespan_context = lifespan
    log.info("PhantomWatch %s listening on http://%s:%d", __version__, settings.host, settings.port)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level)
    database.dispose()
    return 0


def cmd_serve(_: argparse.Namespace) -> int:
    return _serve(with_scheduler=True)


def cmd_api(_: argparse.Namespace) -> int:
    return _serve(with_scheduler=False)


def cmd_worker(_: argparse.Namespace) -> int:
    from service.worker import run_worker

    settings = _settings()
    _configure_logging(settings)
    run_worker(settings, _database(settings))
    return 0


def _print_key(key: object, plaintext: str | None = None) -> None:
    from service.auth.schemas import ApiKeyOut

    data = ApiKeyOut.model_validate(key).model_dump(mode="json")
    if plaintext:
        data["key"] = plaintext
    print(json.dumps(data))


def cmd_keys_create(args: argparse.Namespace) -> int:
    from service.auth.service import create_key

    database = _database(_settings())
    with database.session() as session:
        key, plaintext = create_key(session, args.name, args.scope or ["read"])
        _print_key(key, plaintext)
    print("store the key now: it is not shown again", file=sys.stderr)
    return 0


def cmd_keys_bootstrap(args: argparse.Namespace) -> int:
    from service.auth.service import create_key, has_live_admin

    database = _database(_settings())
    with database.session() as session:
        if has_live_admin(session):
            print(
                "an admin key already exists; create more with `phantomwatch keys create`",
                file=sys.stderr,
            )
            return 0
        _, plaintext = create_key(session, args.name, ["admin"])
    print(f"\n  Admin API key (shown once, store it now):\n\n    {plaintext}\n", file=sys.stderr)
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from service.auth.service import list_keys

    database = _database(_settings())
    with database.session() as session:
        for key in list_keys(session, include_revoked=args.all):
            _print_key(key)
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from service.auth.service import revoke_key

    database = _database(_settings())
    with database.session() as session:
        _print_key(revoke_key(session, args.id))
    return 0


def cmd_brands_import(args: argparse.Namespace) -> int:
    from service.brands.documents import parse_brands_document
    from service.brands.service import import_brands

    source = "stdin" if args.file == "-" else args.file
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {source}: {exc.strerror}", EXIT_USAGE) from None
    try:
        document = parse_brands_document(text, source)
    except PhantomWatchError as exc:
        raise CliError(exc.detail, EXIT_USAGE) from None
    database = _database(_settings())
    with database.session() as session:
        result = import_brands(session, document)
    print(json.dumps(result.model_dump()))
    return 0


def cmd_brands_export(args: argparse.Namespace) -> int:
    from service.brands.documents import render_brands_document
    from service.brands.service import export_brands

    database = _database(_settings())
    with database.session() as session:
        sys.stdout.write(render_brands_document(export_brands(session), args.format))
    return 0


def cmd_ct_logs(args: argparse.Namespace) -> int:
    from service.ctlogs.schemas import CtLogOut
    from service.ctlogs.service import list_logs

    database = _database(_settings())
    with database.session() as session:
        rows = [CtLogOut.of(row) for row in list_logs(session)]
    if args.json:
        for row in rows:
            print(row.model_dump_json())
        return 0
    if not rows:
        print("no CT logs yet: set PHANTOMWATCH_CT_LOG_LIST and run `phantomwatch ct poll`")
        return 0
    print(f"{'log':44} {'proto':7} {'state':9} {'cursor':>12} {'lag':>10} {'entries/s':>9}  status")
    for r in rows:
        status = "disabled" if not r.enabled else ("ok" if r.healthy else "UNHEALTHY")
        if r.last_error and r.healthy:
            status += f" (last error: {r.last_error[:60]})"
        elif not r.healthy:
            status += f": {r.health_detail}"
        lag = "-" if r.lag is None else f"{r.lag:,}"
        rate = "-" if r.entries_per_second is None else f"{r.entries_per_second:,.0f}"
        print(
            f"{r.name[:44]:44} {r.protocol:7} {r.list_state:9} {r.next_index:>12,} {lag:>10}"
            f" {rate:>9}  {status}"
        )
    return 0


def cmd_ct_poll(args: argparse.Namespace) -> int:
    import asyncio

    from service.ingest.ct_jobs import CtJobs

    settings = _settings()
    if args.log_list:
        settings = settings.model_copy(update={"ct_log_list": args.log_list})
    if not settings.ct_log_list:
        raise CliError("no log list: pass --log-list or set PHANTOMWATCH_CT_LOG_LIST", EXIT_USAGE)
    _configure_logging(settings)
    jobs = CtJobs(settings, _database(settings))

    async def once() -> int:
        from service.sources.ct.errors import CTError

        try:
            await jobs.refresh_log_list()
        except CTError as exc:
            raise CliError(f"cannot read the log list: {exc}") from None
        reports = await jobs.poll()
        for report in reports:
            print(json.dumps(report.__dict__))
        failed = [r.log for r in reports if r.error]
        if failed:
            print(f"{len(failed)} log(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1 if failed else 0

    return asyncio.run(once())


def cmd_ct_update_log_list(args: argparse.Namespace) -> int:
    import asyncio

    from service.ingest.ct_jobs import http_config
    from service.sources.ct.errors import CTError
    from service.sources.ct.http import CTHttpClient
    from service.sources.ct.loglist import refresh

    settings = _settings()
    dest = Path(args.dest)
    dest.parent.mkdir(parents=True, exist_ok=True)

    async def fetch() -> int:
        async with CTHttpClient(http_config(settings)) as client:
            log_list = await refresh(client, dest, args.url)
        return len(log_list.monitored())

    try:
        monitored = asyncio.run(fetch())
    except CTError as exc:
        raise CliError(f"cannot download the log list: {exc}") from None
    print(
        f"wrote {dest} ({monitored} logs to monitor); use it with PHANTOMWATCH_CT_LOG_LIST={dest}",
        file=sys.stderr,
    )
    return 0


def cmd_feeds_ingest(args: argparse.Namespace) -> int:
    from service.feeds.service import FeedReport
    from service.ingest.feed_jobs import FeedJobs
    from service.sources.dns.errors import DnsError

    settings = _settings()
    _configure_logging(settings)
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"cannot read {args.file}: no such file", EXIT_USAGE)
    jobs = FeedJobs(settings.model_copy(update={"feeds": []}), _database(settings))
    name = args.name or f"{args.kind}:{path.resolve()}"
    try:
        report: FeedReport = (
            jobs.ingest_zone(name, path, force=args.force)
            if args.kind == "zone"
            else jobs.ingest_nrd(name, path.read_bytes(), force=args.force)
        )
    except DnsError as exc:
        raise CliError(f"{args.file}: {exc}", EXIT_USAGE) from None
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}", EXIT_USAGE) from None
    if report.busy:
        raise CliError(f"{name}: another process is ingesting this feed; try again when it is done")
    summary = {
        "feed": report.feed,
        "skipped": report.skipped,
        "names": report.names,
        "resumed_at": report.resumed_at,
        "alerts_created": report.alerts_created,
        "alerts_updated": report.alerts_updated,
        "names_per_second": round(report.names_per_second),
    }
    print(json.dumps(summary))
    if report.skipped:
        print("already processed (same content); --force to score it again", file=sys.stderr)
    return 0


def cmd_phantom_probe(args: argparse.Namespace) -> int:
    import asyncio

    from sqlalchemy import select

    from service.brands.models import Brand
    from service.phantom import service as phantom

    settings = _settings()
    if args.budget is not None:
        settings = settings.model_copy(update={"phantom_budget": args.budget})
    _configure_logging(settings)
    database = _database(settings)
    with database.session() as session:
        brand_id = session.scalar(
            select(Brand.id).where(Brand.name == args.brand, Brand.deleted_at.is_(None))
        )
    if brand_id is None:
        raise CliError(f"no brand named {args.brand!r} (see `phantomwatch brands export`)", 2)
    run = asyncio.run(phantom.probe(settings, database, brand_id))
    with database.session() as session:
        candidates = phantom.list_candidates(session, brand_id)
    print(
        json.dumps(
            {
                "run": run.id,
                "status": run.status,
                "requests": run.requests_made,
                "samples": run.samples,
                "budget_exhausted": run.budget_exhausted,
                "candidates": run.candidates_found,
                "errors": run.errors,
            }
        )
    )
    for candidate, state in candidates[: args.top]:
        print(
            json.dumps(
                {
                    "domain": candidate.domain,
                    "models": candidate.models,
                    "frequency": f"{candidate.samples_with}/{candidate.total_samples}",
                    "rank_score": round(candidate.rank_score, 3),
                    "registration_state": state,
                }
            )
        )
    return 0 if run.status == "done" else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from service.demo import run_demo

    def emit(line: str) -> None:
        print(line, file=sys.stderr)

    alerts = run_demo(emit)
    for alert in alerts:
        reasons = "; ".join(str(r.get("detail", "")) for r in alert.reasons)
        print(
            json.dumps(
                {
                    "domain": alert.domain,
                    "unicode": alert.unicode,
                    "brand": alert.brand_name,
                    "score": alert.score,
                    "severity": alert.severity,
                    "techniques": alert.technique_names,
                    "why": reasons,
                },
                ensure_ascii=False,
            )
        )
    emit(f"{len(alerts)} alerts")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phantomwatch",
        description="Detect lookalike and LLM-hallucinated domains of protected brands. "
        "Settings come from PHANTOMWATCH_* environment variables (see README).",
    )
    parser.add_argument("--version", action="version", version=f"phantomwatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="run the HTTP API and the scheduler in one process (default)")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("api", help="run only the HTTP API (scale out next to `worker`)")
    p.set_defaults(func=cmd_api)
    p = sub.add_parser("worker", help="run only the scheduled jobs")
    p.set_defaults(func=cmd_worker)

    dns = sub.add_parser("dns", help="DNS lookups as the enrichment sees them").add_subparsers(
        dest="dns_command", required=True, metavar="ACTION"
    )
    register_lookup(dns)

    feeds = sub.add_parser("feeds", help="domain feeds (NRD lists, zone files)").add_subparsers(
        dest="feeds_command", required=True, metavar="ACTION"
    )
    p = feeds.add_parser(
        "ingest",
        help="score a feed file once, as the scheduler would (alerts go to the database)",
        description="NRD list: one domain per line (plain, .gz or .zip). Zone file: RFC 1035 "
        "master format; the delegations new since the previous version ingested under the "
        "same name are scored (the first version is the baseline). A content already "
        "processed is skipped; an interrupted one resumes where it stopped.",
    )
    p.add_argument("file", help="the feed file")
    p.add_argument("--kind", choices=["nrd", "zone"], default="nrd", help="default: nrd")
    p.add_argument("--name", help="feed name for the cursor (default: kind:absolute path)")
    p.add_argument("--force", action="store_true", help="score it again even if processed")
    p.set_defaults(func=cmd_feeds_ingest)

    phantom = sub.add_parser(
        "phantom", help="phantom discovery: ask LLMs about a brand"
    ).add_subparsers(dest="phantom_command", required=True, metavar="ACTION")
    p = phantom.add_parser(
        "probe",
        help="ask every configured LLM about a brand now; print the run and the top names",
        description="Uses PHANTOMWATCH_PHANTOM_ENDPOINTS. Only the brand's public name is sent. "
        "Hallucinated names are stored, ranked and the best put on the registration watch.",
    )
    p.add_argument("--brand", required=True, help="brand name, as in `brands export`")
    p.add_argument(
        "--budget",
        type=_positive_int,
        help="most LLM requests (default: PHANTOMWATCH_PHANTOM_BUDGET)",
    )
    p.add_argument("--top", type=int, default=20, help="names to print (default: 20)")
    p.set_defaults(func=cmd_phantom_probe)

    p = sub.add_parser(
        "demo",
        help="offline demo: a local CT log emulator, two brands, the real pipeline, alerts "
        "as JSON Lines (uses a throwaway database)",
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    p.add_argument("--revision", default="head", help="upgrade to this revision (default: head)")
    p.add_argument("--downgrade", metavar="REV", help="downgrade to REV instead (`base` empties)")
    p.set_defaults(func=cmd_migrate)

    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(
        dest="keys_command", required=True, metavar="ACTION"
    )
    p = keys.add_parser("create", help="create a key and print it once (JSON)")
    p.add_argument("--name", required=True, help="who or what uses the key")
    p.add_argument(
        "--scope",
        action="append",
        choices=["read", "write", "admin"],
        help="scope to grant; repeatable (default: read). admin includes write includes read",
    )
    p.set_defaults(func=cmd_keys_create)
    p = keys.add_parser(
        "bootstrap", help="create an admin key unless one exists (used by make run)"
    )
    p.add_argument("--name", default="bootstrap-admin", help="name of the key")
    p.set_defaults(func=cmd_keys_bootstrap)
    p = keys.add_parser("list", help="list keys as JSON Lines (no secrets)")
    p.add_argument("--all", action="store_true", help="include revoked keys")
    p.set_defaults(func=cmd_keys_list)
    p = keys.add_parser("revoke", help="revoke a key by numeric id")
    p.add_argument("id", type=int, help="the key's id (see `keys list`)")
    p.set_defaults(func=cmd_keys_revoke)

    brands = sub.add_parser("brands", help="import or export protected brands").add_subparsers(
        dest="brands_command", required=True, metavar="ACTION"
    )
    p = brands.add_parser(
        "import",
        help="create or replace brands from a YAML/JSON file",
        description="File format: `brands: [{name, domains: [...], keywords: [...], "
        "allow: [...]}]`. Brands are matched by name. All or nothing.",
    )
    p.add_argument("file", help="brands file, or - for stdin")
    p.set_defaults(func=cmd_brands_import)
    p = brands.add_parser("export", help="print all brands in the brands file format")
    p.add_argument("--format", choices=["yaml", "json"], default="yaml", help="default: yaml")
    p.set_defaults(func=cmd_brands_export)

    register_score(sub)

    ct = sub.add_parser(
        "ct", help="Certificate Transparency: tail logs, show their state, poll once"
    ).add_subparsers(dest="ct_command", required=True, metavar="ACTION")
    register_tail(ct)
    p = ct.add_parser(
        "logs", help="each log's cursor, lag behind its head, entries/s, health, last error"
    )
    p.add_argument("--json", action="store_true", help="JSON Lines instead of a table")
    p.set_defaults(func=cmd_ct_logs)
    p = ct.add_parser(
        "poll",
        help="read the log list and poll every enabled log once (what the worker does on "
        "a schedule); prints one JSON report per log",
    )
    p.add_argument("--log-list", metavar="FILE|URL", help="default: PHANTOMWATCH_CT_LOG_LIST")
    p.set_defaults(func=cmd_ct_poll)
    p = ct.add_parser(
        "update-log-list",
        help="download the CT log list to a local file (needs internet; the service itself "
        "never downloads it)",
    )
    p.add_argument("--url", default=OFFICIAL_LOG_LIST_URL, help="default: Chrome's v3 list")
    p.add_argument(
        "--dest", default="data/ct_log_list.json", help="file to write (default: %(default)s)"
    )
    p.set_defaults(func=cmd_ct_update_log_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except CliError as exc:
        print(f"phantomwatch: error: {exc}", file=sys.stderr)
        return exc.code
    except PhantomWatchError as exc:
        print(f"phantomwatch: error: {exc.detail}", file=sys.stderr)
        return EXIT_USAGE if exc.status < 500 else EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug or an unreachable dependency: one line, not a traceback
        log.debug("unexpected error", exc_info=True)
        print(f"phantomwatch: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return code


if __name__ == "__main__":
    sys.exit(main())
