"""The runtime's database model (SQLAlchemy 2 ORM); Alembic migrations create it.

The patient's side (issue #8) and the staff side (issue #9: roles per unit, flags,
read receipts, maintenance, ending, the timeline's events, notices, purge receipts)
share it; migration 0001 made the first, 0002 added what the staff side needed, 0003 the
OpenID Connect logins under way and sessions' ID tokens, 0004 the local accounts' one-time
passwords, login throttling and the sessions page (issue #13), 0005 scoring, 0006 the
patient's interface settings, 0007 the enrolment's language (issue 18), 0008 the
enrolment's tree version (issue 16).

Rules the model keeps:
- Times are stored as aware UTC datetimes; dates (a plan's start) as plain dates that
  mean Europe/Stockholm.
- The access log has no foreign keys, so it survives a purge of the enrolment it
  names, and the database refuses to change or delete its rows (triggers in the
  migration).
- Patient data hangs off an enrolment with ON DELETE CASCADE, so a purge is one
  DELETE of the enrolment; the person (`users` row) is purged separately when no
  enrolment is left.
- `Enrolment.tree_version` changes (to a new random number) in the same flush as any
  change to what the patient sees of the program: the enrolment's status, package or
  maintenance date, and its module, hidden-step and plan rows (`TREE_CHANGES`, applied by
  a `before_flush` listener on every ORM session). The patient's pages cache the module
  tree by (enrolment id, tree_version) in each process (runtime.enrolments.Tree), so
  every process sees a change at its next request. Changing those rows with a Core
  statement bypasses the listener: call `new_tree_version` yourself.
"""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on every backend (SQLite keeps no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; the runtime stores aware UTC datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None) if dialect.name == "sqlite" else value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints stably."""

    metadata = MetaData(naming_convention=NAMING)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as short strings with a CHECK on every backend; values, not names.
    return Enum(cls, name=name, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e],
                create_constraint=True, validate_strings=True)


class UserKind(enum.StrEnum):
    citizen = "citizen"  # invånare / patient
    staff = "staff"  # vårdpersonal


class Role(enum.StrEnum):
    therapist = "therapist"  # behandlare
    citizen_admin = "citizen_admin"  # invånaradministratör
    access_admin = "access_admin"  # behörighetsadministratör
    data_admin = "data_admin"  # dataadministratör


class EnrolmentStatus(enum.StrEnum):
    active = "active"
    maintenance = "maintenance"  # vidmakthållande: reading only, until maintenance_until
    ended = "ended"  # avslutad: the patient has no access; waiting for purge


class ModuleState(enum.StrEnum):
    current = "current"  # aktuell: the patient sees it
    upcoming = "upcoming"  # kommande: the therapist may make it current later


class FlagKind(enum.StrEnum):
    form_submitted = "form_submitted"
    message = "message"
    page_comment = "page_comment"
    missed_registration = "missed_registration"


class AuthorRole(enum.StrEnum):
    patient = "patient"
    therapist = "therapist"


class Unit(Base):
    """A care unit (vårdenhet); staff act in a unit, enrolments belong to one."""

    __tablename__ = "units"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    hsa_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class User(Base):
    """A person who logs in: a citizen (patient) or a member of staff."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[UserKind] = mapped_column(_enum(UserKind, "user_kind"))
    display_name: Mapped[str] = mapped_column(String(200))
    #: Citizens: personnummer or samordningsnummer, 12 digits. Never logged.
    personal_number: Mapped[str | None] = mapped_column(String(12), unique=True)
    #: Staff: HSA-id of the person, for the e-identification provider to come.
    hsa_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Where notices go: a patient's "Avisera" notices, a member of staff's event notifications.
    email: Mapped[str | None] = mapped_column(String(200))
    #: A patient's mobile number for SMS notices (E.164 or Swedish national form).
    phone: Mapped[str | None] = mapped_column(String(50))
    #: A patient's choice on "Mina uppgifter": "email", "sms" or "none"; None: e-mail if there is an address, else SMS.
    notice_channel: Mapped[str | None] = mapped_column(String(10))
    #: Staff: "Ta emot notifieringar" — an e-mail when something happens in their enrolments.
    notify_events: Mapped[bool] = mapped_column(Boolean, default=False)

    roles: Mapped[list[UnitRole]] = relationship(back_populates="user", cascade="all, delete-orphan",
                                                 foreign_keys="UnitRole.user_id")


