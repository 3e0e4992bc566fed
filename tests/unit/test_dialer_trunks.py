"""Trunk pool: line and CPS limits, prefixes, cost/priority, hot reload, circuit breaker."""

from __future__ import annotations

from engine.dialer.settings import TrunkSettings
from engine.dialer.trunks import BreakerSettings, TrunkPool


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def trunk(name: str, **kw: object) -> TrunkSettings:
    base: dict[str, object] = {"name": name, "max_channels": 2, "max_cps": 100.0}
    base.update(kw)
    return TrunkSettings.model_validate(base)


def test_line_limit_is_never_exceeded_and_a_released_line_is_reused() -> None:
    pool = TrunkPool([trunk("a", max_channels=2)], clock=Clock())
    a, b = pool.reserve_line("+31201234567"), pool.reserve_line("+31201234567")
    assert a and b
    assert pool.reserve_line("+31201234567") is None
    pool.release(a, "answered", 30)
    assert pool.reserve_line("+31201234567") is not None


def test_calls_per_second_limit() -> None:
    clock = Clock()
    pool = TrunkPool([trunk("a", max_channels=100, max_cps=5)], clock=clock)
    got = [pool.reserve_line("+31201234567") for _ in range(20)]
    assert sum(g is not None for g in got) == 5  # a burst of one second's worth
    clock.now += 1.0
    got = [pool.reserve_line("+31201234567") for _ in range(20)]
    assert sum(g is not None for g in got) == 5
    assert pool.next_token_in() > 0


def test_prefix_priority_and_cost_pick_the_trunk() -> None:
    pool = TrunkPool(
        [
            trunk("cheap", prefixes=["+31"], cost_per_minute_eur=0.01),
            trunk("dear", prefixes=["+31"], cost_per_minute_eur=0.05),
            trunk("mobile", prefixes=["+316"], cost_per_minute_eur=0.09),
            trunk("world", prefixes=["+"], priority=1),
        ],
        clock=Clock(),
    )
    assert pool.reserve_line("+31612345678").trunk == "mobile"  # type: ignore[union-attr]
    assert pool.reserve_line("+31201234567").trunk == "cheap"  # type: ignore[union-attr]
    assert pool.reserve_line("+4930123456").trunk == "world"  # type: ignore[union-attr]


def test_congestion_retry_goes_to_another_trunk_when_there_is_one() -> None:
    pool = TrunkPool([trunk("a"), trunk("b", cost_per_minute_eur=0.5)], clock=Clock())
    assert pool.reserve_line("+31201234567", avoid="a").trunk == "b"  # type: ignore[union-attr]
    pool2 = TrunkPool([trunk("a")], clock=Clock())
    assert pool2.reserve_line("+31201234567", avoid="a").trunk == "a"  # type: ignore[union-attr]


def test_reload_shrinks_lines_without_dropping_calls_in_progress() -> None:
    clock = Clock()
    pool = TrunkPool([trunk("a", max_channels=4)], clock=clock)
    leases = []
    for _ in range(4):
        clock.now += 1
        leases.append(pool.reserve_line("+31201234567"))
    pool.reload([trunk("a", max_channels=2)])
    assert pool.in_use() == 4
    clock.now += 1
    assert pool.reserve_line("+31201234567") is None
    for lease in leases[:3]:
        pool.release(lease, "answered", 10)  # type: ignore[arg-type]
    clock.now += 1
    assert pool.reserve_line("+31201234567") is not None
    assert pool.reserve_line("+31201234567") is None


def test_disabled_or_removed_trunk_takes_no_new_calls() -> None:
    clock = Clock()
    pool = TrunkPool([trunk("a"), trunk("b")], clock=clock)
    pool.reload([trunk("a", enabled=False), trunk("b")])
    lease = pool.reserve_line("+31201234567")
    assert lease is not None and lease.trunk == "b"
    pool.reload([trunk("a", enabled=False)])
    assert pool.reserve_line("+31201234567") is None
    pool.release(lease, "busy")
    assert pool.in_use() == 0


def test_breaker_opens_after_consecutive_failures_and_probes_back() -> None:
    clock = Clock()
    pool = TrunkPool(
        [trunk("a", max_channels=10)],
        breaker=BreakerSettings(failures=3, cooldown_s=30),
        clock=clock,
    )
    for _ in range(3):
        clock.now += 1
        pool.release(pool.reserve_line("+31201234567"), "congestion")  # type: ignore[arg-type]
    clock.now += 1
    assert pool.reserve_line("+31201234567") is None
    assert pool.snapshot()[0]["breaker"] == "open"
    clock.now += 30
    probe = pool.reserve_line("+31201234567")
    assert probe is not None and probe.probe
    assert pool.reserve_line("+31201234567") is None  # one probe at a time
    pool.release(probe, "busy")  # the trunk works: a busy participant is not its fault
    clock.now += 1
    assert pool.snapshot()[0]["breaker"] == "closed"
    assert pool.reserve_line("+31201234567") is not None


def test_failed_probe_reopens_the_breaker() -> None:
    clock = Clock()
    pool = TrunkPool(
        [trunk("a")], breaker=BreakerSettings(failures=1, cooldown_s=10), clock=clock
    )
    pool.release(pool.reserve_line("+31201234567"), "unreachable")  # type: ignore[arg-type]
    clock.now += 10
    probe = pool.reserve_line("+31201234567")
    pool.release(probe, "congestion")  # type: ignore[arg-type]
    clock.now += 5
    assert pool.reserve_line("+31201234567") is None


def test_live_stats() -> None:
    clock = Clock()
    pool = TrunkPool([trunk("a", max_channels=10)], clock=clock)
    for outcome, hold in (("answered", 30.0), ("answered", 40.0), ("busy", 0.0), ("busy", 0.0)):
        clock.now += 1
        pool.release(pool.reserve_line("+31201234567"), outcome, hold)  # type: ignore[arg-type]
    snap = pool.snapshot()[0]
    assert snap["attempts"] == 4 and snap["answered"] == 2
    assert snap["asr"] == 0.5 and snap["mean_hold_s"] == 35.0
    assert snap["causes"] == {"answered": 2, "busy": 2}
