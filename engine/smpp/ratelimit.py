"""Token bucket per bind (pure: the caller passes the clock)."""

from __future__ import annotations


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; ``rate=None`` means unlimited.

    The burst is small (50 ms worth) so the long-run rate is the configured one even when the
    sender loop wakes late, without letting a pause turn into a flood.
    """

    def __init__(self, rate: float | None, now: float, burst_s: float = 0.05):
        self._burst_s = burst_s
        self._tokens = 0.0
        self._last = now
        self.rate: float | None = None
        self.capacity = 1.0
        self.set_rate(rate)

    def set_rate(self, rate: float | None) -> None:
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
