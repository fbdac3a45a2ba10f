"""Initial schema: people, units and roles, sessions, enrolments and all patient data, the access log.

The access log is made append-only by triggers on both backends.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import runtime.models

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


APPEND_ONLY = "access_log is append-only"

SQLITE_TRIGGERS = [
    f"CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END",
    f"CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END",
]
POSTGRES_TRIGGERS = [
    "CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$",
    "CREATE TRIGGER access_log_no_change BEFORE UPDATE OR DELETE ON access_log "
    "FOR EACH ROW EXECUTE FUNCTION access_log_append_only()",
    "CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only()",
]


def _append_only_access_log() -> None:
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_TRIGGERS if dialect == "sqlite" else POSTGRES_TRIGGERS if dialect == "postgresql" else []:
        op.execute(statement)


def upgrade() -> None:
    op.create_table('access_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_role', sa.String(length=32), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('enrolment_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log'))
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index('ix_access_log_patient_at', ['patient_id', 'at'], unique=False)

    op.create_table('units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('hsa_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_units')),
    sa.UniqueConstraint('hsa_id', name=op.f('uq_units_hsa_id'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('citizen', 'staff', name='user_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('personal_number', sa.String(length=12), nullable=True),
    sa.Column('hsa_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', runtime.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('disabled_at', runtime.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('hsa_id', name=op.f('uq_users_hsa_id')),
    sa.UniqueConstraint('personal_number', name=op.f('uq_users_personal_number'))
    )
    op.create_table('enrolments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('therapist_id', sa.Integer(), nullable=True),
    sa.Column('program_id', sa.String(length=100), nullable=False),
    sa.Column('program_version', sa.String(length=50), nullable=False),
    sa.Column('status', sa.Enum('active', 'maintenance', 'ended', name='enrolment_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('welcome_text', sa.Text(), nullable=False),
    sa.Column('started_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_by', sa.Integer(), nullable=True),
    sa.Column('last_patient_activity_at', runtime.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('maintenance_started_at', runtime.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('maintenance_until', sa.Date(), nullable=True),
    sa.Column('ended_at', runtime.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_by', sa.Integer(), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=True),
    sa.Column('linked_to_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['ended_by'], ['users.id'], name=op.f('fk_enrolments_ended_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['linked_to_id'], ['enrolments.id'], name=op.f('fk_enrolments_linked_to_id_enrolments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['patient_id'], ['users.id'], name=op.f('fk_enrolments_patient_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['started_by'], ['users.id'], name=op.f('fk_enrolments_started_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['therapist_id'], ['users.id'], name=op.f('fk_enrolments_therapist_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_enrolments_unit_id_units'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrolments'))
    )
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrolments_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrolments_therapist_id'), ['therapist_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrolments_unit_id'), ['unit_id'], unique=False)

    op.create_table('local_credentials',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', runtime.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_local_credentials_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_local_credentials')),
    sa.UniqueConstraint('username', name=op.f('uq_local_credentials_username'))
    )
    op.create_table('retention_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('keep_days', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_retention_rules_unit_id_units'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_rules')),
    sa.UniqueConstraint('unit_id', 'category', name=op.f('uq_retention_rules_unit_id'))
    )
    op.create_table('sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_sessions_unit_id_units'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_sessions_token_hash'))
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sessions_user_id'), ['user_id'], unique=False)

    op.create_table('unit_roles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('therapist', 'citizen_admin', 'access_admin', 'data_admin', name='role', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('granted_by', sa.Integer(), nullable=True),
    sa.Column('granted_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', runtime.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['granted_by'], ['users.id'], name=op.f('fk_unit_roles_granted_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_unit_roles_unit_id_units'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_unit_roles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_roles')),
    sa.UniqueConstraint('user_id', 'unit_id', 'role', name=op.f('uq_unit_roles_user_id'))
    )
    with op.batch_alter_table('unit_roles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unit_roles_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_unit_roles_user_id'), ['user_id'], unique=False)

    op.create_table('contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=200), nullable=True),
    sa.Column('phone', sa.String(length=50), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('hours', sa.String(length=200), nullable=True),
    sa.Column('url', sa.String(length=500), nullable=True),
    sa.Column('added_by', sa.Enum('patient', 'therapist', name='author_role', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolments.id'], name=op.f('fk_contacts_enrolment_id_enrolments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts'))
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_enrolment_id'), ['enrolment_id'], unique=False)

    op.create_table('enrolment_modules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('module_id', sa.String(length=100), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('current', 'upcoming', name='module_state', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('in_maintenance', sa.Boolean(), nullable=False),
    sa.Column('changed_at', runtime.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolments.id'], name=op.f('fk_enrolment_modules_enrolment_id_enrolments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrolment_modules')),
    sa.UniqueConstraint('enrolment_id', 'module_id', name=op.f('uq_enrolment_modules_enrolment_id'))
    )
    op.create_table('enrolment_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.String(length=100), nullable=True),
    sa.Column('definition', sa.JSON(), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('repeat_every_weeks', sa.Integer(), nullable=False),
    sa.Column('days', sa.JSON(), nullable=False),
    sa.Column('registration_window_days', sa.Integer(), nullable=False),
    sa.Column('flag_missed', sa.Boolean(), nullable=False),
    sa.Column('allow_comments', sa.Boolean(), nullable=False),
    sa.Column('activated', sa.Boolean(), nullable=False),
    sa.Column('missed_checked_until', runtime.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolments.id'], name=op.f('fk_enrolment_plans_enrolment_id_enrolments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrolment_plans'))
    )
    with op.batch_alter_table('enrolment_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrolment_plans_enrolment_id'), ['enrolment_id'], unique=False)

    op.create_table('flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('form_submitted', 'message', 'page_comment', 'missed_registration', name='flag_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('ref_type', sa.String(length=32), nullable=False),
    sa.Column('ref_id', sa.Integer(), nullable=False),
    sa.Column('detail', sa.String(length=300), nullable=True),
    sa.Column('created_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('hidden_at', runtime.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('hidden_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolments.id'], name=op.f('fk_flags_enrolment_id_enrolments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['hidden_by'], ['users.id'], name=op.f('fk_flags_hidden_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flags'))
    )
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.create_index('ix_flags_enrolment_open', ['enrolment_id', 'hidden_at'], unique=False)

    op.create_table('form_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.String(length=100), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('updated_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolments.id'], name=op.f('fk_form_drafts_enrolment_id_enrolments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_drafts')),
    sa.UniqueConstraint('enrolment_id', 'form_id', name=op.f('uq_form_drafts_enrolment_id'))
    )
    op.create_table('form_submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.String(length=100), nullable=False),
    sa.Column('module_id', sa.String(length=100), nullable=True),
    sa.Column('step_id', sa.String(length=100), nullable=True),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('score_band', sa.String(length=200), nullable=True),
    sa.Column('submitted_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolments.id'], name=op.f('fk_form_submissions_enrolment_id_enrolments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_submissions'))
    )
    with op.batch_alter_table('form_submissions', schema=None) as batch_op:
        batch_op.create_index('ix_form_submissions_enrolment_form', ['enrolment_id', 'form_id'], unique=False)

    op.create_table('message_threads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_message_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_message_threads_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolments.id'], name=op.f('fk_message_threads_enrolment_id_enrolments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_threads'))
    )
    with op.batch_alter_table('message_threads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_threads_enrolment_id'), ['enrolment_id'], unique=False)

    op.create_table('page_comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.String(length=100), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('author_role', sa.Enum('patient', 'therapist', name='author_role', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', runtime.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_page_comments_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolments.id'], name=op.f('fk_page_comments_enrolment_id_enrolments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_page_comments'))
    )
    with op.batch_alter_table('page_comments', schema=None) as batch_op:
        batch_op.create_index('ix_page_comments_enrolment_form', ['enrolment_id', 'form_id'], unique=False)

    op.create_table('step_openings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('module_id', sa.String(length=100), nullable=False),
    sa.Column('step_id', sa.String(length=100), nullable=False),
    sa.Column('first_opened_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_opened_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('times', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolments.id'], name=op.f('fk_step_openings_enrolment_id_enrolments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_step_openings')),
    sa.UniqueConstraint('enrolment_id', 'module_id', 'step_id', name=op.f('uq_step_openings_enrolment_id'))
    )
    op.create_table('step_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('module_id', sa.String(length=100), nullable=False),
    sa.Column('step_id', sa.String(length=100), nullable=False),
    sa.Column('visible', sa.Boolean(), nullable=False),
    sa.Column('changed_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['changed_by'], ['users.id'], name=op.f('fk_step_settings_changed_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolments.id'], name=op.f('fk_step_settings_enrolment_id_enrolments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_step_settings')),
    sa.UniqueConstraint('enrolment_id', 'module_id', 'step_id', name=op.f('uq_step_settings_enrolment_id'))
    )
    op.create_table('messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.Column('sender_id', sa.Integer(), nullable=True),
    sa.Column('sender_role', sa.Enum('patient', 'therapist', name='author_role', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('notify', sa.Boolean(), nullable=False),
    sa.Column('created_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', runtime.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['sender_id'], ['users.id'], name=op.f('fk_messages_sender_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['thread_id'], ['message_threads.id'], name=op.f('fk_messages_thread_id_message_threads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages'))
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_messages_thread_id'), ['thread_id'], unique=False)

    op.create_table('registrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('occasion_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('registered_at', runtime.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['enrolment_plans.id'], name=op.f('fk_registrations_plan_id_enrolment_plans'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registrations')),
    sa.UniqueConstraint('plan_id', 'occasion_at', name=op.f('uq_registrations_plan_id'))
    )
    _append_only_access_log()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER access_log_no_truncate ON access_log")
        op.execute("DROP TRIGGER access_log_no_change ON access_log")
        op.execute("DROP FUNCTION access_log_append_only()")
    op.drop_table('registrations')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_thread_id'))

    op.drop_table('messages')
    op.drop_table('step_settings')
    op.drop_table('step_openings')
    with op.batch_alter_table('page_comments', schema=None) as batch_op:
        batch_op.drop_index('ix_page_comments_enrolment_form')

    op.drop_table('page_comments')
    with op.batch_alter_table('message_threads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_threads_enrolment_id'))

    op.drop_table('message_threads')
    with op.batch_alter_table('form_submissions', schema=None) as batch_op:
        batch_op.drop_index('ix_form_submissions_enrolment_form')

    op.drop_table('form_submissions')
    op.drop_table('form_drafts')
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_index('ix_flags_enrolment_open')

    op.drop_table('flags')
    with op.batch_alter_table('enrolment_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrolment_plans_enrolment_id'))

    op.drop_table('enrolment_plans')
    op.drop_table('enrolment_modules')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_enrolment_id'))

    op.drop_table('contacts')
    with op.batch_alter_table('unit_roles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unit_roles_user_id'))
        batch_op.drop_index(batch_op.f('ix_unit_roles_unit_id'))

    op.drop_table('unit_roles')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sessions_user_id'))

    op.drop_table('sessions')
    op.drop_table('retention_rules')
    op.drop_table('local_credentials')
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrolments_unit_id'))
        batch_op.drop_index(batch_op.f('ix_enrolments_therapist_id'))
        batch_op.drop_index(batch_op.f('ix_enrolments_patient_id'))

    op.drop_table('enrolments')
    op.drop_table('users')
    op.drop_table('units')
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index('ix_access_log_patient_at')

    op.drop_table('access_log')
