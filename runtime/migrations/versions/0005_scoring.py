"""The sex a form's score is interpreted by (issue 17).

- `enrolments.scoring_sex`: "kvinna", "man" or empty (not set), set by the therapist on the
  customise page; forms whose bands depend on sex (AUDIT-C) are interpreted with it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scoring_sex', sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.drop_column('scoring_sex')
