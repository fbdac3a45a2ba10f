"""The enrolment's tree version (issue 16): the patient's pages cache the module tree by it.

- `enrolments.tree_version`: changes (to a new random number) with every change to what
  the patient sees of the program (runtime.models, `TREE_CHANGES`). Rows that exist get 0.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tree_version', sa.BigInteger(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.drop_column('tree_version')
