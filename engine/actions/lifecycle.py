"""The action lifecycle as data: which operation is allowed in which state, and where it leads.

draft → running → (expand | update)* → closed (with outcome) | cancelled. Anything not in the
table is refused with a 409 whose code names the operation, so a dispatch system can tell
"already closed" from a bug.
"""

from __future__ import annotations

from engine.errors import Conflict

#: (state, operation) → next state.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("draft", "start"): "running",
    ("draft", "cancel"): "cancelled",
    ("draft", "expand"): "draft",
    ("running", "expand"): "running",
    ("running", "update"): "running",
    ("running", "cancel"): "cancelled",
    ("running", "close"): "closed",
}
OPERATIONS = frozenset(op for _, op in TRANSITIONS)
TERMINAL = frozenset({"closed", "cancelled"})


class TransitionRefused(Conflict):
    code = "invalid_transition"


def next_state(state: str, operation: str) -> str:
    """The state after ``operation``, or :class:`TransitionRefused` (409)."""
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}")
    target = TRANSITIONS.get((state, operation))
    if target is None:
        raise TransitionRefused(
            f"cannot {operation} an action that is {state}",
            code=f"cannot_{operation}_{state}",
        )
    return target


def allowed_operations(state: str) -> list[str]:
    return sorted(op for (s, op) in TRANSITIONS if s == state)
