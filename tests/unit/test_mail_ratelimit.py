"""Rate limiter arithmetic on a fake clock (no real waiting, no timing assertions)."""

from __future__ import annotations

import pytest

from engine.mail.ratelimit import RedisWindowLimiter, TokenBucket


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_bucket_allows_a_burst_then_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(5, burst=5, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        bucket.acquire()
    assert clock.slept == []
    bucket.acquire()
    assert clock.slept == [pytest.approx(0.2)]


def test_bucket_sends_no_more_than_rate_times_time_plus_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(20, clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(220):
        bucket.acquire()
    # 20 from the full bucket, then 200 at 20/s: 10 seconds.
    assert clock.now - start == pytest.approx(10.0)


def test_bucket_does_not_save_up_beyond_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2, burst=2, clock=clock, sleep=clock.sleep)
    clock.now += 3600
    for _ in range(3):
        bucket.acquire()
    assert sum(clock.slept) == pytest.approx(0.5)


def test_fractional_rate_waits_between_messages() -> None:
    clock = FakeClock()
    bucket = TokenBucket(0.5, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        bucket.acquire()
    assert clock.slept == [pytest.approx(2.0), pytest.approx(2.0)]


def test_bucket_refuses_a_zero_rate() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)


class FakeRedis:
    def __init__(self) -> None:
        self.counters: dict[str, int] = {}
        self.expiries: dict[str, int] = {}

    def incr(self, name: str, amount: int = 1) -> int:
        self.counters[name] = self.counters.get(name, 0) + amount
        return self.counters[name]

    def expire(self, name: str, time: int) -> bool:
        self.expiries[name] = time
        return True


def test_redis_window_is_shared_by_every_limiter_on_the_key() -> None:
    clock = FakeClock(start=5000.0)
    redis = FakeRedis()
    workers = [RedisWindowLimiter(redis, 10, clock=clock, sleep=clock.sleep) for _ in range(3)]
    for i in range(35):
        workers[i % 3].acquire()
    # 10 per one-second window whichever process asks: 35 sends need windows 0..3.
    assert clock.now == pytest.approx(5003.0)
    # Three full windows (10 sent + the one ask that had to wait) and 5 in the last.
    assert sorted(redis.counters.values()) == [5, 11, 11, 11]
    assert all(seconds >= 1 for seconds in redis.expiries.values())


def test_redis_window_below_one_per_second_grows_the_window() -> None:
    clock = FakeClock(start=0.0)
    limiter = RedisWindowLimiter(FakeRedis(), 0.25, clock=clock, sleep=clock.sleep)
    assert (limiter.window_s, limiter.allowance) == (4.0, 1)
    limiter.acquire()
    limiter.acquire()
    assert clock.now == pytest.approx(4.0)
