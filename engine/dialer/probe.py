"""``bnet probe``: a telecom admin's test call (needs the optional pjsua2-python)."""

from __future__ import annotations

import argparse
from typing import Any

from engine.config import Settings
from engine.errors import CliError


def register_probe(sub: Any) -> None:
    p = sub.add_parser("probe", help="test call to a trunk or SIP URI (needs pjsua2-python)")
    p.add_argument("target", help="sip:number@host:port, or a trunk name + --number")
    p.add_argument("--number", default=None)
    p.set_defaults(handler=_probe)


def _probe(args: argparse.Namespace, settings: Settings) -> int:
    raise CliError("bnet probe is not available in this build")
