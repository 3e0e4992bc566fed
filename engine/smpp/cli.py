"""``bnet smsc list|set|enable|disable`` for telecom admins, and ``bnet smpp run``."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import Any

import redis
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from engine.actions.models import SmsMessage
from engine.config import Settings
from engine.errors import CliError, EngineError
from engine.smpp import tuning
from engine.smpp.service import STATE_KEY, SmsService
from engine.store.db import transaction
from engine.store.session import open_store

console = Console()


def register(sub: Any) -> None:
    smsc = sub.add_parser("smsc", help="SMS centre connections (SMPP)").add_subparsers(
        dest="smsc_cmd", required=True
    )
    smsc.add_parser("list", help="SMSCs, their settings and live bind state").set_defaults(
        handler=_list
    )
    setp = smsc.add_parser("set", help="change settings, e.g. max_tps=250 window=50")
    setp.add_argument("name")
    setp.add_argument("assignments", nargs="+", metavar="key=value")
    setp.set_defaults(handler=_set)
    for verb in ("enable", "disable"):
        cmd = smsc.add_parser(verb, help=f"{verb} an SMSC (running senders follow within ~1 s)")
        cmd.add_argument("name")
        cmd.set_defaults(handler=_enable if verb == "enable" else _disable)
    smpp = sub.add_parser("smpp", help="the SMS sender service").add_subparsers(
        dest="smpp_cmd", required=True
    )
    smpp.add_parser("run", help="run the SMS sender (Ctrl-C to stop)").set_defaults(handler=_run)


def _bind_states(settings: Settings) -> dict[str, list[str]]:
    try:
        client = redis.Redis.from_url(settings.redis.url, socket_timeout=1.0)
        raw = client.hgetall(STATE_KEY)
    except redis.RedisError:
        return {}
    out: dict[str, list[str]] = {}
    for key, value in raw.items():
        name = key.decode().rsplit("/", 1)[0]
        out.setdefault(name, []).append(value.decode().split("|", 1)[0])
    return out


def _list(args: argparse.Namespace, settings: Settings) -> int:
    with open_store(settings) as (_engine, factory):
        try:
            with transaction(factory) as session:
                smscs = tuning.effective(session, settings.smpp)
                queued = session.scalar(select(func.count()).where(SmsMessage.state == "queued"))
        except OperationalError as exc:
            raise CliError(f"the store is not ready ({exc.orig}); run: bnet db upgrade") from exc
    live = _bind_states(settings)
    table = Table(title=f"SMS centres ({queued or 0} SMS queued)")
    for column in (
        "name",
        "enabled",
        "host:port",
        "binds",
        "window",
        "max TPS",
        "prefixes",
        "priority",
        "concat",
        "live binds",
    ):
        table.add_column(column)
    for s in sorted(smscs, key=lambda s: (s.priority, s.name)):
        states = live.get(s.name, [])
        bound = sum(1 for state in states if state == "bound")
        table.add_row(
            s.name,
            "yes" if s.enabled else "[red]no[/red]",
            f"{s.host}:{s.port}",
            str(s.binds),
            str(s.window),
            "-" if s.max_tps is None else f"{s.max_tps:g}",
            ",".join(s.prefixes),
            str(s.priority),
            s.concat,
            f"{bound}/{len(states)} bound" if states else "unknown",
        )
    console.print(table)
    return 0


def _change(settings: Settings, name: str, changes: dict[str, Any]) -> int:
    with open_store(settings) as (_engine, factory):
        try:
            with transaction(factory) as session:
                new = tuning.update(session, settings.smpp, name, changes, actor="cli")
        except EngineError as exc:
            raise CliError(exc.message) from exc
    shown = ", ".join(f"{k}={getattr(new, k)}" for k in changes) or "saved"
    console.print(f"SMSC {name}: {shown}")
    return 0


def _set(args: argparse.Namespace, settings: Settings) -> int:
    try:
        changes = tuning.parse_assignments(args.assignments)
    except EngineError as exc:
        raise CliError(exc.message) from exc
    return _change(settings, args.name, changes)


def _enable(args: argparse.Namespace, settings: Settings) -> int:
    return _change(settings, args.name, {"enabled": True})


def _disable(args: argparse.Namespace, settings: Settings) -> int:
    return _change(settings, args.name, {"enabled": False})


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from engine.sim.smsc import ThreadedSmsc

    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(message)s")
    sims = [ThreadedSmsc(s.host, s.port) for s in settings.smpp.smscs if s.simulated]
    for sim in sims:  # demo: the built-in simulator stands in for the operator's SMSC
        sim.start()
    client = redis.Redis.from_url(settings.redis.url)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with open_store(settings) as (_engine, factory):
        service = SmsService(settings, factory, client)
        console.print(f"SMS sender {service.node} running; Ctrl-C to stop")
        service.run(stop)
    for sim in sims:
        sim.stop()
    return 0
