"""``bnet probe``: a telecom admin's test call straight to a trunk or a SIP URI.

Setup time, answer, the rendered message played into the call, what came back recorded,
DTMF sent; one JSON object on stdout. Needs the optional ``pjsua2-python`` package; without
it the command says so and exits 2.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from engine.config import Settings
from engine.errors import CliError

_E164 = re.compile(r"\+?[0-9]{3,15}\Z")


def register_probe(sub: Any) -> None:
    p = sub.add_parser("probe", help="test call to a trunk or SIP URI (needs pjsua2-python)")
    p.add_argument("target", help="sip:<number>@host[:port], or a trunk name (with --number)")
    p.add_argument("--number", default=None, help="number to call through the trunk")
    p.add_argument("--play", type=Path, default=None, help="8 kHz WAV played on answer")
    p.add_argument("--record", type=Path, default=None, help="WAV of what came back")
    p.add_argument("--dtmf", default="", help="digits sent 1 s after the answer")
    p.add_argument("--ring-timeout", type=float, default=30.0)
    p.add_argument("--hold", type=float, default=10.0, help="seconds to stay after the answer")
    p.add_argument("--sip-port", type=int, default=5090)
    p.add_argument("--rtp-port", type=int, default=44000)
    p.add_argument("--bind", default="127.0.0.1")
    p.set_defaults(handler=_probe)


def probe_target(target: str, number: str | None, settings: Settings) -> str:
    """The SIP URI to call: as given, or the number at the trunk's carrier contact."""
    if target.startswith("sip:"):
        if any(c in target for c in '\r\n <>"') or "@" not in target:
            raise CliError("target must look like sip:<number>@host[:port]")
        return target
    trunk = next((t for t in settings.dialer.trunks if t.name == target), None)
    if trunk is None:
        raise CliError(f"no trunk named {target!r} and not a sip: URI")
    if not number or not _E164.match(number):
        raise CliError("a trunk probe needs --number in E.164 (e.g. +31201234567)")
    host = trunk.contact.split(":", 1)[1] if trunk.contact.startswith("sip:") else trunk.contact
    return f"sip:{number}@{host.split('@')[-1]}"


def _probe(args: argparse.Namespace, settings: Settings) -> int:
    uri = probe_target(args.target, args.number, settings)
    if args.play is not None and not args.play.exists():
        raise CliError(f"no such file: {args.play}")
    try:
        from engine.dialer.probe_agent import ProbeOptions, run_probe
    except ImportError as exc:
        raise CliError(
            f"bnet probe needs the optional pjsua2-python package ({exc}); "
            "install it with: pip install pjsua2-python"
        ) from exc
    opts = ProbeOptions(
        target=uri,
        play=args.play,
        record=args.record,
        dtmf=args.dtmf,
        ring_timeout_s=args.ring_timeout,
        hold_s=args.hold,
        sip_port=args.sip_port,
        rtp_port=args.rtp_port,
        bind=args.bind,
    )
    result = run_probe(opts)
    print(json.dumps(result.as_dict()))
    return 0 if result.status is not None else 1
