"""The centralist's side of the demo: trigger an action through the HTTP hook, watch live
progress over SSE, close it with an outcome and summarise the dossier."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

SIGNALEMENT = (
    "Gezocht wordt een man van ongeveer 1,80 m, circa 30 jaar, donker haar, gekleed in een "
    "groene jas en een spijkerbroek. Hij is om 14:05 te voet gevlucht vanaf de Brink in "
    "Deventer in de richting van het station, mogelijk op een zwarte fiets."
)


@dataclass
class DemoResult:
    action_id: str = ""
    idempotent_replay_same_id: bool = False
    estimate: dict[str, Any] = field(default_factory=dict)
    first_event_ms: float = 0.0
    final: dict[str, Any] = field(default_factory=dict)
    events: int = 0
    dossier_kinds: dict[str, int] = field(default_factory=dict)
    dossier_entries: int = 0


class Centralist:
    def __init__(self, base_url: str, token: str):
        self.client = httpx.Client(base_url=base_url, timeout=30.0,
                                   headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        self.client.close()

    def _ok(self, resp: httpx.Response) -> Any:
        if resp.status_code >= 400:
            raise RuntimeError(f"{resp.request.method} {resp.request.url.path} -> "
                               f"{resp.status_code}: {resp.text[:300]}")
        return resp.json()

    def estimate(self, body: dict[str, Any]) -> dict[str, Any]:
        est = {"location": body["location"], "area": body["area"], "kind": body["kind"],
               "signalement": body["signalement"], "channels": body["channels"]}
        return dict(self._ok(self.client.post("/v1/actions/estimate", json=est)))

    def create(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        return dict(self._ok(self.client.post("/v1/actions", json=body,
                                              headers={"Idempotency-Key": key})))

    def watch(self, action_id: str, done: Callable[[dict[str, Any]], bool],
              on_event: Callable[[dict[str, Any]], None], timeout_s: float) -> int:
        """Follow the SSE stream until ``done(counts)``; returns the number of events."""
        n = 0
        deadline = time.monotonic() + timeout_s
        with self.client.stream("GET", f"/v1/actions/{action_id}/events",
                                timeout=httpx.Timeout(10.0, read=15.0)) as resp:
            if resp.status_code >= 400:
                raise RuntimeError(f"events stream refused: {resp.status_code}")
            for line in resp.iter_lines():
                if time.monotonic() > deadline:
                    return n
                if not line.startswith("data:"):
                    continue
                counts = json.loads(line[5:].strip())
                n += 1
                on_event(counts)
                if done(counts) or time.monotonic() > deadline:
                    return n
        return n

    def close_action(self, action_id: str, outcome: str, story: str) -> dict[str, Any]:
        return dict(self._ok(self.client.post(f"/v1/actions/{action_id}/close",
                                              json={"outcome": outcome, "story": story})))

    def dossier(self, action_id: str) -> dict[str, Any]:
        return dict(self._ok(self.client.get(f"/v1/actions/{action_id}/dossier")))


def action_body(postcode: str, radius_m: float) -> dict[str, Any]:
    return {"kind": "suspect", "signalement": SIGNALEMENT,
            "location": {"postcode": postcode}, "area": {"radius_m": radius_m},
            "channels": "both"}


def calls_settled(counts: dict[str, Any]) -> bool:
    calls_done = counts.get("calls", 0) > 0 and counts.get("queued", 0) == 0 \
        and counts.get("calling", 0) == 0
    sms_done = counts.get("sms", 0) == counts.get("sms_delivered", 0) + counts.get(
        "sms_failed", 0)
    return bool(calls_done and sms_done)


def run_scenario(c: Centralist, postcode: str, radius_m: float,
                 on_event: Callable[[dict[str, Any]], None], timeout_s: float) -> DemoResult:
    res = DemoResult()
    body = action_body(postcode, radius_m)
    res.estimate = c.estimate(body)
    key = f"demo-{uuid.uuid4().hex}"
    t0 = time.monotonic()
    created = c.create(body, key)
    res.action_id = str(created["id"])
    # A dispatch system that retries after a timeout must not start a second action.
    res.idempotent_replay_same_id = c.create(body, key)["id"] == res.action_id
    first: list[float] = []

    def record(counts: dict[str, Any]) -> None:
        if not first:
            first.append((time.monotonic() - t0) * 1000)
        res.final = counts
        on_event(counts)

    res.events = c.watch(res.action_id, calls_settled, record, timeout_s)
    res.first_event_ms = first[0] if first else -1.0
    c.close_action(res.action_id, "De verdachte is aangehouden.",
                   "Dankzij tips van deelnemers is de verdachte bij het station aangehouden.")
    dossier = c.dossier(res.action_id)
    entries = dossier.get("entries", [])
    res.dossier_entries = len(entries)
    res.dossier_kinds = dict(Counter(str(e.get("kind")) for e in entries))
    return res
