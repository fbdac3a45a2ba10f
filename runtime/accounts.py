"""A person's own account (issue #13): password rules and change, and their sessions.

- Password rules (OWASP ASVS 4.0 V2.1, NIST SP 800-63B): at least 12 characters, at
  most 256; every Unicode character counts, spaces and emoji included; no rules about
  kinds of characters; never the username, never one of a short list of very common
  passwords. Characters are counted after NFKC normalisation (what is hashed).
- Changing the password needs the current one. It is checked like a login (throttled,
  runtime.throttle) and, like the new hash, computed with no database lock held; the
  write that follows is brief. A change ends every other session of the person and
  clears a one-time password's `must_change_password`.
- Sessions: the person's live sessions (started, last seen, browser), this one marked;
  ending all the others.

Input: the unit of work (`runtime.context.Ctx`) of the person themself; the routes are in
runtime.account_pages. Output: rows written in the request's transaction, with their
access-log rows; refusals as (field id, Swedish message) pairs.

Must not: log or keep a password in clear; hold the write lock while argon2 works.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from runtime.auth import LoginFailed, LoginThrottled, normalise_password
from runtime.context import Ctx
from runtime.i18n import N_
from runtime.models import LocalCredential, LoginSession, UserKind
from runtime.settings import RuntimeSettings

PASSWORD_MIN = 12
#: ASVS asks that at least 64 (level 2: 128) characters be allowed; argon2 takes any length.
PASSWORD_MAX = 256

#: Very common passwords of 12 or more characters (shorter ones fail the length rule anyway),
#: from public breach lists and their Swedish counterparts. Compared case-insensitively,
#: without spaces. A short list on purpose: the length rule does most of the work.
COMMON_PASSWORDS = frozenset({
    "123456789012", "1234567890123", "12345678901234", "123456789123", "1234567891011", "111111111111",
    "000000000000", "123123123123", "qwertyuiopas", "qwertyuiop123", "qwertyuiopå", "qwerty123456",
    "1q2w3e4r5t6y", "1qaz2wsx3edc", "zaq12wsxcde3", "asdfghjklöä", "asdfghjkl123", "abcdefghijkl",
    "abc123456789", "abcd12345678", "password1234", "password123!", "passwordpassword", "iloveyou1234",
    "passw0rd1234", "mypassword123", "letmein12345", "welcome12345", "changeme1234", "administrator",
    "admin1234567", "adminadmin12", "lösenord1234", "lösenordlösenord", "losenord1234", "losenord12345",
    "lösenord123!", "sommar202020", "sommar2024!!", "sommar12345678", "vinter202020", "hösten123456",
    "varsågod1234", "hejhejhejhej", "hejsan123456", "sverige12345", "sverige123456", "stockholm123",
    "göteborg1234", "malmö1234567", "norrbotten12", "västerbotten", "zlatan123456", "ikea12345678",
    "volvo1234567", "stegvis12345", "stegvis123456", "framåt123456", "hälsocentral", "vårdcentralen",
    "engångslösenord", "byttlösenord", "nyttlösenord1", "nyttlösenord123",
})

#: The messages of the password form, by rule.
TOO_SHORT = N_("Lösenordet måste ha minst %(min)s tecken. En mening av några ord är lätt att minnas.", min=PASSWORD_MIN)
TOO_LONG = N_("Lösenordet får ha högst %(max)s tecken.", max=PASSWORD_MAX)
HAS_USERNAME = N_("Lösenordet får inte innehålla ditt användarnamn.")
TOO_COMMON = N_("Lösenordet är för vanligt och lätt att gissa. Välj ett annat, till exempel en mening av några ord.")
NOT_SAME = N_("Lösenorden är inte likadana. Skriv samma nya lösenord i båda fälten.")
SAME_AS_NOW = N_("Det nya lösenordet måste skilja sig från det du har nu.")
CURRENT_MISSING = N_("Skriv ditt nuvarande lösenord.")
CURRENT_WRONG = N_("Det nuvarande lösenordet stämmer inte.")
NO_PASSWORD = N_("Du har inget lösenord i Stegvis att byta.")

#: Field ids of the password form (the error summary links to them).
FIELD_CURRENT, FIELD_NEW, FIELD_REPEAT = "nuvarande", "nytt", "nytt-igen"


def password_length(password: str) -> int:
    """Characters as counted by the rules: code points after NFKC normalisation."""
    return len(unicodedata.normalize("NFKC", password))


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


def password_errors(new: str, repeat: str, username: str) -> list[tuple[str, str]]:
    """What is wrong with a new password, as (field id, message); empty when it may be used."""
    errors: list[tuple[str, str]] = []
    length = password_length(new)
    if length < PASSWORD_MIN:
        errors.append((FIELD_NEW, TOO_SHORT))
    elif length > PASSWORD_MAX:
        errors.append((FIELD_NEW, TOO_LONG))
    elif username and len(username) >= 3 and _squeezed(username) in _squeezed(new):
        errors.append((FIELD_NEW, HAS_USERNAME))
    elif _squeezed(new) in COMMON_PASSWORDS:
        errors.append((FIELD_NEW, TOO_COMMON))
    if not errors and new != repeat:
        errors.append((FIELD_REPEAT, NOT_SAME))
    return errors


def own_username(ctx: Ctx) -> str | None:
    """The local username of the logged-in person (None: no local account), read without the write lock."""
    with ctx.app.db.reads() as reads:
        return reads.scalar(select(LocalCredential.username).where(LocalCredential.user_id == ctx.user.id))


def change_password(ctx: Ctx, current: str, new: str, repeat: str, address: str) -> list[tuple[str, str]]:
    """Change the logged-in person's password; the errors, or [] when it is changed.

    Nothing here holds the write lock while argon2 works: the current password is checked
    and the new one hashed between the throttle's brief transaction and the request's own.
    """
    provider = ctx.app.local_accounts
    username = own_username(ctx)
    if username is None:
        return [(FIELD_NEW, NO_PASSWORD)]
    errors = password_errors(new, repeat, username)
    if not current:
        errors.insert(0, (FIELD_CURRENT, CURRENT_MISSING))
    if errors:
        return errors
    try:
        found = provider.check(username, current, address, ctx.now)
    except LoginThrottled as exc:
        return [(FIELD_CURRENT, exc.args[0])]
    except LoginFailed:
        return [(FIELD_CURRENT, CURRENT_WRONG)]
    if found.user_id != ctx.user.id:  # the username moved to someone else in between: refuse
        return [(FIELD_CURRENT, CURRENT_WRONG)]
    if normalise_password(new) == normalise_password(current):
        return [(FIELD_NEW, SAME_AS_NOW)]
    new_hash = provider.hash_password(new)
    # From here on the request's transaction: brief.
    provider.throttle.forgive(ctx.db, username, address)
    provider.store_hash(ctx.db, ctx.user.id, username, new_hash, ctx.now, must_change=False)
    ended = end_other_sessions(ctx.db, ctx.user.id, ctx.session.id, ctx.app.settings, ctx.now)
    ctx.audit("account.password.change", target=f"sessions-ended:{ended}", patient_id=own_patient_id(ctx))
    return []


def own_patient_id(ctx: Ctx) -> int | None:
    """The person's id for the access log when they are a patient (so it is in their own extract)."""
    return ctx.user.id if ctx.user.kind == UserKind.citizen else None


