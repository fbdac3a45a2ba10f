"""The app factory: `create_app(settings)` wires settings, database, package store, clock and routes.

Nothing here runs at import time and nothing is kept in module globals: two apps
with different settings can live in one process (the tests do exactly that).
`create_app` migrates the database and scans the packages unless told not to.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from runtime import account_pages, api, oidc_pages, pages, staff
from runtime.auth import LocalAccountProvider
from runtime.clock import Clock, SystemClock
from runtime.context import AppError, AppState, not_found
from runtime.db import Database, DatabaseBusy
from runtime.i18n import N_, Catalogues, catalogue_folder
from runtime.identity import install_log_redaction
from runtime.oidc import OidcClient
from runtime.oidc_login import OidcLoginProvider, form_action_origins
from runtime.packages import PackageStore, load_public_key
from runtime.services.notify import Outbox
from runtime.settings import TEMPLATES, ConfigurationError, RuntimeSettings
from runtime.web import (
    MAX_ECHOED_CHARS,
    MAX_ECHOED_ERRORS,
    RequestLimits,
    SecurityHeaders,
    error_response,
    is_api,
    make_templates,
)

log = logging.getLogger("stegvis.runtime")

API_DESCRIPTION = """The patient's side of a Stegvis enrolment (moment), and the staff calls that start and
customise one. Authentication is a session cookie set by `POST /api/v1/session` (or the login page);
every state-changing call must send the session's CSRF token in the `X-CSRF-Token` header
(`GET /api/v1/session` returns it). Error bodies are `{"detail": "…", "errors": {field: "…"}}` with Swedish text."""


def create_app(settings: RuntimeSettings, clock: Clock | None = None, migrate: bool = True,
               scan: bool = True) -> FastAPI:
    """A runtime app for these settings. `clock` pins time in tests; `migrate`/`scan` may be skipped."""
    install_log_redaction()
    db = Database(settings.database_url)
    if migrate:
        db.migrate()
    if settings.require_signature and settings.public_key is None:
        raise ConfigurationError("require_signature kräver en publik nyckel (public_key).")
    key = load_public_key(settings.public_key) if settings.public_key else None
    store = PackageStore(settings.packages, key)
    if scan:
        store.scan()
    state = AppState(settings=settings, db=db, store=store, clock=clock or SystemClock(),
                     templates=make_templates(settings.reload_templates),
                     local_accounts=LocalAccountProvider(settings, db),
                     catalogues=Catalogues.load(catalogue_folder(TEMPLATES)))
    if settings.local_accounts:
        state.providers[state.local_accounts.name] = state.local_accounts
    for config in settings.oidc_providers:  # e-identification and SITHS (runtime/oidc.py, issue #13)
        provider = OidcLoginProvider(OidcClient(config))
        state.providers[provider.name] = provider
    outbox = state.outbox = Outbox(settings, db, state.clock, store, catalogues=state.catalogues)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Notices go out from a worker thread after each commit (runtime/services/notify.py).
        if settings.notify_worker:
            outbox.start()
        try:
            yield
        finally:
            outbox.stop()

    app = _App(title="Stegvis runtime", version="1", description=API_DESCRIPTION, docs_url=None,
                  redoc_url=None, openapi_url="/api/openapi.json", lifespan=lifespan)
    app.state.stegvis = state
    app.state.outbox = outbox
    app.add_middleware(RequestLimits, max_body_bytes=settings.max_body_bytes, max_json_keys=settings.max_json_keys,
                       allowed_hosts=settings.allowed_hosts)
    app.security_headers = {"hsts": settings.cookie_secure, "form_action": form_action_origins(state.providers)}
    app.mount("/static", StaticFiles(directory=TEMPLATES / "static"), name="static")
    app.include_router(pages.router)
    app.include_router(oidc_pages.router)
    app.include_router(api.router)
    app.include_router(staff.router)
    app.include_router(account_pages.router)

    @app.exception_handler(AppError)
    async def on_app_error(request: Request, exc: AppError) -> Response:
        return error_response(request, exc)

    @app.exception_handler(DatabaseBusy)
    async def on_busy(request: Request, exc: DatabaseBusy) -> Response:
        log.error("Databasen var upptagen för länge; begäran avbröts.")
        return error_response(request, AppError(503, N_("Tjänsten är hårt belastad just nu. Försök igen om en stund.")))

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        if is_api(request):
            return JSONResponse({"detail": "Begäran har fel form.", "errors": _plain_errors(exc)}, status_code=422)
        return error_response(request, not_found())

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_response(request, not_found())
        if exc.status_code == 405:
            return error_response(request, AppError(405, N_("Det går inte att göra så här på den här sidan.")))
        return error_response(request, AppError(exc.status_code, N_("Begäran kunde inte utföras.")))

    @app.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception) -> Response:
        log.exception("Internt fel i %s %s", request.method, request.url.path)
        return error_response(request, AppError(500, N_("Något gick fel hos oss. Försök igen om en stund.")))

    return app


class _App(FastAPI):
    """FastAPI with the security headers outermost, so that even the 500 page of a bug carries them (issue 14).

    Starlette puts its ServerErrorMiddleware outside every added middleware; the headers
    wrap the whole stack instead.
    """

    security_headers: dict = {}

    def build_middleware_stack(self):
        """The usual stack, wrapped in `SecurityHeaders`."""
        return SecurityHeaders(super().build_middleware_stack(), **self.security_headers)


def _plain_errors(exc: RequestValidationError) -> dict[str, str]:
    """The first few validation errors, each shortened: never an echo of everything that was sent (issue 14)."""
    out = {}
    errors = exc.errors()
    for error in errors[:MAX_ECHOED_ERRORS]:
        loc = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body",))[:MAX_ECHOED_CHARS]
        out[loc or "body"] = str(error.get("msg", "ogiltigt värde"))[:MAX_ECHOED_CHARS]
    if len(errors) > MAX_ECHOED_ERRORS:
        out["…"] = f"{len(errors) - MAX_ECHOED_ERRORS} fel till visas inte."
    return out
