"""Login providers and sessions.

A login provider turns what a person hands over (a username and password, an
e-identification assertion) into a `User`. The runtime knows providers only through
`LoginProvider`. `LocalAccountProvider` (argon2id hashes) serves development, tests and
the demo, and only when `RuntimeSettings.local_accounts` is on; its checks are throttled
(runtime.throttle) and verify the hash with no database lock held. Real e-identification
(BankID for citizens, SITHS for staff) plugs in as another provider.

Sessions (OWASP ASVS level 2, V3): the cookie holds 32 random bytes; the database
keeps only their sha256, so a leaked database holds no usable session. A new session
is made at every login (no fixation), it ends after `session_idle_minutes` without a
request and `session_max_hours` after login, and logout deletes it. Every session has
its own CSRF token. A session of a local account whose password is a one-time password
carries `must_change_password` in its lookup, and the request plumbing lets it reach
nothing but the password change.

Must not: log passwords, session tokens, usernames that were tried, or personnummer.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from runtime.db import Database
from runtime.i18n import N_
from runtime.models import LocalCredential, LoginSession, UnitRole, User, UserKind, detached
from runtime.settings import Argon2Params, RuntimeSettings
from runtime.throttle import Throttle, throttle_message

log = logging.getLogger("stegvis.runtime.auth")


def make_hasher(params: Argon2Params) -> PasswordHasher:
    """An argon2id hasher with the configured cost."""
    return PasswordHasher(time_cost=params.time_cost, memory_cost=params.memory_cost,
                          parallelism=params.parallelism)


class LoginFailed(Exception):
    """Wrong credentials, a disabled account, or a try that must wait; the message is Swedish, for the login page."""

    status = 401


class LoginThrottled(LoginFailed):
    """Too many failed tries lately from this client or of this account name: wait and try again."""

    status = 429


class LoginProvider(Protocol):
    """Turns credentials into a user. `name` is stored on the session."""

    name: str

    def authenticate(self, db: Session, credentials: Mapping[str, str], now: datetime) -> User:
        """The user these credentials prove, or raise LoginFailed."""
        ...


#: The one answer to every failed password login: unknown name, wrong password, disabled account.
WRONG = N_("Fel användarnamn eller lösenord.")


def normalise_username(username: str | None) -> str:
    """A username as stored: stripped and lower-case."""
    return (username or "").strip().lower()


def normalise_password(password: str | None) -> bytes:
    """What is hashed: the password in Unicode NFKC (NIST SP 800-63B), as UTF-8; never truncated."""
    return unicodedata.normalize("NFKC", password or "").encode("utf-8", "surrogatepass")


@dataclass(frozen=True)
class CredentialRead:
    """What the brief read before a password check found (nothing, for an unknown name)."""

    user_id: int | None
    password_hash: str | None
    disabled: bool = False


class LocalAccountProvider:
    """Username and password, argon2id-hashed, throttled per account name and client address.

    A check runs in three steps so that no database lock is held while argon2 works
    (tens to hundreds of milliseconds by design): a brief write transaction counts the
    try (runtime.throttle) and reads the credential; the hash is verified with no
    transaction open; the caller's transaction records a success. An unknown name is
    verified against a dummy hash and counted like a known one: the same statements,
    the same hash work, the same message.
    """

    name = "local"

    def __init__(self, settings: RuntimeSettings, database: Database | None = None) -> None:
        self.enabled = settings.local_accounts
        self.hasher = make_hasher(settings.argon2)
        self.database = database
        self.throttle = Throttle(settings.login_throttle)
        # Verified against when the username is unknown, so both cases take as long.
        self._dummy = self.hasher.hash(secrets.token_urlsafe(16))

    def hash_password(self, password: str) -> str:
        """An argon2id hash of a password."""
        return self.hasher.hash(normalise_password(password))

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether `password` matches the hash (an unknown account's None: checked against the dummy, False)."""
        try:
            self.hasher.verify(password_hash or self._dummy, normalise_password(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return password_hash is not None

    def set_password(self, db: Session, user: User, username: str, password: str, now: datetime,
                     must_change: bool = False) -> None:
        """Create or replace the local credential of a user (`must_change` for a one-time password)."""
        self.store_hash(db, user.id, username, self.hash_password(password), now, must_change)

    def store_hash(self, db: Session, user_id: int, username: str, password_hash: str, now: datetime,
                   must_change: bool = False) -> None:
        """Create or replace a credential from a hash made beforehand (outside any transaction)."""
        cred = db.get(LocalCredential, user_id)
        if cred is None:
            cred = LocalCredential(user_id=user_id, username=username)
            db.add(cred)
        cred.username, cred.password_hash, cred.updated_at = username, password_hash, now
        cred.must_change_password = must_change

    def read_for_check(self, username: str, address: str, now: datetime) -> CredentialRead:
        """Step one: count the try and read the credential, in a brief transaction of its own.

        Raises LoginThrottled when the try must wait.
        """
        if self.database is None:
            raise RuntimeError("LocalAccountProvider needs the app's Database to check passwords")
        with self.database.session() as db:
            wait = self.throttle.reserve(db, username, address, now)
            row = db.execute(select(LocalCredential.user_id, LocalCredential.password_hash, User.disabled_at)
                             .join(User, User.id == LocalCredential.user_id)
                             .where(LocalCredential.username == username)).first() if username else None
        if wait > 0:
            log.info("Inloggningsförsök fick vänta %.0f s (för många misslyckade försök).", wait)
            raise LoginThrottled(throttle_message(wait))
        if row is None:
            return CredentialRead(None, None)
        return CredentialRead(row.user_id, row.password_hash, row.disabled_at is not None)

    def check(self, username: str, password: str, address: str, now: datetime) -> CredentialRead:
        """Steps one and two: the credential whose password this is, or LoginFailed (one message for all)."""
        found = self.read_for_check(username, address, now)
        ok = self.verify(found.password_hash, password)  # no transaction, no lock: see the class docstring
        if not ok or found.disabled:
            raise LoginFailed(WRONG)
        return found

    def record_success(self, db: Session, found: CredentialRead, username: str, password: str, address: str) -> None:
        """Step three, in the caller's transaction: give the try back, and rehash when the cost has changed."""
        self.throttle.forgive(db, username, address)
        if self.hasher.check_needs_rehash(found.password_hash):
            db.execute(update(LocalCredential).where(LocalCredential.user_id == found.user_id)
                       .values(password_hash=self.hash_password(password)))

    def authenticate(self, db: Session, credentials: Mapping[str, str], now: datetime) -> User:
        """Check username and password (and `client`, the address); raise LoginFailed with a Swedish message.

        The check itself does not use `db`: it runs its own brief transactions, so the hash
        is verified with no lock held. The success is recorded in `db`, and the user comes
        back loaded in it.
        """
        username = normalise_username(credentials.get("username"))
        password = credentials.get("password") or ""
        address = credentials.get("client") or "okänd"
        found = self.check(username, password, address, now)
        self.record_success(db, found, username, password, address)
        user = db.get(User, found.user_id)
        if user is None or user.disabled_at is not None:  # removed or disabled a moment ago
            raise LoginFailed(WRONG)
        return user


def token_hash(token: str) -> str:
    """The stored form of a session token."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


USER_AGENT_MAX = 300


@dataclass(frozen=True)
class NewSession:
    """A session just made: the cookie value goes to the browser, the row to the database."""

    token: str
    row: LoginSession


def start_session(db: Session, user: User, provider: str, settings: RuntimeSettings, now: datetime,
                  user_agent: str | None = None) -> NewSession:
    """A fresh session for a user who just logged in (staff act in their first unit for now).

    `user_agent` (the browser's header) is kept, cut short, for the sessions page.
    """
    token = secrets.token_urlsafe(32)
    unit_id = None
    if user.kind == UserKind.staff:
        unit_id = db.scalar(select(UnitRole.unit_id).where(UnitRole.user_id == user.id, UnitRole.revoked_at.is_(None))
                            .order_by(UnitRole.unit_id).limit(1))
    row = LoginSession(token_hash=token_hash(token), user_id=user.id, unit_id=unit_id, provider=provider,
                       csrf_token=secrets.token_urlsafe(32), created_at=now, last_seen_at=now,
                       expires_at=now + timedelta(hours=settings.session_max_hours),
                       user_agent=(user_agent or "")[:USER_AGENT_MAX] or None)
    db.add(row)
    user.last_login_at = now
    db.flush()
    return NewSession(token, row)


@dataclass(frozen=True)
class SessionLookup:
    """What a session cookie led to: the live session, or the id of an expired one to delete."""

    row: LoginSession | None
    expired_id: int | None = None
    touch: bool = False  # last_seen_at is over a minute old: update it with the request's writes
    #: A local account logged in with a one-time password: nothing but the password change until it is changed.
    must_change_password: bool = False


def _session_query():
    """The session row, its user and the one-time-password mark, by token hash: one Core statement."""
    sessions, users, credentials = LoginSession.__table__, User.__table__, LocalCredential.__table__
    return (select(sessions, users, credentials.c.must_change_password)
            .join(users, users.c.id == sessions.c.user_id)
            .outerjoin(credentials, credentials.c.user_id == sessions.c.user_id)
            .where(sessions.c.token_hash == bindparam("hash")))


#: Made once: every request with a cookie runs it, and its compiled form is cached (issue 16).
_SESSION_QUERY = _session_query()


def find_session(db: Session | Connection, token: str | None, settings: RuntimeSettings,
                 now: datetime) -> SessionLookup:
    """The live session a cookie names, read without writing (see runtime.web for why).

    The row comes back with its user, both detached (a Core read: no ORM load). `db` may be
    a plain connection: the request's lookup needs no ORM session.
    """
    if not token or len(token) > 200:
        return SessionLookup(None)
    connection = db.connection() if isinstance(db, Session) else db
    found = connection.execute(_SESSION_QUERY, {"hash": token_hash(token)}).first()
    if found is None:
        return SessionLookup(None)
    user = detached(User, found)
    row = detached(LoginSession, found)
    set_committed_value(row, "user", user)
    must_change = found._mapping[LocalCredential.__table__.c.must_change_password]
    idle_limit = row.last_seen_at + timedelta(minutes=settings.session_idle_minutes)
    if now >= row.expires_at or now >= idle_limit or row.user.disabled_at is not None:
        return SessionLookup(None, expired_id=row.id)
    return SessionLookup(row, touch=now - row.last_seen_at > timedelta(seconds=60),
                         must_change_password=bool(must_change) and row.provider == LocalAccountProvider.name)


def touch_session(db: Session, lookup: SessionLookup, now: datetime) -> None:
    """Apply what the lookup found, in the request's write transaction: touch or delete."""
    if lookup.expired_id is not None:
        db.execute(delete(LoginSession).where(LoginSession.id == lookup.expired_id))
    elif lookup.row is not None and lookup.touch:
        db.execute(update(LoginSession).where(LoginSession.id == lookup.row.id).values(last_seen_at=now))


def end_session(db: Session, row: LoginSession) -> None:
    """Log out: the session is deleted, its cookie is worthless from now on."""
    db.execute(delete(LoginSession).where(LoginSession.id == row.id))
