"""The staff side (issue #9): enrolment events for the timeline, the notifier's outbox, purge
receipts for access-log extracts after a purge, and contact details for notices.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import runtime.models

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('purge_receipts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_key', sa.String(length=64), nullable=False),
    sa.Column('former_user_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('purged_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('purged_by', sa.Integer(), nullable=True),
    sa.Column('enrolments', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purge_receipts'))
    )
    with op.batch_alter_table('purge_receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_purge_receipts_subject_key'), ['subject_key'], unique=False)

    op.create_table('enrolment_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Enum('started', 'customised', 'therapist_changed', 'handed_over', 'linked', 'unlinked', 'version_moved', 'plan_changed', 'maintenance', 'ended', 'notified', name='event_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_enrolment_events_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolments.id'], name=op.f('fk_enrolment_events_enrolment_id_enrolments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrolment_events'))
    )
    with op.batch_alter_table('enrolment_events', schema=None) as batch_op:
        batch_op.create_index('ix_enrolment_events_enrolment_at', ['enrolment_id', 'at'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=True),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.Enum('email', 'sms', name='notice_channel', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('created_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', runtime.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('error', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolments.id'], name=op.f('fk_notifications_enrolment_id_enrolments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], name=op.f('fk_notifications_recipient_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_enrolment_id'), ['enrolment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_recipient_id'), ['recipient_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('phone', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('notify_events', sa.Boolean(), nullable=False, server_default=sa.false()))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('notify_events')
        batch_op.drop_column('phone')
        batch_op.drop_column('email')

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_recipient_id'))
        batch_op.drop_index(batch_op.f('ix_notifications_enrolment_id'))

    op.drop_table('notifications')
    with op.batch_alter_table('enrolment_events', schema=None) as batch_op:
        batch_op.drop_index('ix_enrolment_events_enrolment_at')

    op.drop_table('enrolment_events')
    with op.batch_alter_table('purge_receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_purge_receipts_subject_key'))

    op.drop_table('purge_receipts')
