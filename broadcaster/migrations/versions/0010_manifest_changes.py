"""manifest change log for the station API's manifest cache (SQLite triggers)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 21:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (trigger name, event, table, station id expression). Only the columns a manifest shows
# or filters on: audio files' last_used_at, for one, changes all the time and matters not.
TRIGGERS = (
    ("occurrence_insert", "INSERT", "occurrence", "NEW.station_id"),
    ("occurrence_update", "UPDATE", "occurrence", "NEW.station_id"),
    ("occurrence_delete", "DELETE", "occurrence", "OLD.station_id"),
    (
        "station_update",
        "UPDATE OF code, name, timezone, token_hash, is_active",
        "station",
        "OLD.id",
    ),
    ("station_delete", "DELETE", "station", "OLD.id"),
    ("scriptversion_update", "UPDATE OF status, number", "scriptversion", "NULL"),
    ("script_update", "UPDATE OF title", "script", "NULL"),
    ("schedule_update", "UPDATE OF repeat", "schedule", "NULL"),
    ("audiofile_update", "UPDATE OF sha256, size, duration_s, path", "audiofile", "NULL"),
    ("audiofile_delete", "DELETE", "audiofile", "NULL"),
)


def upgrade() -> None:
    op.create_table(
        "manifestchange",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    if op.get_bind().dialect.name != "sqlite":
        return  # the manifest cache serves SQLite deployments only
    for name, event, table, station in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER manifest_{name} AFTER {event} ON {table} "
            f"BEGIN INSERT INTO manifestchange (station_id) VALUES ({station}); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name, *_rest in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS manifest_{name}")
    op.drop_table("manifestchange")
