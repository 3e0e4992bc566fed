"""Replay the recorded transcripts against the simulator: same answers, events, causes.

Each scenario sends the transcript's own ``AMI>`` actions (same ChannelIds and ActionIDs) at
the recorded moments, 100 times faster, to a simulator told how each number behaves (as the
sipp phone of the recording did), then compares with the recorded ``AMI<``:
responses (Response/Message), per originated channel every event (01-06, 19) or the events
of the engine's filter set (07, 10, 13, 20), header names, and the stable values (Reason,
Cause, Cause-txt, DialStatus, Context, Exten, Application, ...).  Order is only compared
where Asterisk keeps it (see ``tests.ami_support.compare_channel``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from engine.dialer.ami_protocol import AmiMessage
from engine.sim.asterisk import AsteriskSim, Outcome, SimConfig
from tests.ami_support import (
    TRANSCRIPTS,
    Replay,
    channel_names,
    compare_channel,
    own_events,
    replay_actions,
    transcript,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not TRANSCRIPTS.exists(), reason="../shared/asterisk/transcripts missing"),
]


def answer(ring: float = 1.0, hold: float = 2.0, **kw: object) -> Outcome:
    return Outcome("answer", ring_s=ring, hold_s=hold, **kw)  # type: ignore[arg-type]


@dataclass
class Scenario:
    numbers: dict[str, Outcome]
    filtered: bool = False
    skip: frozenset[str] = field(default_factory=frozenset)
    #: ActionIDs whose response the simulator does not give the same way (documented below).
    unsupported: frozenset[str] = field(default_factory=frozenset)
    #: Only these events were kept in the recording (10 is elided to save space).
    only: str | None = None
    #: Time compression; the burst needs more room than 100x on a slow CI core.
    scale: float = 0.01


SCENARIOS = {
    "01": Scenario({"1000": answer()}),
    "02": Scenario({"1002": Outcome("busy")}),
    "03": Scenario({"1003": Outcome("noanswer")}),
    "04": Scenario({"1004": Outcome("notfound")}),
    "05": Scenario({"1005": Outcome("congestion")}),
    "06": Scenario({"1006": Outcome("unreachable"), "1016": Outcome("unreachable")}),
    "07": Scenario({"1007": answer(), "1017": Outcome("busy")}, filtered=True),
    "10": Scenario({}, filtered=True, only=r"^(OriginateResponse|Hangup)$", scale=0.2),
    "13": Scenario(
        {"1300": answer(0.5, 20.0)},
        filtered=True,
        # The inbound caller's call (regex Hangup) is not ours; Status/BridgeList/QueueStatus/
        # QueueSummary are not simulated.
        skip=frozenset({"hangup-9"}),
        unsupported=frozenset({"status-4", "bridgelist-5", "queuestatus-6", "queuesummary-7"}),
    ),
    "19": Scenario(
        {
            "1900": Outcome("noanswer"),
            "1910": Outcome("noanswer"),
            "1920": Outcome("noanswer"),
            "1930": answer(1.0, 20.0),
            "1940": answer(1.0, 20.0),
        },
        scale=0.03,
    ),
    "20": Scenario(
        {
            # The recording's engine sent its Redirect on DTMFEnd; press just before it.
            "2000": answer(1.0, 10.0, dtmf="2", dtmf_after_s=0.5),
            "2010": answer(1.0, 20.0),
            "2020": answer(1.0, 20.0),
        },
        filtered=True,
        scale=0.05,
    ),
}


def originates(prefix: str) -> list[AmiMessage]:
    return [
        tm.message for tm in transcript(prefix).messages("AMI>") if tm.message.name == "Originate"
    ]


async def run(prefix: str, scenario: Scenario) -> Replay:
    t = transcript(prefix)
    config = SimConfig(
        endpoints=("trunk", "trunk-capped"),
        numbers=scenario.numbers,
        weights={"answer": 1.0},
        ring_time_s=(0.05, 0.1),
        hold_time_s=(2.0, 0.0),
        time_scale=scenario.scale,
        bad_login_delay_s=0.01,
    )
    actions = [(tm.offset, tm.message) for tm in t.messages("AMI>")]
    recorded = [(tm.offset, tm.message) for tm in t.messages("AMI<")]
    duration = (recorded[-1][0] - actions[0][0]) * scenario.scale
    async with AsteriskSim(config) as sim:
        return await replay_actions(
            sim.port,
            actions,
            scale=scenario.scale,
            settle=duration + 0.3,
            recorded_names=channel_names(recorded),
            skip=scenario.skip,
            idle=lambda n: len(sim.originates) >= n and not sim.live_calls(),
        )


@pytest.mark.parametrize("prefix", sorted(SCENARIOS))
async def test_transcript_replays_on_the_simulator(prefix: str) -> None:
    scenario = SCENARIOS[prefix]
    t = transcript(prefix)
    result = await run(prefix, scenario)
    recorded_msgs = [(tm.offset, tm.message) for tm in t.messages("AMI<")]
    problems: list[str] = []

    got = result.responses()
    for _, rec in recorded_msgs:
        aid = rec.action_id or ""
        if rec.kind != "response" or aid in scenario.skip or aid in scenario.unsupported:
            continue
        sim = got.get(aid)
        if sim is None:
            problems.append(f"{aid}: no response")
        elif (sim.response, sim.get("Message")) != (rec.response, rec.get("Message")):
            problems.append(
                f"{aid}: {sim.response} {sim.get('Message')!r} != "
                f"{rec.response} {rec.get('Message')!r}"
            )

    recorded_events = [(t_, m) for t_, m in recorded_msgs if m.kind == "event"]
    sim_events = result.events()
    for orig in originates(prefix):
        cid = orig["ChannelId"]
        rec = own_events(recorded_events, cid, scenario.filtered)
        sim = [m for _, m in own_events(sim_events, cid, scenario.filtered)]
        if scenario.only:
            rec = [(t_, m) for t_, m in rec if re.match(scenario.only, m.event or "")]
            sim = [m for m in sim if re.match(scenario.only, m.event or "")]
        problems += [f"{cid[:8]}: {p}" for p in compare_channel(rec, sim)]
        problems += check_originate_response(recorded_events, sim_events, orig)
    assert problems == []


def check_originate_response(
    recorded: list[tuple[float, AmiMessage]],
    simulated: list[tuple[float, AmiMessage]],
    originate: AmiMessage,
) -> list[str]:
    def find(events: list[tuple[float, AmiMessage]]) -> AmiMessage | None:
        return next(
            (
                m
                for _, m in events
                if m.event == "OriginateResponse" and m.action_id == originate.action_id
            ),
            None,
        )

    rec, sim = find(recorded), find(simulated)
    if rec is None or sim is None:
        return [] if rec is sim else [f"{originate.action_id}: OriginateResponse {rec} vs {sim}"]
    keys = ("Response", "Reason", "Context", "Exten", "Uniqueid")
    problems = [
        f"{originate.action_id}: {k} {sim.get(k)} != {rec.get(k)}"
        for k in keys
        if sim.get(k) != rec.get(k)
    ]
    # Channel is the real channel name on success, the dial string on failure (fact 1).
    if ("@" in rec["Channel"] and "-0" not in rec["Channel"]) != (
        "@" in sim["Channel"] and "-0" not in sim["Channel"]
    ):
        problems.append(f"{originate.action_id}: Channel {sim['Channel']} vs {rec['Channel']}")
    if [k for k, _ in rec.headers] != [k for k, _ in sim.headers]:
        problems.append(f"{originate.action_id}: OriginateResponse headers differ")
    return problems


async def test_channel_cap_of_transcript_17_gives_the_same_outcomes() -> None:
    """17(b): 4 capped Local originates (2 refused; which two varies, so compare as a
    multiset) and 4 to the device-state-capped endpoint (all answered)."""
    scenario = Scenario(
        {f"17{n}": answer(1.0, 2.0) for n in range(11, 25)}, filtered=True, scale=0.05
    )
    t = transcript("17")
    result = await run("17", scenario)

    def outcomes(events: list[tuple[float, AmiMessage]]) -> list[tuple[str, ...]]:
        out = []
        for orig in originates("17"):
            mine = [
                m
                for _, m in events
                if orig["ChannelId"] in (m.get("Uniqueid"), m.get("DestUniqueid"))
            ]
            kinds = {
                m.event: m for m in mine if m.event in ("OriginateResponse", "Hangup", "DialEnd")
            }
            capped = any(
                m.get("UserEvent") == "OutboundCapped"
                for _, m in events
                if m.get("Linkedid") == orig["ChannelId"]
            )
            out.append(
                (
                    orig["Channel"].split("@")[1],
                    kinds["OriginateResponse"]["Reason"],
                    kinds["Hangup"]["Cause"],
                    kinds["DialEnd"]["DialStatus"],
                    str(capped),
                )
            )
        return sorted(out)

    recorded = [(tm.offset, tm.message) for tm in t.messages("AMI<") if tm.message.kind == "event"]
    got = outcomes(result.events())
    assert got == outcomes(recorded)
    assert sum(o[-1] == "True" for o in got) == 2, got
