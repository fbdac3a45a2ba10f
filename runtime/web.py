"""Request plumbing shared by pages and the API: context, login, CSRF, errors, headers, templates.

- `RequestCtx` is one request's view of the app: the services' context
  (`runtime.context.Ctx`: its unit of work, the logged-in user and session, the
  clock's time, and the access log writer) plus the request. It commits before the
  response is sent (FastAPI dependency scope "function"), so an answer the patient
  sees acknowledged is on disk. `AppError`, `AppState`, `Ctx` and `not_found` come
  from `runtime.context` and are named here too, for the routes.
- CSRF (ASVS V4.2.2, V13.2.3): every state-changing request carries the session's
  token, as the form field `_csrf` or the header `X-CSRF-Token`, and a request whose
  Origin (or Sec-Fetch-Site) shows another site is refused. The login form, which has
  no session yet, uses a double-submit cookie. `tests/runtime/test_security.py`
  checks that every POST/PUT/PATCH/DELETE route has one of these guards.
- Each request costs as few hops to a worker thread as possible: the context is async
  and does no I/O; the auth dependency (one hop) reads the session; the route (one hop)
  does the work and, through `render`, commits.
- Package files (audio, captions, PDFs, the package's CSS and JS) are answered by
  `package_file_response`, for the patient's pages and the staff preview alike.
- Errors are Swedish pages for people and `{"detail": …}` JSON for the API, never a
  traceback.

Must not: keep per-request or per-app state in module globals.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import mimetypes
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

import jinja2
from fastapi import Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from runtime.audit import write_access
from runtime.auth import SessionLookup, find_session, touch_session
from runtime.context import AppError, AppState, Ctx, UnitOfWork
from runtime.context import not_found as not_found  # named here for the routes
from runtime.i18n import N_, SOURCE_LANGUAGE, localise_output
from runtime.models import Enrolment, UserKind
from runtime.packages import Package
from runtime.patient_files import patient_may_fetch
from runtime.settings import TEMPLATES, RuntimeSettings

log = logging.getLogger("stegvis.runtime")

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_FORM_FIELDS = 400
#: The largest id the database holds (a signed 64-bit integer); a bigger one in a URL names nothing.
MAX_ID = 2**63 - 1
#: At most this many validation errors are echoed back, each at most this long (issue 14).
MAX_ECHOED_ERRORS = 20
MAX_ECHOED_CHARS = 200


def same_token(sent: str, expected: str) -> bool:
    """Constant-time comparison of a sent token with the expected one; any text (even non-ASCII) is safe."""
    return bool(sent) and bool(expected) and hmac.compare_digest(sent.encode("utf-8", "replace"),
                                                                 expected.encode("utf-8", "replace"))


class LoginRequired(AppError):
    """No valid session: pages redirect to the login page, the API answers 401."""

    def __init__(self) -> None:
        super().__init__(401, N_("Du behöver logga in."))


def client_address(request: Request, settings: RuntimeSettings) -> str:
    """The client's address for login throttling: the proxy's header when configured, else the TCP peer."""
    if settings.client_address_header:
        value = request.headers.get(settings.client_address_header, "")
        # X-Forwarded-For lists every hop; the last one is what our own proxy saw.
        value = value.rsplit(",", 1)[-1].strip()
        if value:
            return value[:100]
    return request.client.host if request.client else "okänd"


#: Where a person changes their password; a one-time password leads here and nowhere else (issue #13).
PASSWORD_PAGES = {UserKind.citizen: "/mina-uppgifter/losenord", UserKind.staff: "/personal/profil/losenord"}


class PasswordChangeRequired(AppError):
    """Logged in with a one-time password: pages redirect to the password change, the API answers 403."""

    def __init__(self, kind: UserKind) -> None:
        self.location = PASSWORD_PAGES[kind]
        super().__init__(403, N_("Du behöver byta ditt engångslösenord innan du kan fortsätta. Gör det på "
                                 "%(page)s.", page=self.location), title=N_("Byt lösenord"))


@dataclass
class RequestCtx(Ctx):
    """One request: a unit of work (`runtime.context.Ctx`) plus the HTTP request and its session cookie."""

    request: Request = field(kw_only=True)
    authenticated: bool = False
    lookup: SessionLookup | None = None
    #: The session's touch (or deletion) is committed: finishing has nothing left to do for it.
    session_done: bool = False

    def authenticate(self) -> None:
        """Find the session the cookie names (read-only, no write lock); idempotent."""
        if self.authenticated:
            return
        self.authenticated = True
        token = self.request.cookies.get(self.app.session_cookie)
        if token:
            with self.app.db.read_engine.connect() as reads:  # a connection: no ORM session needed
                self.lookup = find_session(reads, token, self.app.settings, self.now)
            self.session = self.lookup.row
            self.user = self.lookup.row.user if self.lookup.row is not None else None

    def _session_due(self, error: bool) -> bool:
        """Whether the session row is still to be touched (or, expired, deleted: even on error)."""
        lookup = self.lookup
        return (lookup is not None and not self.session_done and self.session is lookup.row
                and (lookup.expired_id is not None or (lookup.touch and not error)))

    def commit(self) -> None:
        """Commit the request's writes, with the session's touch when due: one transaction, before the
        page is sent (a no-op inside `uow.reading()`)."""
        if self.uow.in_reading:
            return
        if self._session_due(error=False):
            touch_session(self.db, self.lookup, self.now)
            self.session_done = True
        self.uow.commit()

    def finish(self, error: bool) -> None:
        """End the request's unit of work: touch the session if still due, commit (or roll back), close."""
        if error and self.uow.active:
            self.db.rollback()
        if self._session_due(error):
            touch_session(self.db, self.lookup, self.now)  # an expired session is deleted even on error
            self.session_done = True
        self.uow.close(error=False)

    def use_language(self, code: str | None) -> str:
        """`Ctx.use_language`, also remembered on the request for errors answered outside the route."""
        self.request.state.stegvis_language = super().use_language(code)
        return self.request.state.stegvis_language

    @property
    def page_language(self) -> str:
        """The language of this request's pages: Swedish for staff and under /personal, else `Ctx.page_language`."""
        return SOURCE_LANGUAGE if self.request.url.path.startswith(STAFF_PATHS) else super().page_language

    @property
    def must_change_password(self) -> bool:
        """Whether this session was opened with a one-time password not yet changed."""
        lookup = self.lookup
        return lookup is not None and lookup.must_change_password and self.session is lookup.row

    @property
    def pending(self) -> bool:
        """Whether finishing needs the database (an open transaction, or a session to touch)."""
        return self._session_due(error=False) or self.uow.active


