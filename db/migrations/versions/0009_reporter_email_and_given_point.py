"""reporter's email (a reporter may give a phone, an email or both, as the jurisdiction's
contact rule asks) and the point as the caller gave it (a map app's GCJ-02 or BD-09 beside
the WGS-84 the case is placed by)

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("reporter_email", sa.String(length=254), nullable=True))
    op.add_column("cases", sa.Column("given_crs", sa.String(length=8), nullable=True))
    op.add_column("cases", sa.Column("given_lat", sa.Float(), nullable=True))
    op.add_column("cases", sa.Column("given_lon", sa.Float(), nullable=True))


def downgrade() -> None:
    for column in ("given_lon", "given_lat", "given_crs", "reporter_email"):
        op.drop_column("cases", column)
