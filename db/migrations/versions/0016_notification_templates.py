"""notification templates: a notification carries its template's parameters instead of free
text (a gateway sends only templates a city registered), and a unit has a duty phone the sender
looks up at send time

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "notifications",
        sa.Column(
            "params", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
    )
    # Older rows keep what every template has: their case id. Their text is dropped with the
    # column: it could hold what a resident wrote.
    op.execute("UPDATE notifications SET params = jsonb_build_object('case_id', case_id)")
    op.drop_column("notifications", "message")
    op.add_column("units", sa.Column("duty_phone", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("units", "duty_phone")
    op.add_column(
        "notifications",
        sa.Column("message", sa.Text(), server_default="", nullable=False),
    )
    op.drop_column("notifications", "params")
