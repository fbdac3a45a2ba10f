"""Login providers and sessions.

A login provider turns what a person hands over (a username and password today, an
e-identification assertion later) into a `User`. The runtime knows providers only
through `LoginProvider`; `LocalAccountProvider` (argon2id hashes) serves development,
tests and the demo. Real e-identification (BankID for citizens, SITHS for staff)
plugs in as another provider.

Sessions (OWASP ASVS level 2, V3): the cookie holds 32 random bytes; the database
keeps only their sha256, so a leaked database holds no usable session. A new session
is made at every login (no fixation), it ends after `session_idle_minutes` without a
request and `session_max_hours` after login, and logout deletes it. Every session has
its own CSRF token.

Must not: log usernames' passwords, session tokens or personnummer.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, joinedload

from runtime.models import LocalCredential, LoginSession, UnitRole, User, UserKind
from runtime.settings import Argon2Params, RuntimeSettings

log = logging.getLogger("stegvis.runtime.auth")


def make_hasher(params: Argon2Params) -> PasswordHasher:
    """An argon2id hasher with the configured cost."""
    return PasswordHasher(time_cost=params.time_cost, memory_cost=params.memory_cost,
                          parallelism=params.parallelism)


class LoginFailed(Exception):
    """Wrong credentials, or a locked or disabled account; the message is Swedish, for the login page."""


class LoginProvider(Protocol):
    """Turns credentials into a user. `name` is stored on the session."""

    name: str

    def authenticate(self, db: Session, credentials: Mapping[str, str], now: datetime) -> User:
        """The user these credentials prove, or raise LoginFailed."""
        ...


WRONG = "Fel användarnamn eller lösenord."
LOCKED = "Kontot är låst en stund efter för många misslyckade försök. Försök igen senare."


class LocalAccountProvider:
    """Username and password, argon2id-hashed, with a lock after repeated failures."""

    name = "local"

    def __init__(self, settings: RuntimeSettings) -> None:
        self.hasher = make_hasher(settings.argon2)
        self.max_failures = settings.login_max_failures
        self.lock_for = timedelta(minutes=settings.login_lock_minutes)
        # Verified against when the username is unknown, so both cases take as long.
        self._dummy = self.hasher.hash(secrets.token_urlsafe(16))

    def hash_password(self, password: str) -> str:
        """An argon2id hash of a password."""
        return self.hasher.hash(password)

    def set_password(self, db: Session, user: User, username: str, password: str, now: datetime) -> None:
        """Create or replace the local credential of a user."""
        cred = db.get(LocalCredential, user.id)
        if cred is None:
            cred = LocalCredential(user_id=user.id, username=username, failed_attempts=0)
            db.add(cred)
        cred.username, cred.password_hash, cred.updated_at = username, self.hash_password(password), now

    def authenticate(self, db: Session, credentials: Mapping[str, str], now: datetime) -> User:
        """Check username and password; count failures; raise LoginFailed with a Swedish message."""
        username = (credentials.get("username") or "").strip().lower()
        password = credentials.get("password") or ""
        cred = db.scalar(select(LocalCredential).where(LocalCredential.username == username)) if username else None
        if cred is None:
            try:
                self.hasher.verify(self._dummy, password)
            except VerificationError:
                pass
            raise LoginFailed(WRONG)
        if cred.locked_until is not None and cred.locked_until > now:
            raise LoginFailed(LOCKED)
        try:
            self.hasher.verify(cred.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            cred.failed_attempts += 1
            if cred.failed_attempts >= self.max_failures:
                cred.locked_until, cred.failed_attempts = now + self.lock_for, 0
                log.warning("Lokalt konto %d låst efter upprepade misslyckade inloggningar.", cred.user_id)
            raise LoginFailed(WRONG) from None
        user = db.get(User, cred.user_id)
        if user is None or user.disabled_at is not None:
            raise LoginFailed(WRONG)
        cred.failed_attempts, cred.locked_until = 0, None
        if self.hasher.check_needs_rehash(cred.password_hash):
            cred.password_hash = self.hash_password(password)
        return user


def token_hash(token: str) -> str:
    """The stored form of a session token."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class NewSession:
    """A session just made: the cookie value goes to the browser, the row to the database."""

    token: str
    row: LoginSession


def start_session(db: Session, user: User, provider: str, settings: RuntimeSettings, now: datetime) -> NewSession:
    """A fresh session for a user who just logged in (staff act in their first unit for now)."""
    token = secrets.token_urlsafe(32)
    unit_id = None
    if user.kind == UserKind.staff:
        unit_id = db.scalar(select(UnitRole.unit_id).where(UnitRole.user_id == user.id, UnitRole.revoked_at.is_(None))
                            .order_by(UnitRole.unit_id).limit(1))
    row = LoginSession(token_hash=token_hash(token), user_id=user.id, unit_id=unit_id, provider=provider,
                       csrf_token=secrets.token_urlsafe(32), created_at=now, last_seen_at=now,
                       expires_at=now + timedelta(hours=settings.session_max_hours))
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


def find_session(db: Session, token: str | None, settings: RuntimeSettings, now: datetime) -> SessionLookup:
    """The live session a cookie names, read without writing (see runtime.web for why).

    The row comes back with its user loaded and detached from `db`.
    """
    if not token or len(token) > 200:
        return SessionLookup(None)
    row = db.scalar(select(LoginSession).options(joinedload(LoginSession.user))
                    .where(LoginSession.token_hash == token_hash(token)))
    if row is None:
        return SessionLookup(None)
    db.expunge(row)
    db.expunge(row.user)
    idle_limit = row.last_seen_at + timedelta(minutes=settings.session_idle_minutes)
    if now >= row.expires_at or now >= idle_limit or row.user.disabled_at is not None:
        return SessionLookup(None, expired_id=row.id)
    return SessionLookup(row, touch=now - row.last_seen_at > timedelta(seconds=60))


def touch_session(db: Session, lookup: SessionLookup, now: datetime) -> None:
    """Apply what the lookup found, in the request's write transaction: touch or delete."""
    if lookup.expired_id is not None:
        db.execute(delete(LoginSession).where(LoginSession.id == lookup.expired_id))
    elif lookup.row is not None and lookup.touch:
        db.execute(update(LoginSession).where(LoginSession.id == lookup.row.id).values(last_seen_at=now))


def end_session(db: Session, row: LoginSession) -> None:
    """Log out: the session is deleted, its cookie is worthless from now on."""
    db.execute(delete(LoginSession).where(LoginSession.id == row.id))
