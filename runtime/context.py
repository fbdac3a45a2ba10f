"""What the services get instead of a request: the app's parts, the unit of work, the time, who is asking.

Layer: beneath the domain services (runtime.services) and the domain basics
(runtime.enrolments, forms, schedule, purge), above audit, auth and identity and the
package store, models and database. `AppState` is everything one app
instance owns; `Ctx` is one unit of work on behalf of one user at one instant, with the
access-log writer. The web layer (`runtime.web.RequestCtx`) adds the HTTP request, the
session cookie lookup and the CSRF token checks; services never see those.

Must not: import FastAPI or Starlette, or keep per-request or per-app state in module globals.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import jinja2
from sqlalchemy.orm import Session

from runtime.audit import write_access, write_access_each
from runtime.auth import LocalAccountProvider, LoginProvider
from runtime.clock import Clock
from runtime.db import Database
from runtime.i18n import N_, SOURCE_LANGUAGE, Catalogues, Day, Language, Moment
from runtime.models import Enrolment, LoginSession, User, UserKind
from runtime.packages import PackageStore
from runtime.settings import RuntimeSettings


class LruCache:
    """Values by key; past `size` keys the least recently used goes. Shared by the worker threads.

    For values that are a pure function of their key (the key carries a version of what
    they are made from), so a value is never stale, only unused.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The value kept for `key`, else `make()` (called without the lock held) kept and returned."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)


#: Enrolment trees kept per process (runtime.enrolments.Tree: about 10 kB each for FRAMÅT).
TREES_KEPT = 4096


class Waker(Protocol):
    """Something to wake after a commit (the notification outbox)."""

    def wake(self) -> None: ...


@dataclass
class AppState:
    """Everything one app instance owns; made by `create_app`, reached through `request.app.state`."""

    settings: RuntimeSettings
    db: Database
    store: PackageStore
    clock: Clock
    templates: jinja2.Environment
    local_accounts: LocalAccountProvider
    providers: dict[str, LoginProvider] = field(default_factory=dict)
    #: The notification outbox, woken after a commit that queued a notice (None: nothing to wake).
    outbox: Waker | None = None
    #: When the pages last ran the missed-registration check, per unit (runtime.services.flags). Per process
    #: on purpose: it only spares the database repeated checks; the check itself is safe from any number of
    #: processes and instances at once (row locks).
    missed_checks: dict[int, datetime] = field(default_factory=dict)
    #: Refused requests logged per person in the current minute: user id -> (minute, count) (runtime.web).
    #: Per process: it caps the log's growth, not access, so N processes log at most N times the cap.
    refusals_logged: dict[int, tuple[int, int]] = field(default_factory=dict)
    #: The patients' enrolment trees by runtime.enrolments.tree_key (runtime.services.patient.tree).
    trees: LruCache = field(default_factory=lambda: LruCache(TREES_KEPT))
    #: The patient pages' translations, one per language with a catalogue (runtime.i18n); read at app start.
    catalogues: Catalogues = field(default_factory=Catalogues)

    def available_languages(self) -> dict[str, str]:
        """The languages a patient's pages can be shown in, code -> name in itself (Svenska, Suomi, English)."""
        return self.catalogues.available_languages()

    @property
    def tz(self) -> ZoneInfo:
        """The time zone of schedules and displayed times."""
        return ZoneInfo(self.settings.timezone)

    @property
    def session_cookie(self) -> str:
        """Session cookie name; __Host- binds it to this host over HTTPS."""
        return "__Host-stegvis" if self.settings.cookie_secure else "stegvis"

    @property
    def login_cookie(self) -> str:
        """Name of the login form's double-submit CSRF cookie."""
        return "__Host-stegvis-login" if self.settings.cookie_secure else "stegvis-login"


#: The title of an error page by status, when the error names none.
ERROR_TITLES = {400: N_("Felaktig begäran"), 401: N_("Logga in"), 403: N_("Inte tillåtet"), 404: N_("Hittades inte"),
                409: N_("Redan gjort"), 422: N_("Kontrollera uppgifterna"), 503: N_("Inte tillgängligt just nu")}


