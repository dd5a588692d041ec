"""stream sources and relay schedules (issue 15)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import broadcaster.core.dbtypes

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Manifest change log triggers (see 0010): a relay item shows its stream's name and URL and
# is offered only while the stream is approved, and its slot length and stream come from
# the schedule. Rebuilding `schedule` (SQLite batch mode) drops its trigger from 0010: the
# one below replaces it, with the relay's columns added.
TRIGGERS = (
    (
        "schedule_update",
        "UPDATE OF repeat, stream_id, duration_min, fallback_script_id",
        "schedule",
        "NULL",
    ),
    ("streamsource_update", "UPDATE OF name, url, kind, status", "streamsource", "NULL"),
    ("streamsource_delete", "DELETE", "streamsource", "NULL"),
)
_OLD_SCHEDULE_TRIGGER = "UPDATE OF repeat"


def upgrade() -> None:
    op.create_table(
        "streamsource",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("checked_at", broadcaster.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("check_ok", sa.Boolean(), nullable=False),
        sa.Column("check_detail", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("codec", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("bitrate_kbps", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", broadcaster.core.dbtypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", broadcaster.core.dbtypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "reviewed_at", broadcaster.core.dbtypes.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("review_comment", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["reviewed_by_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["submitted_by_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("streamsource", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_streamsource_status"), ["status"], unique=False)

    sqlite = op.get_bind().dialect.name == "sqlite"
    with _foreign_keys_off(sqlite):
        with op.batch_alter_table("schedule", schema=None) as batch_op:
            batch_op.alter_column("script_id", existing_type=sa.Integer(), nullable=True)
            batch_op.add_column(sa.Column("stream_id", sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column("duration_min", sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column("fallback_script_id", sa.Integer(), nullable=True))
            batch_op.create_index(batch_op.f("ix_schedule_stream_id"), ["stream_id"], unique=False)
            batch_op.create_foreign_key(
                "fk_schedule_stream_id", "streamsource", ["stream_id"], ["id"]
            )
            batch_op.create_foreign_key(
                "fk_schedule_fallback_script_id", "script", ["fallback_script_id"], ["id"]
            )
    if sqlite:
        _create_triggers(TRIGGERS)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for name, *_rest in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS manifest_{name}")
    # Relay schedules cannot exist without these columns.
    op.execute("DELETE FROM schedule WHERE script_id IS NULL")
    with _foreign_keys_off(sqlite):
        with op.batch_alter_table("schedule", schema=None) as batch_op:
            batch_op.drop_constraint("fk_schedule_fallback_script_id", type_="foreignkey")
            batch_op.drop_constraint("fk_schedule_stream_id", type_="foreignkey")
            batch_op.drop_index(batch_op.f("ix_schedule_stream_id"))
            batch_op.drop_column("fallback_script_id")
            batch_op.drop_column("duration_min")
            batch_op.drop_column("stream_id")
            batch_op.alter_column("script_id", existing_type=sa.Integer(), nullable=False)
    if sqlite:
        _create_triggers((("schedule_update", _OLD_SCHEDULE_TRIGGER, "schedule", "NULL"),))
    with op.batch_alter_table("streamsource", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_streamsource_status"))
    op.drop_table("streamsource")


def _create_triggers(triggers) -> None:
    for name, event, table, station in triggers:
        op.execute(f"DROP TRIGGER IF EXISTS manifest_{name}")
        op.execute(
            f"CREATE TRIGGER manifest_{name} AFTER {event} ON {table} "
            f"BEGIN INSERT INTO manifestchange (station_id) VALUES ({station}); END"
        )


class _foreign_keys_off:  # noqa: N801 - used as a statement, like a contextmanager
    """SQLite: foreign keys off while batch mode rebuilds `schedule`.

    Batch mode copies the table and drops the old one; with foreign keys on, SQLite's
    DROP TABLE first deletes every row, and ON DELETE CASCADE would take every occurrence
    and target with it. The pragma is ignored inside a transaction, so the migration's
    transaction is committed around it (what came before is complete on its own), and
    foreign_key_check refuses to finish on a dangling reference.
    """

    def __init__(self, sqlite: bool) -> None:
        self.sqlite = sqlite

    def __enter__(self) -> None:
        if self.sqlite:
            op.execute("COMMIT")
            op.execute("PRAGMA foreign_keys=OFF")
            op.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.sqlite or exc_type is not None:
            return
        dangling = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if dangling:
            raise RuntimeError(f"foreign keys broken by the schedule rebuild: {dangling[:5]}")
        op.execute("COMMIT")
        op.execute("PRAGMA foreign_keys=ON")
        op.execute("BEGIN IMMEDIATE")
