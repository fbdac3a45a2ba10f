"""Programs in more languages (issue 18): the language an enrolment is read in.

- `enrolments.language`: a BCP 47 code, "sv" (the base program) for every enrolment that
  exists when this runs and by default; another language is served from the translation
  package of the enrolment's program version (runtime.language).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=35), nullable=False, server_default='sv'))


def downgrade() -> None:
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.drop_column('language')
