"""DLR correlation, the per-bind token bucket and SMSC routing (pure, no sockets)."""

from __future__ import annotations

from engine.smpp.dlr import DlrTracker
from engine.smpp.pool import SmscLink, SmscPool, prefix_match
from engine.smpp.protocol import Receipt
from engine.smpp.ratelimit import TokenBucket
from engine.smpp.settings import SmscSettings


def test_receipt_matches_by_hex_or_decimal_id() -> None:
    tracker = DlrTracker()
    tracker.register("a", 7, ["0a1b"])
    match = tracker.match("a", Receipt("2587", "DELIVRD"))
    assert match is not None and (match.sms_id, match.segment, match.total) == (7, 0, 1)
    assert tracker.match("b", Receipt("2587", "DELIVRD")) is None  # other SMSC, other ids


def test_receipt_before_submit_resp_is_parked_and_released_on_register() -> None:
    tracker = DlrTracker()
    acked: list[str] = []
    early = Receipt("123", "DELIVRD")
    assert tracker.match("a", early) is None
    tracker.park("a", early, lambda: acked.append("x"), now=0.0)
    woken = tracker.register("a", 9, ["7b"])  # 0x7b == 123
    assert [p.receipt for p in woken] == [early]
    assert tracker.expire_parked(1.0, now=100.0) == []


def test_unclaimed_parked_receipts_expire_for_acknowledgement() -> None:
    tracker = DlrTracker()
    tracker.park("a", Receipt("zz", "DELIVRD"), lambda: None, now=0.0)
    assert len(tracker.expire_parked(30.0, now=31.0)) == 1


def test_message_state_needs_every_segment_and_failure_wins() -> None:
    tracker = DlrTracker()
    tracker.register("a", 1, ["1", "2", "3"])
    first = tracker.match("a", Receipt("1", "DELIVRD"))
    second = tracker.match("a", Receipt("2", "EXPIRED"))
    third = tracker.match("a", Receipt("3", "DELIVRD"))
    assert first and second and third
    assert tracker.record(first, "DELIVRD") is None
    assert tracker.record(second, "EXPIRED") is None
    assert tracker.record(third, "DELIVRD") == "EXPIRED"


def test_token_bucket_holds_the_configured_rate() -> None:
    bucket = TokenBucket(250.0, now=0.0)
    sent = 0
    t = 0.0
    while t < 10.0:
        while bucket.try_take(t):
            sent += 1
        t += 0.003  # a sender loop that wakes every 3 ms
    assert 2490 <= sent <= 2500 + bucket.capacity


def test_token_bucket_unlimited_and_wait_time() -> None:
    assert TokenBucket(None, now=0.0).try_take(0.0)
    bucket = TokenBucket(10.0, now=0.0)
    assert not bucket.try_take(0.0)
    assert abs(bucket.wait_time(0.0) - 0.1) < 1e-9


def test_prefix_match_prefers_longest() -> None:
    assert prefix_match("+31612345678", ["+31", "+316"]) == 3
    assert prefix_match("+32470000000", ["+31"]) == -1
    assert prefix_match("+32470000000", [""]) == 0


def test_routing_by_prefix_then_priority_and_disabled_skipped() -> None:
    smscs = [
        SmscSettings(name="general", prefixes=["+31"], priority=10),
        SmscSettings(name="mobile", prefixes=["+316"], priority=90),
        SmscSettings(name="backup", prefixes=["+316"], priority=95),
        SmscSettings(name="off", prefixes=["+3161"], enabled=False),
    ]
    pool = SmscPool([], lambda _e: None)
    for s in smscs:  # links without bind threads: routing only reads settings
        pool.links[s.name] = SmscLink(s, lambda _e: None)
    names = [link.name for link in pool.candidates("+31612345678")]
    assert names == ["mobile", "backup", "general"]
    assert [link.name for link in pool.candidates("+31201234567")] == ["general"]


def test_adaptive_limit_learns_the_smsc_rate_and_probes_upward() -> None:
    from engine.smpp.ratelimit import AdaptiveLimit, combined

    learned = AdaptiveLimit()
    assert learned.current(0.0) is None  # no refusal yet: no learned limit
    for i in range(80):  # the SMSC took 80 in the first 100 ms, then refused
        learned.on_accepted(i * 0.00125)
    learned.on_throttled(0.1)
    assert learned.limit is not None and 700 <= learned.limit <= 800
    assert (learned.current(1.2) or 0) > learned.limit / 1.2  # grows again without refusals
    assert combined(250.0, learned.limit) == 250.0
    assert combined(None, None) is None


def test_concatenated_mo_parts_are_joined_in_order() -> None:
    from engine.smpp.mo import MoAssembler

    parts = MoAssembler()
    assert parts.add("a", "316", (7, 3, 2), "zag hem ", now=0.0) is None
    assert parts.add("a", "316", (7, 3, 3), "bij station", now=0.1) is None
    assert parts.add("a", "316", (7, 3, 1), "Ik ", now=0.2) == "Ik zag hem bij station"


def test_incomplete_mo_is_taken_as_it_is_after_the_timeout() -> None:
    from engine.smpp.mo import MoAssembler

    parts = MoAssembler()
    parts.add("a", "316", (9, 2, 1), "eerste deel", now=0.0)
    assert parts.expire(60.0, now=30.0) == []
    assert parts.expire(60.0, now=61.0) == [("a", "316", "eerste deel")]


def test_concat_ie_reads_8_and_16_bit_references() -> None:
    from engine.smpp.codec import concat_ie

    assert concat_ie(bytes.fromhex("0003a70201")) == (0xA7, 2, 1)
    assert concat_ie(bytes.fromhex("080412340202")) == (0x1234, 2, 2)
    assert concat_ie(bytes.fromhex("05041581158100")) is None  # port addressing only
