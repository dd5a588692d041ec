"""push topics in the change log, PostgreSQL change triggers, agents' clock offset

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same changes 0010, 0011 and 0013 log on SQLite, for PostgreSQL: push
# (stations/push.py) reads the log on every database. (trigger, event, table, function)
# with one function per way of naming the station: PL/pgSQL cannot take NEW.<column> as
# an argument.
FUNCTIONS = {
    "new_station_id": "NEW.station_id",
    "old_station_id": "OLD.station_id",
    "old_id": "OLD.id",
    "every_station": "NULL",
}
TRIGGERS = (
    ("occurrence_insert", "INSERT", "occurrence", "new_station_id"),
    ("occurrence_update", "UPDATE", "occurrence", "new_station_id"),
    ("occurrence_delete", "DELETE", "occurrence", "old_station_id"),
    (
        "station_update",
        "UPDATE OF code, name, timezone, token_hash, is_active",
        "station",
        "old_id",
    ),
    ("station_delete", "DELETE", "station", "old_id"),
    ("scriptversion_update", "UPDATE OF status, number", "scriptversion", "every_station"),
    ("script_update", "UPDATE OF title", "script", "every_station"),
    (
        "schedule_update",
        # as 0011 (stream relays) and 0013 (collision order) widened it on SQLite
        "UPDATE OF repeat, stream_id, duration_min, fallback_script_id, level",
        "schedule",
        "every_station",
    ),
    ("audiofile_update", "UPDATE OF sha256, size, duration_s, path", "audiofile", "every_station"),
    ("audiofile_delete", "DELETE", "audiofile", "every_station"),
    ("streamsource_update", "UPDATE OF name, url, kind, status", "streamsource", "every_station"),
    ("streamsource_delete", "DELETE", "streamsource", "every_station"),
    ("stationorder_insert", "INSERT", "stationorder", "new_station_id"),
    ("stationorder_update", "UPDATE", "stationorder", "new_station_id"),
    ("stationorder_delete", "DELETE", "stationorder", "old_station_id"),
)


def upgrade() -> None:
    # Plain ADD COLUMN on SQLite (batch mode copies a table only when it must): neither
    # table carries a trigger that a copy would drop.
    with op.batch_alter_table("manifestchange", schema=None) as batch_op:
        batch_op.add_column(sa.Column("topic", sa.String(length=16), nullable=True))
    with op.batch_alter_table("stationbeat", schema=None) as batch_op:
        batch_op.add_column(sa.Column("clock_offset_s", sa.Float(), nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, station in FUNCTIONS.items():
        op.execute(
            f"CREATE FUNCTION manifest_change_{name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN INSERT INTO manifestchange (station_id) VALUES ({station}); "
            "RETURN NULL; END $$"
        )
    for name, event, table, function in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER manifest_{name} AFTER {event} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION manifest_change_{function}()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, _event, table, _function in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS manifest_{name} ON {table}")
        for name in FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS manifest_change_{name}()")
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not batch mode's copy: renaming a copy
    # into place would trip 0010's triggers, which name manifestchange.
    op.drop_column("stationbeat", "clock_offset_s")
    op.drop_column("manifestchange", "topic")
