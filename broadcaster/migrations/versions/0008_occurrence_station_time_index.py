"""occurrence index on (station_id, at)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 21:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Replaces the station_id index: the pair serves station-only lookups as well.
    with op.batch_alter_table("occurrence", schema=None) as batch_op:
        batch_op.create_index("ix_occurrence_station_at", ["station_id", "at"], unique=False)
        batch_op.drop_index(batch_op.f("ix_occurrence_station_id"))


def downgrade() -> None:
    with op.batch_alter_table("occurrence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_occurrence_station_id"), ["station_id"], unique=False)
        batch_op.drop_index("ix_occurrence_station_at")