class LocalCredential(Base):
    """Username and argon2 hash for the local-account login provider (development, tests)."""

    __tablename__ = "local_credentials"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    #: A one-time password from an administrator: the person must choose their own before anything else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LoginThrottle(Base):
    """Recent failed logins of one account name or one client address (runtime.throttle).

    The key is a SHA-256 hash of the name or address, so the table shows neither usernames
    that were tried nor addresses at a glance. A row is deleted (its failures forgotten)
    a while after its last failure.
    """

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class UnitRole(Base):
    """One role of one member of staff in one unit, given by an access administrator."""

    __tablename__ = "unit_roles"
    __table_args__ = (UniqueConstraint("user_id", "unit_id", "role"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(back_populates="roles", foreign_keys=[user_id])


class LoginSession(Base):
    """A logged-in session. The cookie holds a random token; only its sha256 is stored."""

    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: The unit a member of staff acts in (their access is checked against it); None for citizens.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(32))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The browser's User-Agent at login (cut to 300 characters), to tell one's sessions apart.
    user_agent: Mapped[str | None] = mapped_column(String(300))

    user: Mapped[User] = relationship()


class OidcPendingLogin(Base):
    """An OpenID Connect login under way (issue #13): sent to the provider, not yet back.

    The row is deleted when the browser comes back, whatever the outcome, so its state and
    nonce are used once. Only the sha256 of `state` and of the browser's binding cookie are
    kept; `nonce` and the PKCE `code_verifier` must be kept as they are (they are sent or
    compared later) and are worthless after `expires_at`.
    """

    __tablename__ = "oidc_pending_logins"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    browser_hash: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class OidcSessionToken(Base):
    """The ID token a session was started with, for the provider's logout (`id_token_hint`).

    Deleted with its session (ON DELETE CASCADE), so it lives no longer than the login.
    """

    __tablename__ = "oidc_session_tokens"
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    id_token: Mapped[str] = mapped_column(Text)


class Enrolment(Base):
    """A moment: one patient in one program, pinned to the package version it started on."""

    __tablename__ = "enrolments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    therapist_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    program_id: Mapped[str] = mapped_column(String(100))
    program_version: Mapped[str] = mapped_column(String(50))
    status: Mapped[EnrolmentStatus] = mapped_column(_enum(EnrolmentStatus, "enrolment_status"),
                                                   default=EnrolmentStatus.active)
    welcome_text: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    last_patient_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Maintenance phase: reading only until this date; irreversible.
    maintenance_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    maintenance_until: Mapped[date | None] = mapped_column(Date)
    # Ending: no access for the patient; a reason is required; irreversible.
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    end_reason: Mapped[str | None] = mapped_column(Text)
    #: Another enrolment of the same patient this one is linked to (länkade moment).
    linked_to_id: Mapped[int | None] = mapped_column(ForeignKey("enrolments.id", ondelete="SET NULL"))
    #: The sex a score is interpreted by, when a form's bands depend on it (AUDIT-C): "kvinna",
    #: "man", or None (not set: both readings are shown). Set by the therapist (issue 17).
    scoring_sex: Mapped[str | None] = mapped_column(String(10))
    #: The language the patient reads the program in (BCP 47, issue 18): "sv" is the base program
    #: itself; another language is served from the translation package of the same program version
    #: where it has the step, form or plan. Answers, plans and flags keep the base program's ids.
    language: Mapped[str] = mapped_column(String(35), default="sv", server_default="sv")
    #: Changes whenever what the patient sees of the program changes (see the module docstring).
    tree_version: Mapped[int] = mapped_column(BigInteger, default=lambda: new_tree_version(), server_default="0")

    patient: Mapped[User] = relationship(foreign_keys=[patient_id])
    therapist: Mapped[User | None] = relationship(foreign_keys=[therapist_id])
    unit: Mapped[Unit] = relationship()
    contacts: Mapped[list[Contact]] = relationship(back_populates="enrolment", cascade="all, delete-orphan",
                                                  order_by="Contact.position")
    modules: Mapped[list[EnrolmentModule]] = relationship(back_populates="enrolment", cascade="all, delete-orphan",
                                                         order_by="EnrolmentModule.position")
    step_settings: Mapped[list[StepSetting]] = relationship(cascade="all, delete-orphan",
                                                           foreign_keys="StepSetting.enrolment_id")
    plans: Mapped[list[EnrolmentPlan]] = relationship(back_populates="enrolment", cascade="all, delete-orphan",
                                                     order_by="EnrolmentPlan.id")


class Contact(Base):
    """A contact shown on the patient's start page (the therapist, the team, 1177…)."""

    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(String(200))
    hours: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(500))
    added_by: Mapped[AuthorRole] = mapped_column(_enum(AuthorRole, "author_role"))

    enrolment: Mapped[Enrolment] = relationship(back_populates="contacts")