class AppError(Exception):
    """An error to show: HTTP status, a Swedish title and message (and per-field errors for the API).

    A message (or title, or field error) made with `runtime.i18n.N_` is shown on a patient's
    page in the patient's language (`runtime.web.error_response`, the templates); as a
    string it is Swedish, which is what the API and the staff pages show.
    """

    def __init__(self, status: int, message: str, title: str | None = None, errors: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors
        self.title = title or ERROR_TITLES.get(status, N_("Något gick fel"))
        #: The language of the page that raised it (set by the request context; None: the request's default).
        self.language: str | None = None


def not_found() -> AppError:
    """The one answer to every id the user may not see: the same as for an id that does not exist."""
    return AppError(404, N_("Sidan finns inte, eller så har du inte tillgång till den."))


class UnitOfWork:
    """One request's database session; commits on success, rolls back on error."""

    @property
    def active(self) -> bool:
        """Whether a transaction is open (something to commit or roll back)."""
        return self._session is not None and self._session.in_transaction()

    def __init__(self, db: Database) -> None:
        self._db = db
        self._session: Session | None = None
        self._reading: Session | None = None

    @property
    def session(self) -> Session:
        """The session (opened at first use); inside `reading()`, the read-only one."""
        if self._reading is not None:
            return self._reading
        if self._session is None:
            self._session = self._db.sessions()
        return self._session

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Route the block's queries to a read-only session that takes no write lock.

        For pages that mostly read: build and render them here, then write (the opened mark,
        the access-log row) after the block, holding the lock only for the writes.
        Objects loaded in the block stay usable afterwards, but cannot lazy-load.
        """
        self._reading = self._db.reads()
        try:
            yield
        finally:
            reads, self._reading = self._reading, None
            reads.close()

    @property
    def in_reading(self) -> bool:
        """Whether queries go to the read-only session now (inside `reading()`)."""
        return self._reading is not None

    def commit(self) -> None:
        """Commit what was done so far (the connection, and SQLite's write lock, are released)."""
        if self._session is not None and self._reading is None:
            self._session.commit()

    def close(self, error: bool) -> None:
        """Roll back on error, else commit; then close."""
        if self._session is None:
            return
        try:
            if error:
                self._session.rollback()
            else:
                self._session.commit()
        finally:
            self._session.close()


@dataclass
class Ctx:
    """One unit of work: the app, the database, the time, and who is asking."""

    app: AppState
    uow: UnitOfWork
    now: datetime
    session: LoginSession | None = None
    user: User | None = None
    #: What a service read once for this unit of work (say, the staff member's roles).
    memo: dict[str, Any] = field(default_factory=dict)
    #: The language of the patient's pages and messages (runtime.i18n); set it with `use_language`.
    language: str = SOURCE_LANGUAGE

    def use_language(self, code: str | None) -> str:
        """Show this unit of work's patient pages and messages in `code` ("fi", "en"; "sv" is the source).

        A language without a catalogue falls back to Swedish; the setting `force_language`
        (tests, demonstrations) wins over `code`. Returns the language now in use. Staff
        pages stay Swedish whatever is set here (`runtime.web.render`).
        """
        self.language = self.app.catalogues.language(self.app.settings.force_language or code).code
        return self.language

    @property
    def page_language(self) -> str:
        """The language of the pages this unit of work renders: Swedish for staff, else `language`."""
        staff = self.user is not None and self.user.kind == UserKind.staff
        return SOURCE_LANGUAGE if staff else self.language

    @property
    def lang(self) -> Language:
        """This unit of work's language with its translations."""
        return self.app.catalogues.language(self.language)

    def gettext(self, message: str, /, **params: Any) -> str:
        """A Swedish string in this unit of work's language now, `%(name)s` filled from `params`.

        For a message shown later, or to someone else, make it with `runtime.i18n.N_` instead.
        """
        return self.lang.gettext(message, **params)

    _ = gettext

    def ngettext(self, singular: str, plural: str, n: int, /, **params: Any) -> str:
        """The singular or plural form for `n` in this unit of work's language; `%(num)s` is `n`."""
        return self.lang.ngettext(singular, plural, n, **params)

    def localise(self, value: Any) -> Any:
        """A `runtime.i18n.Localised` value (N_, Day, Moment) in this unit of work's language; else as it is."""
        return self.lang.localise(value)

    def day(self, day: date | datetime, weekday: bool = False, year: bool = True) -> Day:
        """A day in words ("2 mars 2026"; a datetime in the app's time zone), shown in the page's language."""
        if isinstance(day, datetime):
            day = day.astimezone(self.app.tz).date()
        return Day(day, weekday=weekday, year=year)

    def moment(self, moment: datetime, weekday: bool = False) -> Moment:
        """A day and time in the app's time zone ("2 mars 2026 kl. 18.05"), shown in the page's language."""
        return Moment(moment, self.app.tz, weekday=weekday)

    @property
    def db(self) -> Session:
        """The unit of work's database session."""
        return self.uow.session

    def commit(self) -> None:
        """Commit now (before rendering a page that must show what was saved)."""
        self.uow.commit()

    def audit(self, action: str, enrolment: Enrolment | None = None, target: str | None = None,
              patient_id: int | None = None) -> None:
        """One access-log row for this unit of work's read or write of patient data."""
        write_access(self.db, self.now, self.user, self.session, action, enrolment, target, patient_id)

    def audit_each(self, action: str, enrolments: list[Enrolment]) -> None:
        """One access-log row per enrolment (say, each one a list shows), written as one statement."""
        write_access_each(self.db, self.now, self.user, self.session, action, enrolments)

    @property
    def csrf_token(self) -> str:
        """The session's CSRF token (empty without a session)."""
        return self.session.csrf_token if self.session is not None else ""
