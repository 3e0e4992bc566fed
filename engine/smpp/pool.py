"""Several SMS centres, each with N binds: routing by number prefix and priority, failover.

Routing picks, among enabled SMSCs whose prefix matches the number, the longest matching
prefix first, then the lowest ``priority`` value, preferring one with a live bind. Jobs queued
at an SMSC whose binds are all down move to the next matching one that is up (failover);
only jobs no bind has touched move, so failover never duplicates an SMS.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from engine.smpp.bind import BindWorker
from engine.smpp.jobs import Event, JobQueue, SubmitJob
from engine.smpp.settings import SmscSettings

log = logging.getLogger(__name__)
#: An SMSC is given up on for failover after its binds have all been down this long.
FAILOVER_AFTER_S = 2.0


class SmscLink:
    """One SMS centre: its live settings, its job queue and its bind threads."""

    def __init__(self, settings: SmscSettings, emit: Callable[[Event], None]):
        self.settings = settings
        self.inbox = JobQueue()
        self.workers: list[BindWorker] = []
        self._emit = emit
        self._down_since: float | None = time.monotonic()

    @property
    def name(self) -> str:
        return self.settings.name

    def current(self) -> SmscSettings:
        return self.settings

    def resize(self) -> None:
        """Start or stop bind threads until their number matches the settings."""
        self.workers = [w for w in self.workers if w.is_alive()]
        while len(self.workers) < self.settings.binds:
            worker = BindWorker(len(self.workers), self.current, self.inbox, self._emit)
            worker.start()
            self.workers.append(worker)
        while len(self.workers) > self.settings.binds:
            self.workers.pop().stop()

    def bound(self) -> int:
        return sum(1 for w in self.workers if w.state == "bound")

    def is_up(self, now: float) -> bool:
        if self.bound():
            self._down_since = None
            return True
        if self._down_since is None:
            self._down_since = now
        return now - self._down_since < FAILOVER_AFTER_S

    def capacity(self) -> int:
        return self.settings.window * max(1, self.bound())

    def take_untouched(self) -> list[SubmitJob]:
        """Queued jobs no bind has started; a half-sent one stays to finish here."""
        jobs = self.inbox.drain()
        for job in jobs:
            if not job.untouched:
                self.inbox.push(job)
        return [job for job in jobs if job.untouched]

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            worker.join(max(0.0, deadline - time.monotonic()))


def prefix_match(number: str, prefixes: list[str]) -> int:
    """Length of the longest matching prefix, -1 when none matches ('' matches everything)."""
    digits = number.lstrip("+")
    best = -1
    for prefix in prefixes:
        p = prefix.lstrip("+")
        if digits.startswith(p):
            best = max(best, len(p))
    return best


class SmscPool:
    def __init__(self, smscs: list[SmscSettings], emit: Callable[[Event], None]):
        self._emit = emit
        self.links: dict[str, SmscLink] = {}
        self.apply(smscs)

    def apply(self, smscs: list[SmscSettings]) -> None:
        """Hot reload: new settings take effect at once (rate, window), bind counts adjust."""
        wanted = {s.name: s for s in smscs}
        for name in list(self.links):
            if name not in wanted:
                link = self.links.pop(name)
                link.stop()
                self._reroute(link.inbox.drain())
        for name, settings in wanted.items():
            if name not in self.links:
                self.links[name] = SmscLink(settings, self._emit)
            self.links[name].settings = settings
        for link in self.links.values():
            if link.settings.enabled:
                link.resize()

    def candidates(self, number: str) -> list[SmscLink]:
        ranked = []
        for link in self.links.values():
            length = prefix_match(number, link.settings.prefixes)
            if link.settings.enabled and length >= 0:
                ranked.append((-length, link.settings.priority, link.name, link))
        return [item[3] for item in sorted(ranked, key=lambda item: item[:3])]

    def route(self, number: str) -> SmscLink | None:
        now = time.monotonic()
        links = self.candidates(number)
        for link in links:
            if link.is_up(now):
                return link
        return links[0] if links else None

    def submit(self, job: SubmitJob) -> bool:
        link = self.route(job.destination)
        if link is None:
            return False
        link.inbox.push(job)
        return True

    def failover(self) -> int:
        """Move untouched jobs away from SMSCs that are down; returns how many moved."""
        now = time.monotonic()
        moved = 0
        for link in self.links.values():
            if len(link.inbox) and not link.is_up(now):
                jobs = link.take_untouched()
                moved += self._reroute(jobs, avoid=link)
        return moved

    def _reroute(self, jobs: list[SubmitJob], avoid: SmscLink | None = None) -> int:
        moved = 0
        now = time.monotonic()
        for job in jobs:
            targets = [c for c in self.candidates(job.destination) if c is not avoid]
            target = next((c for c in targets if c.is_up(now)), None)
            if target is None:
                target = avoid or (targets[0] if targets else None)
            if target is None:
                log.warning("no SMSC route for SMS %d", job.sms_id)
                continue
            moved += target is not avoid
            target.inbox.push(job)
        return moved

    def backlog(self) -> int:
        return sum(len(link.inbox) for link in self.links.values())

    def capacity(self) -> int:
        now = time.monotonic()
        return sum(
            link.capacity()
            for link in self.links.values()
            if link.settings.enabled and link.is_up(now)
        )

    def serves(self, number: str) -> bool:
        """Some SMSC, enabled or not, is configured for this number's prefix."""
        return any(
            prefix_match(number, link.settings.prefixes) >= 0 for link in self.links.values()
        )

    def queued_jobs(self) -> list[SubmitJob]:
        return [job for link in self.links.values() for job in link.inbox.snapshot()]

    def sent(self) -> int:
        return sum(w.sent for link in self.links.values() for w in link.workers)

    def stop(self, timeout: float = 5.0) -> list[SubmitJob]:
        """Stop every bind; returns the jobs no bind has started (safe to queue again).

        A job some bind half sent stays behind: its row keeps "submitting" and the next start
        marks it uncertain rather than sending its first parts twice.
        """
        for link in self.links.values():
            link.stop()
        for link in self.links.values():
            link.join(timeout)
        return [job for link in self.links.values() for job in link.take_untouched()]
