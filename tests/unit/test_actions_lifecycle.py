"""The lifecycle table: what each state allows, and the codes of refusals."""

from __future__ import annotations

import pytest

from engine.actions.lifecycle import (
    TERMINAL,
    TRANSITIONS,
    TransitionRefused,
    allowed_operations,
    next_state,
)


@pytest.mark.parametrize(
    ("state", "operation", "expected"),
    [
        ("draft", "start", "running"),
        ("draft", "cancel", "cancelled"),
        ("running", "expand", "running"),
        ("running", "update", "running"),
        ("running", "close", "closed"),
        ("running", "cancel", "cancelled"),
    ],
)
def test_allowed_transitions(state: str, operation: str, expected: str) -> None:
    assert next_state(state, operation) == expected


@pytest.mark.parametrize(
    ("state", "operation"),
    [
        ("draft", "close"),
        ("draft", "update"),
        ("running", "start"),
        ("closed", "expand"),
        ("closed", "cancel"),
        ("closed", "close"),
        ("cancelled", "update"),
        ("cancelled", "start"),
    ],
)
def test_refused_transitions_are_409_with_a_code(state: str, operation: str) -> None:
    with pytest.raises(TransitionRefused) as info:
        next_state(state, operation)
    assert info.value.status == 409
    assert info.value.code == f"cannot_{operation}_{state}"


def test_terminal_states_allow_nothing() -> None:
    for state in TERMINAL:
        assert allowed_operations(state) == []
    assert all(src not in TERMINAL for src, _ in TRANSITIONS)


def test_unknown_operation_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        next_state("running", "explode")
