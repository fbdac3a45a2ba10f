"""The patient's own settings (issue 15, point 9): how they want notices.

- `users.notice_channel`: "email", "sms" or "none" as the patient chose on "Mina
  uppgifter"; NULL (never chosen) keeps the old rule: e-mail when there is an address,
  else SMS to a mobile number.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notice_channel', sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('notice_channel')