async def _context(request: Request) -> AsyncIterator[RequestCtx]:
    # Nothing here touches the database. The session cookie is looked up by the auth
    # dependency, read-only and without the write lock: FastAPI runs every sync dependency in
    # its own worker thread, and a lock held between two of them could wait for a worker that
    # every other request is holding while it waits for the lock. Writes (and the lock) happen
    # inside the route's one thread; what is left to commit is committed here, in a worker.
    state: AppState = request.app.state.stegvis
    ctx = RequestCtx(state, UnitOfWork(state.db), state.clock.now(), request=request)
    ctx.use_language(None)  # Swedish, or the setting force_language; a route may choose the patient's (issue 18)
    try:
        yield ctx
    except AppError as exc:
        exc.language = ctx.page_language
        await run_in_threadpool(ctx.finish, True)
        if exc.status in (403, 404) and ctx.user is not None:
            await run_in_threadpool(record_refusal, ctx)
        raise
    except BaseException:
        await run_in_threadpool(ctx.finish, True)
        raise
    if ctx.pending:
        await run_in_threadpool(ctx.finish, False)
    else:
        ctx.uow.close(error=False)


#: At most this many refused requests per person and minute are logged (ASVS 7.2.2 without flooding).
REFUSALS_LOGGED_PER_MINUTE = 30
#: An enrolment named in a refused request's path (/moment/<id>/…, /api/v1/enrolments/<id>/…,
#: /personal/moment/<id>/…), whose unit is told of the refusal.
_ENROLMENT_IN_PATH = re.compile(r"^/(?:personal/)?(?:moment|api/v1/(?:staff/)?enrolments)/(\d{1,18})(?:/|$)")


