"""``bnet``: one command, a subcommand per feature.

Each feature module exposes ``register(subparsers)``; a handler receives the parsed arguments
and the validated settings, and returns an exit code. Errors a user can fix are raised as
:class:`CliError` and printed as one line.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy.exc import DBAPIError, OperationalError

from engine.config import ConfigError, Settings, load_settings
from engine.errors import CliError

Handler = Callable[[argparse.Namespace, Settings], int]

#: Feature modules that contribute subcommands (each has ``register(subparsers)``).
FEATURES: tuple[str, ...] = (
    "engine.store.cli",
    "engine.dialer.cli",
    "engine.geo.cli",
    "engine.participants.cli",
    "engine.tts.cli",
    "engine.mail.cli",
    "engine.smpp.cli",
    "engine.ivr.cli",
    "engine.actions.cli",
    "engine.demo.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bnet", description="Burgernet engine")
    parser.add_argument("--config", type=Path, default=None, help="TOML settings file")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in FEATURES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        settings = load_settings(args.config)
        return handler(args, settings)
    except (ConfigError, CliError) as exc:
        print(f"bnet: error: {exc}", file=sys.stderr)
        return 2
    except DBAPIError as exc:
        print(f"bnet: error: {_store_problem(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bnet: interrupted", file=sys.stderr)
        return 130


def _store_problem(exc: DBAPIError) -> str:
    """One line that says what to do, instead of a driver traceback."""
    text = str(exc.orig) if exc.orig is not None else str(exc)
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        return (f"the store has no schema or an old one ({text.splitlines()[0]}): "
                "run 'bnet db upgrade' first")
    if isinstance(exc, OperationalError):
        return (f"the store cannot be used ({text.splitlines()[0]}): check store.url "
                "(BNET_STORE__URL) and that the database server is running")
    return f"the store refused the operation: {text.splitlines()[0]}"


if __name__ == "__main__":
    sys.exit(main())
