"""``bnet tokens``, ``bnet regions``, ``bnet dossier``, ``bnet api run``, ``bnet worker``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actions import dossier
from engine.actions.models import Action, DossierEntry
from engine.api import auth
from engine.config import Settings
from engine.errors import CliError, EngineError
from engine.store.db import make_engine, make_sessionmaker, transaction


def register(sub: Any) -> None:
    tokens = sub.add_parser("tokens", help="API bearer tokens").add_subparsers(
        dest="tokens_cmd", required=True)
    p = tokens.add_parser("create", help="create a token and print its secret once")
    p.add_argument("--name", required=True)
    p.add_argument("--role", required=True, choices=auth.ROLES)
    p.add_argument("--region", required=True, help="region name, or * for all regions")
    p.add_argument("--expires-days", type=float, default=None)
    p.set_defaults(handler=_tokens_create)
    tokens.add_parser("list", help="list tokens (never secrets)").set_defaults(
        handler=_tokens_list)
    p = tokens.add_parser("revoke", help="revoke a token by id")
    p.add_argument("token_id")
    p.set_defaults(handler=_tokens_revoke)

    regions = sub.add_parser("regions", help="meldkamer regions").add_subparsers(
        dest="regions_cmd", required=True)
    p = regions.add_parser("set", help="set a region's municipalities")
    p.add_argument("name")
    p.add_argument("codes", help="comma-separated CBS codes, e.g. GM0150,GM1773")
    p.set_defaults(handler=_regions_set)
    regions.add_parser("list", help="list regions").set_defaults(handler=_regions_list)

    dos = sub.add_parser("dossier", help="action dossiers").add_subparsers(
        dest="dossier_cmd", required=True)
    p = dos.add_parser("verify", help="check the hash chain of an action's dossier")
    p.add_argument("action_id")
    p.set_defaults(handler=_dossier_verify)
    p = dos.add_parser("export", help="print an action's dossier")
    p.add_argument("action_id")
    p.add_argument("--format", choices=("json", "csv"), default="json")
    p.set_defaults(handler=_dossier_export)

    api = sub.add_parser("api", help="HTTP hook").add_subparsers(dest="api_cmd", required=True)
    p = api.add_parser("run", help="serve the HTTP API with uvicorn")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(handler=_api_run)

    p = sub.add_parser("worker", help="run an RQ worker (TTS render, e-mail)")
    p.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    p.set_defaults(handler=_worker)


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    engine = make_engine(settings.store.url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            yield session
    except EngineError as exc:
        raise CliError(exc.message) from exc
    finally:
        engine.dispose()


def _tokens_create(args: argparse.Namespace, settings: Settings) -> int:
    with _session(settings) as s:
        created = auth.create_token(s, name=args.name, role=args.role, region=args.region,
                                    expires_days=args.expires_days)
    expires = created.expires_at.isoformat() if created.expires_at else "never"
    print(f"token {created.token_id} (expires {expires}); the secret is shown only now:",
          file=sys.stderr)
    print(created.secret)
    return 0


def _tokens_list(_args: argparse.Namespace, settings: Settings) -> int:
    with _session(settings) as s:
        for t in auth.list_tokens(s):
            state = "revoked" if t.revoked else "active"
            expires = t.expires_at.isoformat() if t.expires_at else "never"
            print(f"{t.id}\t{t.name}\t{t.role}\t{t.region}\t{state}\texpires {expires}")
    return 0


def _tokens_revoke(args: argparse.Namespace, settings: Settings) -> int:
    with _session(settings) as s:
        auth.revoke_token(s, args.token_id)
    print(f"revoked {args.token_id}")
    return 0


def _regions_set(args: argparse.Namespace, settings: Settings) -> int:
    with _session(settings) as s:
        region = auth.set_region(s, args.name, args.codes.split(","))
        print(f"{region.name}: {', '.join(region.municipality_codes)}")
    return 0


def _regions_list(_args: argparse.Namespace, settings: Settings) -> int:
    with _session(settings) as s:
        for region in auth.list_regions(s):
            print(f"{region.name}\t{','.join(region.municipality_codes)}")
    return 0


def _dossier_verify(args: argparse.Namespace, settings: Settings) -> int:
    with _session(settings) as s:
        if s.get(Action, args.action_id) is None and not dossier.count(s, args.action_id):
            raise CliError(f"no action {args.action_id}")
        result = dossier.verify(s, args.action_id)
    if result.ok:
        print(f"dossier {args.action_id}: {result.entries} entries, chain intact")
        return 0
    print(f"dossier {args.action_id}: BROKEN at entry {result.first_bad_seq}: {result.reason}")
    return 1


def _dossier_export(args: argparse.Namespace, settings: Settings) -> int:
    from engine.api.routes_action_ops import entries_csv, entry_dict

    with _session(settings) as s:
        rows = s.scalars(select(DossierEntry).where(DossierEntry.action_id == args.action_id)
                         .order_by(DossierEntry.seq)).all()
        if not rows:
            raise CliError(f"no dossier for action {args.action_id}")
        entries = [entry_dict(r) for r in rows]
        check = dossier.verify(s, args.action_id)
    if args.format == "csv":
        sys.stdout.write(entries_csv(entries))
    else:
        print(json.dumps({"action_id": args.action_id, "verified": check.ok,
                          "entries": entries}, ensure_ascii=False, indent=1))
    return 0


def _api_run(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn
    from redis import Redis
    from rq import Queue

    from engine.api.app import create_app
    from rq_workers.actions import QUEUE

    redis = Redis.from_url(settings.redis.url)
    app = create_app(settings, redis=redis, queue=Queue(QUEUE, connection=redis))
    uvicorn.run(app, host=args.host or settings.api.host, port=args.port or settings.api.port,
                log_level=settings.log_level.lower())
    return 0


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from rq_workers.worker import run_worker

    run_worker(settings, burst=args.burst)
    return 0