def record_refusal(ctx: RequestCtx) -> None:
    """Log a refused request of a logged-in person (403 or 404) in its own brief transaction.

    The request's own transaction was rolled back; this row survives it (ASVS 7.2.2). The
    row's unit is the session's (staff) or, for a patient, that of the enrolment the path
    names, so the unit's data administrator sees the attempt (runtime.staff.logextract).
    """
    minute = int(ctx.now.timestamp() // 60)
    seen_minute, count = ctx.app.refusals_logged.get(ctx.user.id, (minute, 0))
    count = count + 1 if seen_minute == minute else 1
    ctx.app.refusals_logged[ctx.user.id] = (minute, count)
    if count > REFUSALS_LOGGED_PER_MINUTE:
        return
    path = ctx.request.url.path
    target = f"{ctx.request.method} {path}"[:200]
    uow = UnitOfWork(ctx.app.db)
    try:
        enrolment = None
        found = _ENROLMENT_IN_PATH.match(path)
        if found is not None and (ctx.session is None or ctx.session.unit_id is None):
            enrolment = uow.session.get(Enrolment, int(found.group(1)))
        write_access(uow.session, ctx.now, ctx.user, ctx.session, "access.refused", target=target,
                     unit_id=enrolment.unit_id if enrolment is not None else None)
    except Exception:  # logging a refusal must never turn it into a 500
        log.exception("Kunde inte logga en nekad åtkomst.")
        uow.close(error=True)
        return
    uow.close(error=False)


#: The request context; scope "function" makes its commit happen before the response is sent.
CtxDep = Annotated[RequestCtx, Depends(_context, scope="function")]


def require_account(ctx: CtxDep) -> RequestCtx:
    """Anyone logged in, even with a one-time password still to change (for the password change itself)."""
    ctx.authenticate()
    if ctx.user is None:
        raise LoginRequired()
    return ctx


def require_user(ctx: CtxDep) -> RequestCtx:
    """Anyone logged in (who has changed a one-time password)."""
    ctx.authenticate()
    if ctx.user is None:
        raise LoginRequired()
    if ctx.must_change_password:
        raise PasswordChangeRequired(ctx.user.kind)
    return ctx


def require_patient(ctx: CtxDep) -> RequestCtx:
    """A logged-in citizen; staff are sent away (their pages are under /personal)."""
    ctx.authenticate()
    if ctx.user is None:
        raise LoginRequired()
    if ctx.must_change_password:
        raise PasswordChangeRequired(ctx.user.kind)
    if ctx.user.kind != UserKind.citizen:
        raise AppError(403, N_("Den här delen är för patienter. Logga in med ett patientkonto."))
    return ctx


def require_staff(ctx: CtxDep) -> RequestCtx:
    """A logged-in member of staff acting in a unit."""
    ctx.authenticate()
    if ctx.user is None:
        raise LoginRequired()
    if ctx.must_change_password:
        raise PasswordChangeRequired(ctx.user.kind)
    if ctx.user.kind != UserKind.staff or ctx.session is None or ctx.session.unit_id is None:
        raise AppError(403, "Den här delen är för vårdpersonal med en roll på en vårdenhet.")
    return ctx


PatientDep = Annotated[RequestCtx, Depends(require_patient)]
StaffDep = Annotated[RequestCtx, Depends(require_staff)]
UserDep = Annotated[RequestCtx, Depends(require_user)]
AccountDep = Annotated[RequestCtx, Depends(require_account)]


def _origin_ok(request: Request, settings: RuntimeSettings) -> bool:
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    if origin in settings.trusted_origins:
        return True
    return parts.netloc == request.headers.get("host", "") and parts.scheme in ("http", "https")


def check_origin(request: Request, settings: RuntimeSettings) -> None:
    """Refuse a state-changing request that a browser says comes from another site."""
    if not _origin_ok(request, settings):
        raise AppError(403, N_("Begäran kom från en annan webbplats och stoppades."))


async def read_form(request: Request) -> dict[str, list[str]]:
    """A posted form as field -> values (bounded; files are not accepted)."""
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    out: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            out.setdefault(key, []).append(value)
    return out


def first(form: dict[str, list[str]], key: str) -> str:
    """The first value of a posted field ('' when absent)."""
    return (form.get(key) or [""])[0]


FormDep = Annotated[dict[str, list[str]], Depends(read_form)]


async def csrf_form(ctx: CtxDep, form: FormDep) -> dict[str, list[str]]:
    """Guard for page forms: the session's token in `_csrf` (or the header), and a same-site origin."""
    check_origin(ctx.request, ctx.app.settings)
    if not ctx.authenticated:
        await run_in_threadpool(ctx.authenticate)
    sent = (form.get("_csrf") or [""])[0] or ctx.request.headers.get("x-csrf-token", "")
    if ctx.session is None:
        raise LoginRequired()
    if not same_token(sent, ctx.session.csrf_token):
        raise AppError(403, N_("Sidan hade gått ut. Ladda om sidan och försök igen."), title=N_("Försök igen"))
    return form


async def csrf_header(ctx: CtxDep) -> None:
    """Guard for the JSON API: the session's token in `X-CSRF-Token`, and a same-site origin."""
    check_origin(ctx.request, ctx.app.settings)
    if not ctx.authenticated:
        await run_in_threadpool(ctx.authenticate)
    if ctx.session is None:
        raise LoginRequired()
    sent = ctx.request.headers.get("x-csrf-token", "")
    if not same_token(sent, ctx.session.csrf_token):
        raise AppError(403, "CSRF-token saknas eller stämmer inte. Hämta den med GET /api/v1/session.")


CsrfForm = Annotated[dict[str, list[str]], Depends(csrf_form)]
CsrfHeader = Depends(csrf_header)


def login_csrf_token(request: Request, state: AppState) -> str:
    """The login form's token: the cookie's value when present, else a new one."""
    return request.cookies.get(state.login_cookie) or secrets.token_urlsafe(32)


def set_login_cookie(response: Response, state: AppState, token: str) -> None:
    """The double-submit cookie of the login form (Strict, short-lived)."""
    response.set_cookie(state.login_cookie, token, max_age=3600, path="/", httponly=True,
                        secure=state.settings.cookie_secure, samesite="strict")


def check_login_csrf(request: Request, state: AppState, sent: str) -> None:
    """The login form's field must equal its cookie (no session exists yet)."""
    check_origin(request, state.settings)
    cookie = request.cookies.get(state.login_cookie, "")
    if not same_token(sent, cookie):
        raise AppError(403, N_("Inloggningssidan hade gått ut. Ladda om sidan och försök igen."),
                       title=N_("Försök igen"))


def set_session_cookie(response: Response, state: AppState, token: str) -> None:
    """The session cookie: HttpOnly, Secure, SameSite=Lax, host-only, no Max-Age (dies with the browser)."""
    response.set_cookie(state.session_cookie, token, path="/", httponly=True, secure=state.settings.cookie_secure,
                        samesite="lax")


def clear_session_cookie(response: Response, state: AppState) -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(state.session_cookie, path="/", httponly=True, secure=state.settings.cookie_secure,
                           samesite="lax")


@functools.cache
def make_templates(reload: bool = False) -> jinja2.Environment:
    """The runtime's Jinja2 environment: autoescape, StrictUndefined, no logic beyond loops.

    One per process and `reload`, shared by every app in it: it holds no app's state, only
    compiled templates, so a second app (each test makes one) does not compile every
    template again. With `reload` (development) a template whose file changed is compiled
    again, at the cost of a file check for every template a page uses; without it (the
    default, production) templates are compiled once, at first use.
    """
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, auto_reload=reload,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             extensions=["jinja2.ext.i18n"], finalize=localise_output)
    # Swedish (the msgids themselves) unless a render passes its language's callables (`page_values`).
    env.install_null_translations(newstyle=True)
    return env


