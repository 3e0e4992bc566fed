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
    except KeyboardInterrupt:
        print("bnet: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