class EnrolmentModule(Base):
    """Whether a module of the package is current or upcoming for this patient."""

    __tablename__ = "enrolment_modules"
    __table_args__ = (UniqueConstraint("enrolment_id", "module_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"))
    module_id: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    state: Mapped[ModuleState] = mapped_column(_enum(ModuleState, "module_state"))
    #: Part 2: kept open during the maintenance phase.
    in_maintenance: Mapped[bool] = mapped_column(Boolean, default=True)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    enrolment: Mapped[Enrolment] = relationship(back_populates="modules")


class StepSetting(Base):
    """A therapist's choice to hide or show a step, overriding the package's `visible`."""

    __tablename__ = "step_settings"
    __table_args__ = (UniqueConstraint("enrolment_id", "module_id", "step_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"))
    module_id: Mapped[str] = mapped_column(String(100))
    step_id: Mapped[str] = mapped_column(String(100))
    visible: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class StepOpening(Base):
    """The patient opened a step (the green tick the therapist sees)."""

    __tablename__ = "step_openings"
    __table_args__ = (UniqueConstraint("enrolment_id", "module_id", "step_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"))
    module_id: Mapped[str] = mapped_column(String(100))
    step_id: Mapped[str] = mapped_column(String(100))
    first_opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    times: Mapped[int] = mapped_column(Integer, default=1)


class FormDraft(Base):
    """The patient's unsent answers to a form: at most one per enrolment and form."""

    __tablename__ = "form_drafts"
    __table_args__ = (UniqueConstraint("enrolment_id", "form_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"))
    form_id: Mapped[str] = mapped_column(String(100))
    answers: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FormSubmission(Base):
    """Submitted answers (immutable). Diaries are submitted many times, so many per form."""

    __tablename__ = "form_submissions"
    __table_args__ = (Index("ix_form_submissions_enrolment_form", "enrolment_id", "form_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"))
    form_id: Mapped[str] = mapped_column(String(100))
    module_id: Mapped[str | None] = mapped_column(String(100))
    step_id: Mapped[str | None] = mapped_column(String(100))
    answers: Mapped[dict] = mapped_column(JSON)
    #: For the therapist only: the sum of the scoring questions and its band.
    score: Mapped[float | None] = mapped_column(Float)
    score_band: Mapped[str | None] = mapped_column(String(200))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PageComment(Base):
    """A comment under a form that allows page comments, by the patient or the therapist."""

    __tablename__ = "page_comments"
    __table_args__ = (Index("ix_page_comments_enrolment_form", "enrolment_id", "form_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"))
    form_id: Mapped[str] = mapped_column(String(100))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_role: Mapped[AuthorRole] = mapped_column(_enum(AuthorRole, "author_role"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EnrolmentPlan(Base):
    """An activity plan in one enrolment: the package's plan with this patient's schedule.

    `definition` is None for a package plan used as it is, else a therapist's edited
    or patient-specific plan (same shape as program.json's plans).
    """

    __tablename__ = "enrolment_plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"), index=True)
    plan_id: Mapped[str | None] = mapped_column(String(100))
    definition: Mapped[dict | None] = mapped_column(JSON)
    start_date: Mapped[date | None] = mapped_column(Date)
    repeat_every_weeks: Mapped[int] = mapped_column(Integer, default=1)
    #: {"måndag": "18:00", …} as in program.json.
    days: Mapped[dict] = mapped_column(JSON)
    registration_window_days: Mapped[int] = mapped_column(Integer, default=0)
    flag_missed: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_comments: Mapped[bool] = mapped_column(Boolean, default=False)
    activated: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Part 2: occasions before this time have been checked for missed registrations.
    missed_checked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    enrolment: Mapped[Enrolment] = relationship(back_populates="plans")


