"""station control: commands, heartbeat extras, collision order (issue 15)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import broadcaster.core.dbtypes

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The manifest shows each item's collision order, so changes to a station's order and
# to a schedule's level must reach the manifest cache (see migration 0010).
NEW_TRIGGERS = (
    ("stationorder_insert", "INSERT", "stationorder", "NEW.station_id"),
    ("stationorder_update", "UPDATE", "stationorder", "NEW.station_id"),
    ("stationorder_delete", "DELETE", "stationorder", "OLD.station_id"),
)
# Migration 0011 (stream relays) made it "UPDATE OF repeat, stream_id, duration_min, ...".
SCHEDULE_TRIGGER_BEFORE = "UPDATE OF repeat, stream_id, duration_min, fallback_script_id"
SCHEDULE_TRIGGER_AFTER = f"{SCHEDULE_TRIGGER_BEFORE}, level"

# Existing schedules get the level their targets give them.
LEVEL_OF_EXISTING = """
UPDATE schedule SET level = CASE
  WHEN targets_all THEN 0
  WHEN EXISTS (SELECT 1 FROM scheduletarget t JOIN area a ON a.id = t.area_id
               WHERE t.schedule_id = schedule.id AND a.kind = 'province') THEN 0
  WHEN EXISTS (SELECT 1 FROM scheduletarget t JOIN area a ON a.id = t.area_id
               WHERE t.schedule_id = schedule.id AND a.kind = 'group') THEN 1
  ELSE 2 END
"""


def _trigger(name: str, event: str, table: str, station: str) -> None:
    op.execute(
        f"CREATE TRIGGER manifest_{name} AFTER {event} ON {table} "
        f"BEGIN INSERT INTO manifestchange (station_id) VALUES ({station}); END"
    )


def upgrade() -> None:
    op.create_table(
        "stationcommand",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("args", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", broadcaster.core.dbtypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("result", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("sent_at", broadcaster.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_at", broadcaster.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["station_id"], ["station.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_stationcommand_station_state", "stationcommand", ["station_id", "state"], unique=False
    )
    op.create_table(
        "stationorder",
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["station_id"], ["station.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("station_id", "level"),
    )
    # ADD COLUMN only: batch mode alters these tables in place on SQLite (no copy), so
    # migration 0010's triggers on them survive.
    with op.batch_alter_table("stationbeat", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "amplifier",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(
            sa.Column(
                "amplifier_error",
                sqlmodel.sql.sqltypes.AutoString(length=200),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(
            sa.Column(
                "mixer",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(sa.Column("volume_percent", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("temperature_c", sa.Float(), nullable=True))
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.add_column(sa.Column("level", sa.Integer(), nullable=False, server_default="2"))
    op.execute(LEVEL_OF_EXISTING)
    if op.get_bind().dialect.name != "sqlite":
        return  # the manifest cache serves SQLite deployments only
    for trigger in NEW_TRIGGERS:
        _trigger(*trigger)
    op.execute("DROP TRIGGER IF EXISTS manifest_schedule_update")
    _trigger("schedule_update", SCHEDULE_TRIGGER_AFTER, "schedule", "NULL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name, *_rest in NEW_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS manifest_{name}")
        op.execute("DROP TRIGGER IF EXISTS manifest_schedule_update")
    # DROP COLUMN in place (SQLite 3.35+), never a table copy: copying `schedule` with
    # foreign keys on would cascade-delete its targets and plays.
    with op.batch_alter_table("schedule", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("level")
    with op.batch_alter_table("stationbeat", schema=None, recreate="never") as batch_op:
        for name in ("temperature_c", "volume_percent", "mixer", "amplifier_error", "amplifier"):
            batch_op.drop_column(name)
    op.drop_table("stationorder")
    op.drop_index("ix_stationcommand_station_state", table_name="stationcommand")
    op.drop_table("stationcommand")
    if op.get_bind().dialect.name == "sqlite":
        # 0011's schedule trigger again (the one above named `level` too).
        _trigger("schedule_update", SCHEDULE_TRIGGER_BEFORE, "schedule", "NULL")
