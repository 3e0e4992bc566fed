"""``bnet ivr run``: the FastAGI server for the callback number and the outbound menu."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from typing import Any

import redis

from engine.actions import progress
from engine.config import Settings
from engine.ivr.callback import CallbackConfig, make_callback_route
from engine.ivr.menu import MenuConfig, make_menu_route
from engine.ivr.server import FastAgiServer, Route
from engine.ivr.sounds import message_sound, prompt_sounds
from engine.store.db import make_engine, make_sessionmaker

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    ivr = sub.add_parser("ivr", help="FastAGI IVR").add_subparsers(dest="ivr_cmd", required=True)
    p = ivr.add_parser("run", help="serve FastAGI (scripts: callback, menu) until stopped")
    p.add_argument("--host", default=None, help="override dialer.fastagi_host")
    p.add_argument("--port", type=int, default=None, help="override dialer.fastagi_port")
    p.set_defaults(handler=_run)


def build_routes(settings: Settings) -> dict[str, Route]:
    factory = make_sessionmaker(make_engine(settings.store.url))
    sounds = prompt_sounds(settings.tts, settings.actions.callback_number)
    client = redis.Redis.from_url(settings.redis.url, socket_timeout=1.0)

    def notify(action_id: str, payload: dict[str, Any]) -> None:
        progress.publish(client, action_id, payload)

    return {
        "callback": make_callback_route(factory, CallbackConfig(sounds=sounds), notify=notify),
        "menu": make_menu_route(
            factory, message_sound(settings.tts), MenuConfig(sounds=sounds), notify=notify
        ),
    }


def _run(args: argparse.Namespace, settings: Settings) -> int:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(message)s")
    host = args.host or settings.dialer.fastagi_host
    port = args.port or settings.dialer.fastagi_port
    server = FastAgiServer(build_routes(settings), host=host, port=port)
    asyncio.run(_serve(server))
    return 0


async def _serve(server: FastAgiServer) -> None:
    await server.start()
    print(f"FastAGI on {server.host}:{server.port} (agi://{server.host}:{server.port}/callback)")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    # Calls in progress finish their handler (each bounded by its deadline).
    await server.stop()
