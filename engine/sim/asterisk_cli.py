"""Command line of the Asterisk simulator: ``python -m engine.sim.asterisk --port N``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from engine.sim.asterisk import AsteriskSim
from engine.sim.asterisk_model import SimConfig

__all__ = ["main"]


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Asterisk AMI simulator (demo, load tests)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=15038)
    parser.add_argument("--endpoints", default="trunk", help="comma-separated PJSIP endpoints")
    parser.add_argument("--answer-rate", type=float, default=0.8)
    parser.add_argument("--busy-rate", type=float, default=0.05)
    parser.add_argument("--ring", type=float, nargs=2, default=(2.0, 6.0), metavar=("MIN", "MAX"))
    parser.add_argument("--hold", type=float, nargs=2, default=(30.0, 5.0), metavar=("MEAN", "SD"))
    parser.add_argument("--max-channels", type=int, default=None)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    rest = max(0.0, 1.0 - args.answer_rate - args.busy_rate)
    config = SimConfig(
        endpoints=tuple(e.strip() for e in args.endpoints.split(",") if e.strip()),
        weights={"answer": args.answer_rate, "busy": args.busy_rate, "noanswer": rest},
        ring_time_s=tuple(args.ring),
        hold_time_s=tuple(args.hold),
        max_channels=args.max_channels,
        time_scale=args.time_scale,
        seed=args.seed,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    async def serve() -> None:
        sim = AsteriskSim(config, args.host, args.port)
        port = await sim.start()
        print(f"Asterisk AMI simulator on {args.host}:{port} (user {config.username})", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
