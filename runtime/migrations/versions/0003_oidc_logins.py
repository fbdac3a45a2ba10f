"""OpenID Connect logins (issue #13): logins under way (state, nonce, PKCE verifier) and the ID
token of each session that an OpenID Connect provider started (for its logout).

Staff are matched by `users.hsa_id`, which 0001 already made (unique), so `users` is unchanged.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import runtime.models

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('oidc_pending_logins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('state_hash', sa.String(length=64), nullable=False),
    sa.Column('browser_hash', sa.String(length=64), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('nonce', sa.String(length=128), nullable=False),
    sa.Column('code_verifier', sa.String(length=128), nullable=False),
    sa.Column('created_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_pending_logins')),
    sa.UniqueConstraint('state_hash', name=op.f('uq_oidc_pending_logins_state_hash'))
    )
    with op.batch_alter_table('oidc_pending_logins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oidc_pending_logins_expires_at'), ['expires_at'], unique=False)

    op.create_table('oidc_session_tokens',
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('id_token', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_oidc_session_tokens_session_id_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', name=op.f('pk_oidc_session_tokens'))
    )


def downgrade() -> None:
    op.drop_table('oidc_session_tokens')
    with op.batch_alter_table('oidc_pending_logins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oidc_pending_logins_expires_at'))
    op.drop_table('oidc_pending_logins')