#: Templates that are Swedish whatever the language of the request (the staff's pages, issue 18).
STAFF_TEMPLATES = "staff/"
#: Paths of the staff's pages, whose errors are Swedish whatever the language of the request.
STAFF_PATHS = "/personal"


def page_values(state: AppState, language: str, template: str) -> dict[str, Any]:
    """The language values of a render: `page_language` (the layout's lang=), `_language`, `_`, `ngettext`.

    Staff templates are always Swedish; a language without a catalogue is Swedish too.
    """
    return state.catalogues.template_values(SOURCE_LANGUAGE if template.startswith(STAFF_TEMPLATES) else language)


def render(ctx: Ctx, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """A page: the template with the layout's common values, in the page's language (staff pages in Swedish)."""
    values.setdefault("enrolment_nav", None)
    values.setdefault("package", None)
    values.setdefault("notice", None)
    values.setdefault("scripts", [])
    values.update(page_values(ctx.app, ctx.page_language, template))
    page = ctx.app.templates.get_template(template).render(user=ctx.user, csrf_token=ctx.csrf_token, **values)
    ctx.commit()  # in the route's thread, so finishing the request needs no further hop
    return HTMLResponse(page, status_code=status)


def redirect(url: str) -> RedirectResponse:
    """303 See Other: after a POST, the browser GETs the next page."""
    return RedirectResponse(url, status_code=303)


def is_api(request: Request) -> bool:
    """Whether a request is for the JSON API."""
    return request.url.path.startswith("/api/")


def error_response(request: Request, error: AppError) -> Response:
    """The response for an AppError: JSON for the API, a page (or the login redirect) for people."""
    if is_api(request):
        body: dict[str, Any] = {"detail": error.message}
        if error.errors:
            body["errors"] = error.errors
        return JSONResponse(body, status_code=error.status)
    if isinstance(error, LoginRequired):
        return redirect("/logga-in")
    if isinstance(error, PasswordChangeRequired):
        return redirect(error.location)
    state: AppState = request.app.state.stegvis
    # The language of the page that failed (an error raised by a route or its dependencies), else that of
    # the request (set by its context, when it got that far), else the forced one or Swedish.
    language = error.language or getattr(request.state, "stegvis_language", None) or state.settings.force_language
    if request.url.path.startswith(STAFF_PATHS):
        language = SOURCE_LANGUAGE
    page = state.templates.get_template("error.html").render(
        user=None, csrf_token="", enrolment_nav=None, package=None, notice=None, scripts=[],
        title=error.title, message=error.message, **page_values(state, language or SOURCE_LANGUAGE, "error.html"))
    return HTMLResponse(page, status_code=error.status)


#: Media types the package files need that the platform may not know.
MIME = {".vtt": "text/vtt", ".mp3": "audio/mpeg", ".svg": "image/svg+xml", ".js": "text/javascript",
        ".css": "text/css", ".pdf": "application/pdf", ".json": "application/json",
        ".mp4": "video/mp4", ".txt": "text/plain; charset=utf-8"}  # films and their transcripts (issue 17)
#: Package files are program content, never patient data; still, nothing in them may run as our page.
FILE_CSP = "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox"


def package_file_response(enrolment: Enrolment, package: Package, path: str, base: Package | None = None) -> Response:
    """A package file the enrolment's patient may have (see `runtime.patient_files`), or 404.

    Pages are never served (steps are shown inside the runtime's layout), nor staff-only
    files, sources, or the files of hidden steps and modules that are not current. `base`:
    the enrolment's own package when `package` is a translation of it (issue 18).
    """
    if not patient_may_fetch(enrolment, package, path, base):
        raise not_found()
    found = package.file_path(path)
    if found is None:
        raise not_found()
    suffix = found.suffix.lower()
    media_type = MIME.get(suffix) or mimetypes.guess_type(found.name)[0] or "application/octet-stream"
    headers = {"cache-control": f"private, max-age={int(timedelta(days=1).total_seconds())}",
               "content-security-policy": FILE_CSP}
    return FileResponse(found, media_type=media_type, headers=headers)


def _on_host(location: bytes, host: bytes) -> bool:
    """Whether a Location names the request's own Host (absolute URL): such a redirect is made relative."""
    parts = urlsplit(location.decode("latin-1"))
    return bool(parts.netloc) and parts.netloc.lower().encode("latin-1") == host


class SecurityHeaders:
    """Pure ASGI middleware: CSP and the other protective headers on every response; redirects stay relative."""

    CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self' https:; script-src 'self'; "
           "style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")

    def __init__(self, app, hsts: bool, form_action: tuple[str, ...] = ()) -> None:
        self.app = app
        # The logout form of a session an OpenID Connect provider started redirects to the provider.
        csp = self.CSP.replace("form-action 'self'", " ".join(("form-action 'self'", *form_action)))
        self.headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),  # no-referrer would make browsers send Origin: null
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ] + ([(b"strict-transport-security", b"max-age=31536000")] if hsts else [])

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        host = _host(scope).encode("latin-1")

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = [(name, relative_location(value)) if name.lower() == b"location" and _on_host(value, host)
                           else (name, value) for name, value in message.get("headers", [])]
                names = {name.lower() for name, _ in headers}
                headers += [h for h in self.headers if h[0] not in names]
                if b"cache-control" not in names:
                    # Patient data must not stay in shared or browser caches.
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _Refused(Exception):
    """A request the limits refuse before any route sees it."""

    def __init__(self, error: AppError) -> None:
        super().__init__(error.message)
        self.error = error


