"""Token bucket per bind (pure: the caller passes the clock)."""

from __future__ import annotations

from collections import deque


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; ``rate=None`` means unlimited.

    The burst (200 ms worth) lets the long-run rate stay the configured one when the sender
    thread is kept off the CPU for a moment (2 shared cores), without letting a pause turn
    into a flood.
    """

    def __init__(self, rate: float | None, now: float, burst_s: float = 0.2):
        self._burst_s = burst_s
        self._tokens = 0.0
        self._last = now
        self.rate: float | None = None
        self.capacity = 1.0
        self.set_rate(rate)

    def set_rate(self, rate: float | None, burst_s: float | None = None) -> None:
        if burst_s is not None:
            self._burst_s = burst_s
        self.rate = rate
        self.capacity = max(1.0, (rate or 0.0) * self._burst_s)
        self._tokens = min(self._tokens, self.capacity)

    def _refill(self, now: float) -> None:
        if self.rate is None:
            return
        elapsed = max(0.0, now - self._last)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._last = now

    def try_take(self, now: float) -> bool:
        if self.rate is None:
            return True
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def wait_time(self, now: float) -> float:
        """Seconds until the next token (0 when one is available)."""
        if self.rate is None:
            return 0.0
        self._refill(now)
        return 0.0 if self._tokens >= 1.0 else (1.0 - self._tokens) / self.rate


class AdaptiveLimit:
    """Learns an SMSC's own submit rate from its ESME_RTHROTTLED answers (AIMD, pure).

    On a refusal the limit drops to 90% of what the SMSC accepted over the last second; every
    second without one it grows by 10%, probing for more. Without this, a fixed pause after each
    refusal wastes most of the capacity the SMSC does grant.
    """

    WINDOW_S = 1.0

    def __init__(self) -> None:
        self.limit: float | None = None
        self._accepted: deque[float] = deque()
        self._since = 0.0
        self._changed = 0.0

    def on_accepted(self, now: float) -> None:
        if not self._accepted:
            self._since = now
        self._accepted.append(now)
        self._trim(now)

    def on_throttled(self, now: float) -> None:
        self._trim(now)
        if self._accepted:
            # Over the time actually observed: right after a bind comes up that is < 1 s.
            span = max(0.05, min(self.WINDOW_S, now - self._since))
            self.limit = max(1.0, 0.9 * len(self._accepted) / span)
        else:
            self.limit = max(1.0, (self.limit or 2.0) / 2)
        self._changed = now

    def current(self, now: float) -> float | None:
        if self.limit is not None and now - self._changed >= self.WINDOW_S:
            self.limit *= 1.1
            self._changed = now
        return self.limit

    def _trim(self, now: float) -> None:
        while self._accepted and now - self._accepted[0] > self.WINDOW_S:
            self._accepted.popleft()
        if not self._accepted:
            self._since = now


def combined(configured: float | None, learned: float | None) -> float | None:
    """The stricter of the admin's cap and the learned SMSC limit (None = unlimited)."""
    if configured is None:
        return learned
    if learned is None:
        return configured
    return min(configured, learned)