# --- sessions ------------------------------------------------------------------------------------


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("SamsungBrowser/", "Samsung Internet"),
             ("Chrome/", "Chrome"), ("CriOS/", "Chrome"), ("FxiOS/", "Firefox"), ("Safari/", "Safari"))
_SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"), ("Windows", "Windows"),
            ("Mac OS X", "Mac"), ("Macintosh", "Mac"), ("CrOS", "Chromebook"), ("Linux", "Linux"))


def browser_summary(user_agent: str | None) -> str:
    """"Firefox på Windows" from a User-Agent header; the other cases said plainly."""
    if not user_agent:
        return N_("Okänd webbläsare")
    browser = next((name for mark, name in _BROWSERS if mark in user_agent), None)
    system = next((name for mark, name in _SYSTEMS if mark in user_agent), None)
    if browser and system:
        return N_("%(browser)s på %(system)s", browser=browser, system=system)
    if browser or system:
        return browser or N_("Webbläsare på %(system)s", system=system)
    return N_("Annat program: %(agent)s", agent=user_agent[:40])


def live_sessions(db: Session, user_id: int, settings: RuntimeSettings, now: datetime) -> list[LoginSession]:
    """The person's sessions that have not ended (by idle time or age), newest first."""
    idle = timedelta(minutes=settings.session_idle_minutes)
    rows = db.scalars(select(LoginSession).where(LoginSession.user_id == user_id, LoginSession.expires_at > now)
                      .order_by(LoginSession.created_at.desc(), LoginSession.id.desc())).all()
    return [row for row in rows if row.last_seen_at + idle > now]


def end_other_sessions(db: Session, user_id: int, keep_id: int, settings: RuntimeSettings, now: datetime) -> int:
    """Log the person out everywhere but in this session; how many live sessions that ended."""
    live = sum(1 for row in live_sessions(db, user_id, settings, now) if row.id != keep_id)
    db.execute(delete(LoginSession).where(LoginSession.user_id == user_id, LoginSession.id != keep_id))
    return live
