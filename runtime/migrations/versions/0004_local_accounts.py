"""Local accounts and sessions (issue #13): one-time passwords, login throttling, the sessions page.

- `local_credentials.must_change_password`: set for a one-time password an administrator
  made; the person changes it before anything else. The per-account lock
  (`failed_attempts`, `locked_until`) goes: anyone could lock an account at will.
- `login_throttle`: recent failures per account name and per client address (keys are
  hashes), read and written in brief transactions around the password check.
- `sessions.user_agent`: what the sessions page shows to tell sessions apart.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import runtime.models

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_throttle',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttle'))
    )
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_throttle_last_failure_at'), ['last_failure_at'], unique=False)

    with op.batch_alter_table('local_credentials', schema=None) as batch_op:
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.drop_column('failed_attempts')
        batch_op.drop_column('locked_until')

    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_agent', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('user_agent')
    with op.batch_alter_table('local_credentials', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locked_until', runtime.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('failed_attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.drop_column('must_change_password')
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_throttle_last_failure_at'))
    op.drop_table('login_throttle')
