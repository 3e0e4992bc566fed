"""Trunk pool: which trunk carries the next call, within its line and calls-per-second limits.

The engine counts lines itself (a dialplan GROUP_COUNT cap is only a safety net, fact 17).
``reserve_line`` is called on the hot path (hundreds of times a second): it is O(trunks) and
does no I/O. Settings can be replaced at any time (``reload``); calls already up keep their
lease, so a trunk whose line count shrank simply drains.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from engine.dialer.settings import TrunkSettings

__all__ = ["BreakerSettings", "Lease", "TrunkPool", "TrunkStats", "matches_prefix"]

#: Outcomes that say the trunk (not the participant) failed: they trip the breaker.
TRUNK_FAILURES = frozenset({"congestion", "unreachable", "failed", "not_sent"})


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    failures: int = 5  # consecutive trunk failures that open the breaker
    cooldown_s: float = 30.0  # open this long, then one probe call (half-open)


@dataclass(frozen=True, slots=True)
class Lease:
    """One line on one trunk, held from just before the Originate until the call ended."""

    trunk: str
    server: str
    endpoint: str
    dial_mode: str
    probe: bool = False


@dataclass(slots=True)
class TrunkStats:
    attempts: int = 0
    finished: int = 0
    answered: int = 0
    hold_s_total: float = 0.0
    causes: Counter[str] = field(default_factory=Counter)

    @property
    def asr(self) -> float:
        """Answer-seizure ratio over finished attempts."""
        return self.answered / self.finished if self.finished else 0.0

    @property
    def mean_hold_s(self) -> float:
        return self.hold_s_total / self.answered if self.answered else 0.0


@dataclass(slots=True)
class _Trunk:
    settings: TrunkSettings
    tokens: float
    refilled_at: float
    in_use: int = 0
    retired: bool = False
    consecutive_failures: int = 0
    open_until: float | None = None  # breaker open until this time
    probing: bool = False
    stats: TrunkStats = field(default_factory=TrunkStats)

    def refill(self, now: float) -> None:
        cps = self.settings.max_cps
        self.tokens = min(max(cps, 1.0), self.tokens + (now - self.refilled_at) * cps)
        self.refilled_at = now

    @property
    def breaker(self) -> str:
        if self.open_until is None:
            return "closed"
        return "half-open" if self.probing else "open"


def matches_prefix(e164: str, prefixes: Iterable[str]) -> int:
    """Length of the longest matching prefix, or -1 (a more specific trunk wins ties)."""
    return max((len(p) for p in prefixes if e164.startswith(p)), default=-1)


class TrunkPool:
    def __init__(
        self,
        trunks: Iterable[TrunkSettings],
        *,
        breaker: BreakerSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self.breaker_cfg = breaker or BreakerSettings()
        self._trunks: dict[str, _Trunk] = {}
        self.reload(trunks)

    # -- configuration ------------------------------------------------------------------------
    def reload(self, trunks: Iterable[TrunkSettings]) -> None:
        """Apply new settings without touching calls in progress."""
        now = self._clock()
        wanted = {t.name: t for t in trunks}
        for name, trunk in self._trunks.items():
            trunk.retired = name not in wanted
        for name, settings in wanted.items():
            current = self._trunks.get(name)
            if current is None:
                tokens = max(settings.max_cps, 1.0)  # a fresh trunk may burst one second
                self._trunks[name] = _Trunk(settings, tokens=tokens, refilled_at=now)
            else:
                current.settings, current.retired = settings, False

    def names(self) -> list[str]:
        return [n for n, t in self._trunks.items() if not t.retired]

    # -- hot path -----------------------------------------------------------------------------
    def reserve_line(
        self, e164: str, *, avoid: str | None = None, servers: set[str] | None = None
    ) -> Lease | None:
        """A line on the best trunk for this number, or None when none is free right now.

        Best = serves the number (longest prefix), highest priority, cheapest, least loaded.
        ``avoid`` names a trunk to skip when another can take the call (congestion retry);
        ``servers`` limits the choice to trunks on Asterisk servers that are up.
        """
        now = self._clock()
        best: tuple[tuple[float, ...], _Trunk, bool] | None = None
        for trunk in self._trunks.values():
            if servers is not None and trunk.settings.server not in servers:
                continue
            usable = self._usable(trunk, e164, now)
            if usable is None:
                continue
            s = trunk.settings
            key = (
                float(trunk.settings.name == avoid),
                -float(matches_prefix(e164, s.prefixes)),
                -float(s.priority),
                s.cost_per_minute_eur,
                trunk.in_use / s.max_channels,
            )
            if best is None or key < best[0]:
                best = (key, trunk, usable)
        if best is None:
            return None
        _, trunk, probe = best
        trunk.tokens -= 1.0
        trunk.in_use += 1
        trunk.stats.attempts += 1
        if probe:
            trunk.probing = True
        s = trunk.settings
        return Lease(s.name, s.server, s.endpoint, s.dial_mode, probe)

    def _usable(self, trunk: _Trunk, e164: str, now: float) -> bool | None:
        """None if the trunk cannot take this call now; else whether it is a breaker probe."""
        s = trunk.settings
        if trunk.retired or not s.enabled or trunk.in_use >= s.max_channels:
            return None
        if matches_prefix(e164, s.prefixes) < 0:
            return None
        probe = False
        if trunk.open_until is not None:
            if now < trunk.open_until or trunk.probing:
                return None
            probe = True
        trunk.refill(now)
        return probe if trunk.tokens >= 1.0 else None

    def serves(
        self, e164: str, *, servers: set[str] | None = None, include_disabled: bool = False
    ) -> bool:
        """Whether an enabled trunk (on a server that is up) could carry this number."""
        for t in self._trunks.values():
            s = t.settings
            if t.retired or (not s.enabled and not include_disabled):
                continue
            if servers is not None and s.server not in servers:
                continue
            if matches_prefix(e164, s.prefixes) >= 0:
                return True
        return False

    def unreserve(self, lease: Lease) -> None:
        """Undo a reservation whose call was never sent (claimed by another node)."""
        trunk = self._trunks.get(lease.trunk)
        if trunk is not None:
            trunk.in_use = max(0, trunk.in_use - 1)
            trunk.tokens += 1.0
            trunk.stats.attempts -= 1
            if lease.probe:
                trunk.probing = False

    def adopt(self, name: str) -> Lease | None:
        """Count a call found up after a restart (it holds a line whatever the limits say)."""
        trunk = self._trunks.get(name)
        if trunk is None:
            return None
        trunk.in_use += 1
        s = trunk.settings
        return Lease(s.name, s.server, s.endpoint, s.dial_mode)

    def release(self, lease: Lease, outcome: str, hold_s: float = 0.0) -> None:
        """Give the line back and learn from the outcome (stats, circuit breaker)."""
        trunk = self._trunks.get(lease.trunk)
        if trunk is None:
            return
        trunk.in_use = max(0, trunk.in_use - 1)
        st = trunk.stats
        st.finished += 1
        st.causes[outcome] += 1
        if outcome in ("answered", "hung_up", "machine", "machine_message"):
            st.answered += 1
            st.hold_s_total += hold_s
        self._learn(trunk, lease, outcome)

    def _learn(self, trunk: _Trunk, lease: Lease, outcome: str) -> None:
        if outcome in ("cancelled", "unknown", "capped"):
            if lease.probe:
                trunk.probing = False  # inconclusive: probe again
            return
        if outcome in TRUNK_FAILURES:
            trunk.consecutive_failures += 1
            if lease.probe or trunk.consecutive_failures >= self.breaker_cfg.failures:
                trunk.open_until = self._clock() + self.breaker_cfg.cooldown_s
            if lease.probe:
                trunk.probing = False
            return
        trunk.consecutive_failures = 0
        if lease.probe or trunk.open_until is not None:
            trunk.open_until, trunk.probing = None, False

    # -- introspection ------------------------------------------------------------------------
    def free_lines(self) -> int:
        """Lines that could be used now if CPS allowed (for planning how much to claim)."""
        now = self._clock()
        total = 0
        for t in self._trunks.values():
            s = t.settings
            if t.retired or not s.enabled or (t.open_until is not None and now < t.open_until):
                continue
            total += max(0, s.max_channels - t.in_use)
        return total

    def in_use(self) -> int:
        return sum(t.in_use for t in self._trunks.values())

    def next_token_in(self) -> float:
        """Seconds until some trunk with a free line gets a CPS token (0 if one has now)."""
        now = self._clock()
        waits = []
        for t in self._trunks.values():
            s = t.settings
            if t.retired or not s.enabled or t.in_use >= s.max_channels:
                continue
            t.refill(now)
            waits.append(max(0.0, (1.0 - t.tokens) / s.max_cps))
        return min(waits, default=0.05)

    def snapshot(self) -> list[dict[str, object]]:
        """Live view per trunk for the CLI and the API."""
        out: list[dict[str, object]] = []
        for name, t in self._trunks.items():
            s, st = t.settings, t.stats
            out.append(
                {
                    "name": name,
                    "enabled": s.enabled and not t.retired,
                    "server": s.server,
                    "in_use": t.in_use,
                    "max_channels": s.max_channels,
                    "max_cps": s.max_cps,
                    "breaker": t.breaker,
                    "attempts": st.attempts,
                    "answered": st.answered,
                    "asr": round(st.asr, 3),
                    "mean_hold_s": round(st.mean_hold_s, 1),
                    "causes": dict(st.causes),
                }
            )
        return out
