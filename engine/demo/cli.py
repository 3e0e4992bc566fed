"""``bnet demo``: the whole flow end to end on embedded defaults."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from sqlalchemy import select

from engine.config import Settings, load_settings
from engine.demo.scenario import Centralist, DemoResult, run_scenario
from engine.demo.stack import Stack, StackOptions
from engine.errors import CliError, EngineError
from engine.geo.models import Pc4Area
from engine.geo.service import Pc4Index
from engine.store.session import open_store

console = Console()


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="run one action end to end with the simulators")
    p.add_argument("--root", type=Path, default=Path("var/demo"))
    p.add_argument("--postcode", default="7411", help="incident postcode (Deventer centre)")
    p.add_argument("--radius", type=float, default=1500.0, help="action radius in metres")
    p.add_argument("--participation", type=float, default=0.01)
    p.add_argument("--timeout", type=float, default=180.0)
    p.add_argument("--real-ami", default=os.environ.get("BNET_DEMO_AMI"),
                   help="host:port of a real Asterisk AMI instead of the simulator")
    p.add_argument("--real-smsc", default=os.environ.get("BNET_DEMO_SMSC"),
                   help="host:port of a real SMSC instead of the simulator")
    p.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace, _settings: Settings) -> int:
    opts = StackOptions(root=args.root, near=args.postcode, participation=args.participation,
                        real_ami=args.real_ami, real_smsc=args.real_smsc)
    stack = Stack(opts)
    try:
        return _run(stack, args)
    except EngineError as exc:
        raise CliError(f"{exc.message} (logs in {stack.logs})") from exc
    finally:
        stack.stop()


def _step(text: str) -> None:
    console.print(f"[bold cyan]▶[/] {text}")


def _run(stack: Stack, args: argparse.Namespace) -> int:
    _step("store, private Redis and PC4 geodata")
    stack.prepare()
    _step("synthetic participants around the incident")
    console.print("  " + stack.populate())
    token = _centralist_token(stack, args.postcode)
    _step("simulators (Asterisk AMI, SMSC, SMTP sink) and engine services")
    stack.start_simulators()
    stack.start_engine()
    base = f"http://127.0.0.1:{stack.ports.api}"
    c = Centralist(base, token)
    try:
        _step(f"centralist triggers an action via POST {base}/v1/actions")
        res = _watch(c, args)
    finally:
        c.close()
    _summary(stack, res)
    verify = stack.bnet("dossier", "verify", res.action_id, check=False)
    console.print(f"  dossier verify: {verify.stdout.strip() or verify.stderr.strip()}")
    dead = [n for n, up in stack.alive().items() if not up]
    if dead:
        raise CliError(f"services stopped during the demo: {', '.join(dead)}")
    return 0 if verify.returncode == 0 and res.final.get("answered", 0) > 0 else 1


def _centralist_token(stack: Stack, postcode: str) -> str:
    settings = load_settings(stack.config)
    with open_store(settings) as (_, factory), factory() as s:
        area = Pc4Index.load(s).centroid(postcode)
        codes = sorted({r for r in s.scalars(select(Pc4Area.municipality_code).where(
            Pc4Area.province == area.province)) if r})
    region = "demo-" + (area.province or "regio").lower().replace(" ", "-")
    if codes:
        stack.bnet("regions", "set", region, ",".join(codes))
    out = stack.bnet("tokens", "create", "--name", "demo-centralist", "--role", "centralist",
                     "--region", region if codes else "*").stdout
    return out.strip().split()[-1]


def _table(counts: dict[str, Any], started: float) -> Table:
    t = Table(title=f"action {counts.get('action_id', '')[:12]} — {counts.get('state', '')} "
                    f"— {time.monotonic() - started:.1f} s")
    keys = ("selected", "calls", "queued", "calling", "answered", "failed", "sms", "sms_sent",
            "sms_delivered", "callbacks")
    for k in keys:
        t.add_column(k.replace("_", " "), justify="right")
    t.add_row(*(str(counts.get(k, 0)) for k in keys))
    return t


def _watch(c: Centralist, args: argparse.Namespace) -> DemoResult:
    started = time.monotonic()
    with Live(_table({}, started), console=console, refresh_per_second=4) as live:
        return run_scenario(c, args.postcode, args.radius,
                            lambda counts: live.update(_table(counts, started)), args.timeout)


def _summary(stack: Stack, res: DemoResult) -> None:
    f = res.final
    e = res.estimate
    console.print(f"  estimate before launch: {e.get('selected', '?')} numbers, "
                  f"{e.get('calls', '?')} calls over {e.get('lines', '?')} lines "
                  f"(~{e.get('seconds_to_reach_all', '?')} s), {e.get('sms', '?')} SMS of "
                  f"{e.get('sms_segments', '?')} {e.get('sms_encoding', '')} segment(s), "
                  f"~€{e.get('cost_eur', '?')}")
    console.print(f"  same Idempotency-Key returned the same action: "
                  f"{res.idempotent_replay_same_id}")
    console.print(f"  first progress event {res.first_event_ms:.0f} ms after the trigger, "
                  f"{res.events} events")
    console.print(f"  outcome: {f.get('answered', 0)} answered, {f.get('failed', 0)} not "
                  f"reached, {f.get('sms_delivered', 0)}/{f.get('sms', 0)} SMS delivered")
    console.print(f"  dossier: {res.dossier_entries} entries: {res.dossier_kinds}")
    console.print(f"  logs: {stack.logs}")
