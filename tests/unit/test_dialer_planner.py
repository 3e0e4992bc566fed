"""Planner: nearest first, weighted fair sharing, cancel, expand, keep every line busy."""

from __future__ import annotations

from collections import Counter

from engine.dialer.planner import Candidate, Planner


def cands(action: str, ranks: range, prefix: str = "") -> list[Candidate]:
    return [Candidate(r, 1, f"{action}{prefix}-{r}", action, f"+3161000{r:04d}") for r in ranks]


def always(_: Candidate) -> str:
    return "line"


def test_nearest_first_within_an_action() -> None:
    p = Planner()
    p.add_action("a", 50)
    p.offer("a", reversed(cands("a", range(10))))
    picked = [c.rank for c, _ in p.pick(always, 10)]
    assert picked == list(range(10))


def test_lines_are_shared_by_priority_and_nobody_starves() -> None:
    p = Planner()
    p.add_action("missing_child", 90)
    p.add_action("prevention", 20)
    p.offer("missing_child", cands("missing_child", range(1000)))
    p.offer("prevention", cands("prevention", range(1000)))
    picked = Counter(c.action_id for c, _ in p.pick(always, 110))
    assert picked["missing_child"] == 90
    assert picked["prevention"] == 20


def test_an_action_alone_gets_every_line() -> None:
    p = Planner()
    p.add_action("a", 10)
    p.add_action("b", 90)
    p.offer("a", cands("a", range(100)))
    assert len(p.pick(always, 50)) == 50


def test_a_late_action_does_not_get_a_burst_of_catch_up_calls() -> None:
    p = Planner()
    p.add_action("a", 50)
    p.offer("a", cands("a", range(1000)))
    p.pick(always, 500)
    p.add_action("b", 50)
    p.offer("b", cands("b", range(1000)))
    picked = Counter(c.action_id for c, _ in p.pick(always, 100))
    assert picked == {"a": 50, "b": 50}


def test_cancel_removes_every_queued_attempt_at_once() -> None:
    p = Planner()
    p.add_action("a", 50)
    p.add_action("b", 50)
    p.offer("a", cands("a", range(100)))
    p.offer("b", cands("b", range(100)))
    dropped = p.remove_action("a")
    assert len(dropped) == 100
    assert {c.action_id for c, _ in p.pick(always, 200)} == {"b"}


def test_expand_appends_and_duplicates_are_ignored() -> None:
    p = Planner()
    p.add_action("a", 50)
    assert p.offer("a", cands("a", range(5))) == 5
    assert p.offer("a", cands("a", range(10))) == 5  # the first five are already there
    assert [c.rank for c, _ in p.pick(always, 100)] == list(range(10))


def test_an_action_without_a_line_for_its_numbers_does_not_block_others() -> None:
    p = Planner()
    p.add_action("intl", 90)
    p.add_action("nl", 10)
    p.offer("intl", [Candidate(1, 1, "x", "intl", "+4930123456")])
    p.offer("nl", cands("nl", range(3)))

    def only_nl(c: Candidate) -> str | None:
        return "line" if c.e164.startswith("+31") else None

    picked = p.pick(only_nl, 10)
    assert [c.action_id for c, _ in picked] == ["nl"] * 3
    assert p.queued("intl") == 1


def test_put_back_keeps_the_place_in_line() -> None:
    p = Planner()
    p.add_action("a", 50)
    p.offer("a", cands("a", range(3)))
    first = p.pick(always, 1)[0][0]
    p.put_back(first)
    assert p.pick(always, 1)[0][0] == first


def test_needs_page_below_low_water() -> None:
    p = Planner(low_water=5)
    p.add_action("a", 50)
    assert p.needs_page("a")
    p.offer("a", cands("a", range(10)))
    assert not p.needs_page("a")
    p.pick(always, 6)
    assert p.needs_page("a")


def test_a_number_without_a_line_does_not_hold_up_the_rest_of_its_action() -> None:
    p = Planner()
    p.add_action("a", 50)
    p.offer("a", [Candidate(1, 1, "intl", "a", "+4930123456"), *cands("a", range(2, 5))])

    def only_nl(c: Candidate) -> str | None:
        return "line" if c.e164.startswith("+31") else None

    assert [c.rank for c, _ in p.pick(only_nl, 10)] == [2, 3, 4]
    assert p.queued("a") == 1  # the German number waits for its trunk
