"""Batched dossier entries keep the hash chain that ``engine.actions.dossier`` verifies."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from engine.actions import dossier
from engine.actions.dossier import append_many
from tests.dialer_support import seed_action


def test_batch_appends_interleave_with_single_appends_and_verify(
    session_factory: sessionmaker[Session],
) -> None:
    action = seed_action(session_factory, ["+31610000001"])
    with session_factory() as s, s.begin():
        dossier.append(s, action, actor="api", kind="created", data={"n": 1})
        append_many(
            s,
            action,
            [("call_attempt", {"outcome": "busy"}, {"e164": "+31610000001"}),
             ("call_attempt", {"outcome": "answered"}, {"e164": "+31610000002"})],
            actor="dialer",
        )
        dossier.append(s, action, actor="api", kind="closed", data={})
    with session_factory() as s:
        result = dossier.verify(s, action)
        assert result.ok and result.entries == 4
        # Erasure still works per number inside batched entries.
        assert dossier.pseudonymise(s, {"e164": "+31610000002"}, "erased") == 1
        s.commit()
    with session_factory() as s:
        assert dossier.verify(s, action).ok
