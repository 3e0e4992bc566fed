"""``bnet db upgrade``: bring the store schema to the latest migration."""

from __future__ import annotations

import argparse
from typing import Any

from engine.config import Settings
from engine.store.migrate import upgrade


def register(sub: Any) -> None:
    db = sub.add_parser("db", help="store schema").add_subparsers(dest="db_cmd", required=True)
    p = db.add_parser("upgrade", help="apply all migrations")
    p.set_defaults(handler=_upgrade)


def _upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    upgrade(settings.store.url)
    print(f"store at head: {settings.store.url.split('@')[-1]}")
    return 0
