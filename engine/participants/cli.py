"""``bnet participants import|synth|show|unsubscribe|resubscribe|erase|select``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import select

from engine.config import Settings
from engine.errors import CliError, EngineError
from engine.geo.models import Pc4Area
from engine.geo.service import Pc4Index
from engine.participants import service
from engine.participants.csv_import import import_csv, write_report
from engine.participants.selection import Circle, select_participants
from engine.participants.synth import SynthConfig, generate
from engine.store.db import analyze, transaction
from engine.store.session import open_store
from engine.textsafe import mask_phone

console = Console(stderr=True)


def register(sub: Any) -> None:
    p = sub.add_parser("participants", help="relatiebeheer").add_subparsers(
        dest="p_cmd", required=True)
    imp = p.add_parser("import", help="import participants from CSV")
    imp.add_argument("file", type=Path)
    imp.add_argument("--report", type=Path, help="per-row error report (default FILE.errors.csv)")
    imp.set_defaults(handler=_import)
    syn = p.add_parser("synth", help="create synthetic participants from PC4 residents")
    syn.add_argument("--participation", type=float, default=0.05)
    syn.add_argument("--seed", type=int, default=2013)
    syn.add_argument("--near", metavar="POSTCODE",
                     help="only PC4 areas around this postcode (demo); default all of NL")
    syn.add_argument("--radius-km", type=float, default=15.0)
    syn.set_defaults(handler=_synth)
    for name, fn in (("show", _show), ("unsubscribe", _unsub), ("resubscribe", _resub),
                     ("erase", _erase)):
        c = p.add_parser(name, help=f"{name} a participant")
        c.add_argument("participant_id", type=int)
        c.set_defaults(handler=fn)
    sel = p.add_parser("select", help="who would be reached around a postcode")
    sel.add_argument("postcode")
    sel.add_argument("--radius", type=float, default=2000, help="metres")
    sel.add_argument("--limit", type=int, default=10)
    sel.set_defaults(handler=_select)


@contextmanager
def _progress(total: int | None, label: str) -> Iterator[Any]:
    with _bar(total, label) as (advance, _):
        yield advance


@contextmanager
def _bar(total: int | None, label: str) -> Iterator[tuple[Any, Any]]:
    """A progress bar: (advance(n), set_total(n))."""
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task(label, total=total)
        yield (lambda n: bar.advance(task, n)), (lambda n: bar.update(task, total=n))


def _import(args: argparse.Namespace, settings: Settings) -> int:
    if not args.file.exists():
        raise CliError(f"file not found: {args.file}")
    size = args.file.stat().st_size
    with open_store(settings) as (engine, factory):
        try:
            with factory() as s:
                index = Pc4Index.load(s)
            with _bar(None, "importing") as (advance, set_total):
                report = import_csv(factory, args.file, index, progress=advance,
                                    on_total=set_total)
        except EngineError as exc:
            raise CliError(exc.message) from exc
        analyze(engine)
    out = args.report or args.file.with_suffix(".errors.csv")
    if report.errors:
        write_report(report, out)
    print(f"accepted {report.accepted}, updated {report.updated}, unchanged {report.unchanged}, "
          f"rejected {report.rejected} ({size / 1e6:.1f} MB read)"
          + (f"; errors in {out}" if report.errors else ""))
    if report.stopped:
        print(f"bnet: error: stopped early at {report.stopped}", file=sys.stderr)
        return 1
    return 1 if report.rejected and not (report.accepted or report.unchanged or report.updated) \
        else 0


def _synth(args: argparse.Namespace, settings: Settings) -> int:
    if not 0 < args.participation <= 1:
        raise CliError("--participation must be between 0 and 1 (e.g. 0.05)")
    cfg = SynthConfig(participation=args.participation, seed=args.seed)
    with open_store(settings) as (engine, factory):
        with factory() as s:
            areas = list(s.scalars(select(Pc4Area).order_by(Pc4Area.pc4)))
            if not areas:
                raise CliError("no PC4 table: run 'bnet geo import FILE' first")
            if args.near:
                try:
                    index = Pc4Index(areas)
                    c = index.centroid(args.near)
                except EngineError as exc:
                    raise CliError(exc.message) from exc
                keep = set(index.within(c.lat, c.lon, args.radius_km * 1000))
                areas = [a for a in areas if a.pc4 in keep]
        expected = int(sum((a.residents or cfg.default_residents) for a in areas)
                       * cfg.participation)
        t0 = time.monotonic()
        with _progress(expected, "generating") as advance, engine.begin() as conn:
            n = generate(conn, areas, cfg, progress=advance)
        analyze(engine)
    print(f"created {n} synthetic participants in {time.monotonic() - t0:.1f} s")
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    with open_store(settings) as (_, factory), factory() as s:
        try:
            p = service.get(s, args.participant_id)
        except EngineError as exc:
            raise CliError(exc.message) from exc
        print(f"#{p.id} {p.status} pref={p.channel_pref} tester={p.is_tester}")
        for ph in p.phones:
            print(f"  phone {mask_phone(ph.e164)} ({ph.kind})")
        for a in p.addresses:
            print(f"  {a.label}: {a.postcode[:4]} ** exact={a.exact}")
    return 0


def _change(args: argparse.Namespace, settings: Settings, verb: str) -> int:
    with open_store(settings) as (_, factory):
        try:
            with transaction(factory) as s:
                if verb == "erase":
                    n = service.erase(s, args.participant_id)
                    print(f"participant {args.participant_id} erased; "
                          f"{n} dossier entries pseudonymised")
                    return 0
                getattr(service, verb)(s, args.participant_id)
        except EngineError as exc:
            raise CliError(exc.message) from exc
    print(f"participant {args.participant_id}: {verb} done")
    return 0


def _unsub(args: argparse.Namespace, settings: Settings) -> int:
    return _change(args, settings, "unsubscribe")


def _resub(args: argparse.Namespace, settings: Settings) -> int:
    return _change(args, settings, "resubscribe")


def _erase(args: argparse.Namespace, settings: Settings) -> int:
    return _change(args, settings, "erase")


def _select(args: argparse.Namespace, settings: Settings) -> int:
    with open_store(settings) as (_, factory), factory() as s:
        try:
            index = Pc4Index.load(s)
            c = index.centroid(args.postcode)
            t0 = time.perf_counter()
            sel = select_participants(s, Circle(c.lat, c.lon, args.radius), datetime.now(UTC),
                                      index=index)
            ms = (time.perf_counter() - t0) * 1000
        except EngineError as exc:
            raise CliError(exc.message) from exc
    table = Table(title=f"{len(sel.entries)} numbers, {sel.participants} participants "
                        f"within {args.radius:.0f} m of {c.pc4} ({ms:.0f} ms)")
    for col in ("participant", "number", "kind", "channel", "distance m"):
        table.add_column(col)
    for e in sel.entries[: args.limit]:
        table.add_row(str(e.participant_id), mask_phone(e.e164), e.phone_kind, e.channel,
                      f"{e.distance_m:.0f}")
    Console().print(table)
    print(f"voice {sel.count_by_channel.get('voice', 0)}, sms {sel.count_by_channel.get('sms', 0)}")
    return 0
