"""selection changes: participant_change log kept by triggers on participant, phone, address

Selection snapshots (engine.participants.snapshot) hold every selectable number in memory and
reload only the participants listed here since their last look. Triggers, not application
code, write the log, so changes made by SMS STOP handling, IVR key 9 or the dialer (which
update the tables directly) are seen as well.

Revision ID: 0005
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None

#: table -> the column holding the participant id in its rows
TABLES = {"participant": "id", "phone": "participant_id", "address": "participant_id"}
EVENTS = ("insert", "update", "delete")
#: A new participant row alone is not selectable (it has no phone or address yet, the foreign
#: keys see to that) and its phones and addresses are logged as they come: skipping this
#: trigger makes bulk loads about a quarter cheaper.
SKIPPED = {("participant", "insert")}

_PG_FUNCTION = """
CREATE FUNCTION participant_change_log() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_id integer;
    new_id integer;
BEGIN
    -- Separate assignments: each is only planned when reached, so NEW.participant_id is
    -- never looked up in a participant row.
    IF TG_OP <> 'INSERT' THEN
        IF TG_TABLE_NAME = 'participant' THEN
            old_id := OLD.id;
        ELSE
            old_id := OLD.participant_id;
        END IF;
        INSERT INTO participant_change (participant_id) VALUES (old_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF TG_TABLE_NAME = 'participant' THEN
            new_id := NEW.id;
        ELSE
            new_id := NEW.participant_id;
        END IF;
        IF old_id IS NULL OR old_id <> new_id THEN
            INSERT INTO participant_change (participant_id) VALUES (new_id);
        END IF;
    END IF;
    RETURN NULL;
END $$
"""


def _sqlite_body(event: str, col: str) -> str:
    ins = "INSERT INTO participant_change (participant_id) VALUES"
    if event == "insert":
        return f"{ins} (NEW.{col});"
    if event == "delete":
        return f"{ins} (OLD.{col});"
    # A phone or address moved to another participant changes both.
    moved = ("INSERT INTO participant_change (participant_id) "
             f"SELECT NEW.{col} WHERE NEW.{col} IS NOT OLD.{col};")
    return f"{ins} (OLD.{col}); {moved}"


def _triggers() -> list[tuple[str, str]]:
    return [(t, e) for t in TABLES for e in EVENTS if (t, e) not in SKIPPED]


def upgrade() -> None:
    op.create_table(
        "participant_change",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True),
                  server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participant_change")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for table, event in _triggers():
            op.execute(f"CREATE TRIGGER trg_{table}_change_{event} AFTER {event.upper()} "
                       f"ON {table} FOR EACH ROW EXECUTE FUNCTION participant_change_log()")
        return
    for table, event in _triggers():
        op.execute(f"CREATE TRIGGER trg_{table}_change_{event} AFTER {event.upper()} "
                   f"ON {table} FOR EACH ROW BEGIN {_sqlite_body(event, TABLES[table])} END")


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    for table, event in _triggers():
        on = f" ON {table}" if pg else ""
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_change_{event}{on}")
    if pg:
        op.execute("DROP FUNCTION IF EXISTS participant_change_log()")
    op.drop_table("participant_change")