class Registration(Base):
    """One registered occasion of an activity plan."""

    __tablename__ = "registrations"
    __table_args__ = (UniqueConstraint("plan_id", "occasion_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("enrolment_plans.id", ondelete="CASCADE"))
    #: The scheduled time of the occasion (UTC), as computed from the schedule.
    occasion_at: Mapped[datetime] = mapped_column(UTCDateTime())
    values: Mapped[dict] = mapped_column(JSON)
    comment: Mapped[str | None] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MessageThread(Base):
    """A conversation between the patient and the care staff of an enrolment."""

    __tablename__ = "message_threads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime())

    messages: Mapped[list[Message]] = relationship(back_populates="thread", order_by="Message.id",
                                                  cascade="all, delete-orphan")


class Message(Base):
    """One message. `read_at` is set when the other side opens the thread (the read receipt)."""

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("message_threads.id", ondelete="CASCADE"), index=True)
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sender_role: Mapped[AuthorRole] = mapped_column(_enum(AuthorRole, "author_role"))
    body: Mapped[str] = mapped_column(Text)
    #: Part 2: "Avisera till inkorgen" — the patient gets an SMS or e-mail notice.
    notify: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    thread: Mapped[MessageThread] = relationship(back_populates="messages")


class Flag(Base):
    """An event for the therapist to review (form submitted, message, page comment, missed registration)."""

    __tablename__ = "flags"
    __table_args__ = (Index("ix_flags_enrolment_open", "enrolment_id", "hidden_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"))
    kind: Mapped[FlagKind] = mapped_column(_enum(FlagKind, "flag_kind"))
    #: What the flag is about: ("form_submission", id), ("message", id), ("page_comment", id), ("registration", plan id).
    ref_type: Mapped[str] = mapped_column(String(32))
    ref_id: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    hidden_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class EventKind(enum.StrEnum):
    """What happened to an enrolment (the timeline's lifecycle events)."""

    started = "started"
    customised = "customised"
    therapist_changed = "therapist_changed"
    handed_over = "handed_over"
    linked = "linked"
    unlinked = "unlinked"
    version_moved = "version_moved"
    plan_changed = "plan_changed"
    maintenance = "maintenance"
    ended = "ended"
    notified = "notified"


class EnrolmentEvent(Base):
    """A lifecycle event of an enrolment, for the timeline (patient data: purged with the enrolment)."""

    __tablename__ = "enrolment_events"
    __table_args__ = (Index("ix_enrolment_events_enrolment_at", "enrolment_id", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[EventKind] = mapped_column(_enum(EventKind, "event_kind"))
    #: A short Swedish description for the timeline (no personnummer).
    detail: Mapped[str] = mapped_column(Text, default="")


class NoticeChannel(enum.StrEnum):
    email = "email"
    sms = "sms"


class Notification(Base):
    """A notice sent (or tried) through the notifier: to a patient ("Avisera") or to staff.

    The text never holds patient data: it says that something new is waiting, not what.
    """

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int | None] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[NoticeChannel] = mapped_column(_enum(NoticeChannel, "notice_channel"))
    subject: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(String(300))


class PurgeReceipt(Base):
    """Left behind when a person is purged, so their access-log extract can still be found.

    `subject_key` is an HMAC of the personnummer with the runtime's secret; `former_user_id`
    is the id their access-log rows carry. No name, no number.
    """

    __tablename__ = "purge_receipts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_key: Mapped[str] = mapped_column(String(64), index=True)
    former_user_id: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[int | None] = mapped_column(Integer)
    purged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    purged_by: Mapped[int | None] = mapped_column(Integer)
    enrolments: Mapped[int] = mapped_column(Integer, default=0)


class AccessLogEntry(Base):
    """Who read or wrote which patient's data, when. Append-only; no foreign keys (survives purges)."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_patient_at", "patient_id", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_role: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[int | None] = mapped_column(Integer)
    patient_id: Mapped[int | None] = mapped_column(Integer)
    enrolment_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))


class RetentionRule(Base):
    """Part 2: how long a data category is kept after an enrolment ends (per unit)."""

    __tablename__ = "retention_rules"
    __table_args__ = (UniqueConstraint("unit_id", "category"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(64))
    keep_days: Mapped[int] = mapped_column(Integer)


# --- rows read by Core statements (issue 16) --------------------------------------------------------


def detached(cls: type, row) -> Base:
    """A mapped object from the columns of a Core row, as if loaded by a session and expunged.

    For the hot path's reads, which skip the ORM's loading machinery; `Session.add` attaches
    the object to a session (lazy loads then work), and nothing is written for it unless
    it is changed.
    """
    from sqlalchemy.orm.session import make_transient_to_detached

    obj = cls(**{prop.key: row._mapping[prop.columns[0]] for prop in inspect(cls).column_attrs})
    make_transient_to_detached(obj)
    return obj


# --- the enrolment's tree version (issue 16) -------------------------------------------------------


def new_tree_version() -> int:
    """A fresh tree version: random, so an enrolment id SQLite gives anew never meets an old cache entry."""
    return secrets.randbits(62)


#: The changes that give an enrolment a new tree version: its own attributes and collections,
#: and, per child row, the attributes whose change matters (a new or deleted child always does).
TREE_CHANGES: dict[type, tuple[str, ...]] = {
    Enrolment: ("status", "program_id", "program_version", "maintenance_until", "modules", "step_settings", "plans"),
    EnrolmentModule: ("module_id", "position", "state", "in_maintenance"),
    StepSetting: ("module_id", "step_id", "visible"),
    EnrolmentPlan: ("plan_id", "activated", "start_date"),
}


def tree_changes(session: Session) -> tuple[set[int], list[Enrolment]]:
    """The enrolments whose tree the session's pending changes change: ids, and loaded parents."""
    ids: set[int] = set()
    parents: list[Enrolment] = []
    for group, pending in (("new", session.new), ("dirty", session.dirty), ("deleted", session.deleted)):
        for obj in pending:
            names = TREE_CHANGES.get(type(obj))
            if names is None or (isinstance(obj, Enrolment) and group != "dirty"):
                continue  # a new enrolment starts with its own version; a deleted one needs none
            if group == "dirty":
                state = inspect(obj)
                if not any(state.attrs[name].history.has_changes() for name in names):
                    continue
            if isinstance(obj, Enrolment):
                parents.append(obj)
            elif obj.enrolment_id is not None:
                ids.add(obj.enrolment_id)
            elif isinstance(obj, EnrolmentModule | EnrolmentPlan) and obj.enrolment is not None:
                parents.append(obj.enrolment)  # a new child added through the parent's collection
    return ids, parents


@event.listens_for(Session, "before_flush")
def _new_tree_versions(session: Session, _context, _instances) -> None:
    from sqlalchemy import update

    ids, parents = tree_changes(session)
    for enrolment in parents:
        enrolment.tree_version = new_tree_version()
        if enrolment.id is not None:
            ids.discard(enrolment.id)
    for enrolment_id in sorted(ids):
        loaded = session.identity_map.get(session.identity_key(Enrolment, enrolment_id))
        if loaded is not None and loaded not in session.deleted:
            loaded.tree_version = new_tree_version()
        elif loaded is None:
            session.connection().execute(update(Enrolment.__table__).where(Enrolment.__table__.c.id == enrolment_id)
                                         .values(tree_version=new_tree_version()))
