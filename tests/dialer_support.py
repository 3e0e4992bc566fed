"""Shared helpers for the dialer tests (replay transcripts through the attempt machine)."""

from __future__ import annotations

from pathlib import Path

from engine.dialer.attempt_fsm import AttemptMachine
from engine.dialer.call_events import candidate_ids, signal_from_event
from engine.dialer.transcripts import load_transcript

SHARED = (Path(__file__).resolve().parents[1] / ".." / "shared").resolve()
TRANSCRIPTS = SHARED / "asterisk" / "transcripts"


def originated_ids(path: Path, tag: str = "AMI>") -> list[str]:
    """ChannelIds of the Originates the recording client sent, in send order."""
    out = []
    for timed in load_transcript(path).messages(tag):
        msg = timed.message
        if (msg.get("Action") or "").lower() == "originate" and msg.get("ChannelId"):
            out.append(msg["ChannelId"])
    return out


def replay(path: Path, tag: str = "AMI<", amd_mode: str = "off") -> dict[str, AttemptMachine]:
    """Feed every event of a transcript to one machine per originated ChannelId."""
    send_tag = tag[:3] + ">"
    machines = {cid: AttemptMachine(cid) for cid in originated_ids(path, send_tag)}
    for m in machines.values():
        m.facts.amd_mode = amd_mode
        m.step("sent", now=0.0)
        m.step("ack", now=0.0)
    for timed in load_transcript(path).messages(tag):
        msg = timed.message
        if msg.kind != "event":
            continue
        attempt = next((c for c in candidate_ids(msg) if c in machines), None)
        if attempt is None:
            continue
        signal = signal_from_event(msg, attempt)
        if signal is not None:
            machines[attempt].step(signal.kind, signal.value, now=timed.offset)
    for m in machines.values():
        # Let pending timers run out (e.g. the grace period after an unknown endpoint).
        while not m.finished and m.timers:
            name = min(m.timers, key=m.timers.__getitem__)
            m.step("timer:" + name, now=m.timers[name])
    return machines
