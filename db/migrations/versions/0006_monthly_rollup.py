"""case_rollup_month: the same counters per local month, community, category and channel, for
year-long reports (the daily rollup keeps grid and unit, so a year of it is still large)

Revision ID: 0006
Revises: 0005
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The counter definitions live in 0005 (one place), loaded by path as Alembic loads it.
_spec = importlib.util.spec_from_file_location(
    "case_rollup_0005", Path(__file__).with_name("0005_case_rollup.py")
)
assert _spec is not None and _spec.loader is not None
daily = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(daily)
KEY = "month, community, category, channel"
ROW_KEY = (
    "date_trunc('month', timezone('Asia/Shanghai', {row}.received_at))::date, "
    "coalesce({row}.community, ''), {row}.category, {row}.channel"
)


def upgrade() -> None:
    daily.create(
        "case_rollup_month",
        KEY,
        "month date NOT NULL, community varchar(32) NOT NULL, category varchar(64) NOT NULL, "
        "channel varchar(16) NOT NULL",
        ROW_KEY,
    )


def downgrade() -> None:
    daily.drop("case_rollup_month")
