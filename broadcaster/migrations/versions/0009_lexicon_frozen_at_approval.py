"""lexicon frozen with each approved version

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 21:40:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scriptversion", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lexicon", sa.String(), nullable=False, server_default=""))
    # Versions approved before this revision are frozen with the lexicon as it is now:
    # from here on, no lexicon edit changes what they say on air.
    bind = op.get_bind()
    entries = bind.execute(sa.text("SELECT term, reading FROM lexiconentry")).all()
    frozen = json.dumps(dict(entries), ensure_ascii=False, sort_keys=True)
    bind.execute(
        sa.text("UPDATE scriptversion SET lexicon = :frozen WHERE status = 'approved'"),
        {"frozen": frozen},
    )


def downgrade() -> None:
    with op.batch_alter_table("scriptversion", schema=None) as batch_op:
        batch_op.drop_column("lexicon")
