"""Rate limits for sending: an in-process token bucket and a Redis window shared by workers.

RQ forks a fresh process per job, so a bucket in memory only limits a batch inside one process
(``send_queued``); jobs spread over workers share the Redis window instead.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Protocol

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class RateLimiter(Protocol):
    def acquire(self) -> None:
        """Block until one message may be sent."""


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; starts full."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._at = clock()

    def try_acquire(self) -> float:
        """Take a token and return 0, or return the seconds to wait before one is there."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        # The epsilon absorbs float rounding: a wait of 1e-17 s would not move the clock.
        if self._tokens >= 1.0 - 1e-9:
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        return (1.0 - self._tokens) / self.rate

    def acquire(self) -> None:
        while (wait := self.try_acquire()) > 0:
            self._sleep(wait)


class _RedisLike(Protocol):
    def incr(self, name: str, amount: int = 1) -> Any: ...

    def expire(self, name: str, time: int) -> Any: ...


class RedisWindowLimiter:
    """At most ``rate`` sends per second across every process sharing ``key``.

    Fixed windows (a counter per window, expiring by itself) are coarse at the window edge but
    need one round trip and no script; the SMTP relay's own limits are the real bound.
    """

    def __init__(
        self,
        redis: _RedisLike,
        rate: float,
        *,
        key: str = "bnet:mail:rate",
        clock: Clock = time.time,
        sleep: Sleep = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        # Below 1/s the window grows so that it still holds one whole message.
        self.window_s = 1.0 if rate >= 1 else 1.0 / rate
        self.allowance = max(1, math.floor(rate * self.window_s))
        self._redis = redis
        self._key = key
        self._clock = clock
        self._sleep = sleep

    def try_acquire(self) -> float:
        now = self._clock()
        window = math.floor(now / self.window_s)
        name = f"{self._key}:{window}"
        used = int(self._redis.incr(name))
        if used == 1:
            self._redis.expire(name, math.ceil(self.window_s) + 2)
        if used <= self.allowance:
            return 0.0
        return (window + 1) * self.window_s - now

    def acquire(self) -> None:
        while (wait := self.try_acquire()) > 0:
            self._sleep(wait)