TOO_LARGE = N_("Det du skickade är för stort. Korta ner texten eller dela upp den och försök igen.")
TOO_LARGE_TITLE = N_("För stort")


def _count_json_keys(body: bytes, limit: int) -> None:
    """Raise `_Refused` when the JSON body holds more than `limit` keys; invalid JSON is left to the route."""
    seen = 0

    def count(pairs: list) -> dict:
        nonlocal seen
        seen += len(pairs)
        if seen > limit:
            raise _Refused(AppError(413, TOO_LARGE, title=TOO_LARGE_TITLE))
        return dict(pairs)

    try:
        json.loads(body, object_pairs_hook=count)
    except ValueError:
        pass


def path_ids_in_range(path: str) -> bool:
    """Whether every all-digit segment of a URL path fits the database's ids (else it names nothing)."""
    return all(not (segment.isascii() and segment.isdigit()) or len(segment) < 19 or int(segment) <= MAX_ID
               for segment in path.split("/"))


class RequestLimits:
    """Pure ASGI middleware: refuse, cheaply and before any route, what would tie up the server (issue 14).

    - A body over `max_body_bytes` gets 413 as soon as its Content-Length (or the bytes read
      so far) shows it; the rest is never read.
    - A JSON body with more than `max_json_keys` keys gets 413 before validation would
      build an error for each of them.
    - An id in the path beyond what the database holds gets 404 (it names nothing), never
      an overflow in the database driver.
    - With `allowed_hosts` set, a request for another Host gets 400.
    """

    def __init__(self, app, max_body_bytes: int, max_json_keys: int, allowed_hosts: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_keys = max_json_keys
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            if self.allowed_hosts and _host(scope) not in self.allowed_hosts:
                raise _Refused(AppError(400, N_("Begäran gick till en adress som tjänsten inte svarar på.")))
            if not path_ids_in_range(scope["path"]):
                raise _Refused(not_found())
            receive = await self._checked_body(scope, receive)
        except _Refused as refused:
            await error_response(Request(scope), refused.error)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _checked_body(self, scope, receive):
        headers = dict(scope.get("headers") or ())
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            raise _Refused(AppError(413, TOO_LARGE, title=TOO_LARGE_TITLE))
        if scope["method"] not in UNSAFE_METHODS:
            return receive
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it
                return _replay([message], receive)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _Refused(AppError(413, TOO_LARGE, title=TOO_LARGE_TITLE))
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if b"json" in headers.get(b"content-type", b"").lower() and body.count(b":") > self.max_json_keys:
            _count_json_keys(body, self.max_json_keys)  # only bodies that might hold too many keys
        return _replay([{"type": "http.request", "body": body, "more_body": False}], receive)


def _host(scope) -> str:
    """The request's Host header, lower case ('' when absent)."""
    for name, value in scope.get("headers") or ():
        if name == b"host":
            return value.decode("latin-1").lower()
    return ""


def relative_location(location: bytes) -> bytes:
    """A redirect's target without scheme and host: the browser stays on the host it asked (issue 14).

    Starlette builds absolute URLs from the request's Host header (the trailing-slash
    redirect); a forged Host must not become a link to another site. Only targets on
    this runtime are ever absolute here (an OpenID Connect provider's are left alone by
    the caller, which knows them).
    """
    parts = urlsplit(location.decode("latin-1"))
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//"):
        path = "/" + path.lstrip("/")
    return (path + (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")
            ).encode("latin-1")


def _replay(messages: list, receive):
    """A `receive` that gives `messages` first, then what the client sends next (a disconnect)."""
    pending = list(messages)

    async def replay():
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
