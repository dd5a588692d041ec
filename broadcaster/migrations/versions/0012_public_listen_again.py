"""public listen-again: a version's public flag, communes' calendar URL generations

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import broadcaster.core.dbtypes

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ALTER TABLE ADD COLUMN, never a copy of the table: a copy would drop the
    # manifest triggers on scriptversion (migration 0010).
    with op.batch_alter_table("scriptversion", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "communecalendar",
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column(
            "rotated_at", broadcaster.core.dbtypes.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(["area_id"], ["area.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("area_id"),
    )


def downgrade() -> None:
    op.drop_table("communecalendar")
    # DROP COLUMN (SQLite 3.35+) rather than a copy, for the same triggers.
    with op.batch_alter_table("scriptversion", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("public")
