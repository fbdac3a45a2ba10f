"""Routes of the OpenID Connect login (issue #13): start, come back, and back from the provider's logout.

- `GET /logga-in/oidc/{name}`: keep a login under way and send the browser to the
  provider (303). A GET, so the login page's buttons are plain links; it changes
  nothing but its own row, and the binding cookie (SameSite=Lax, so it comes back
  with the provider's top-level redirect) ties the login to this browser.
- `GET /logga-in/oidc/{name}/tillbaka`: the redirect URI to register at the provider.
  The login under way is deleted and committed first (single use), the code is
  exchanged and the ID token checked outside any write transaction, then the person
  is matched and a fresh session started. Refusals are Swedish pages; a valid
  personnummer with no program gets a page of its own.
- `GET /utloggad`: where the provider's logout sends the browser back.

Must not: import other route modules; logic lives in runtime/oidc_login.py.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from runtime.auth import end_session, start_session
from runtime.i18n import N_
from runtime.oidc import OidcError
from runtime.oidc_login import (
    CANCELLED,
    LoginRefused,
    begin_login,
    find_provider,
    login_choices,
    match_person,
    public_base,
    record_failure,
    record_login,
    redirect_uri,
    take_login,
    verify_login,
)
from runtime.web import Ctx, CtxDep, login_csrf_token, not_found, redirect, render, set_login_cookie, set_session_cookie

router = APIRouter(include_in_schema=False)

#: How long the browser-binding cookie lives (the longest a provider's login may take, and then some).
BINDING_MAX_AGE = 3600


def binding_cookie(ctx: Ctx) -> str:
    """Name of the cookie that binds a login under way to the browser that started it."""
    return "__Host-stegvis-oidc" if ctx.app.settings.cookie_secure else "stegvis-oidc"


def base_url(ctx: Ctx) -> str:
    """This runtime's address as people reach it (see oidc_login.public_base)."""
    return public_base(ctx.app.settings.public_url, str(ctx.request.base_url))


def login_page(ctx: Ctx, status: int, error: str | None) -> Response:
    """The login page again, with what went wrong."""
    token = login_csrf_token(ctx.request, ctx.app)
    response = render(ctx, "login.html", status=status, title=N_("Fel: Logga in") if error else N_("Logga in"),
                      login_token=token, error=error, username="",
                      **login_choices(ctx.app.providers, ctx.app.local_accounts.enabled))
    set_login_cookie(response, ctx.app, token)
    return response


@router.get("/logga-in/oidc/{name}")
def oidc_start(ctx: CtxDep, name: str) -> Response:
    """Send the browser to the provider, with a fresh state, nonce and PKCE challenge."""
    provider = find_provider(ctx.app.providers, name)
    if provider is None:
        raise not_found()
    browser = ctx.request.cookies.get(binding_cookie(ctx)) or secrets.token_urlsafe(32)
    try:
        url = begin_login(ctx.db, provider, redirect_uri(base_url(ctx), provider), browser, ctx.now)
    except OidcError as exc:
        record_failure(ctx.db, provider.config.name, LoginRefused(exc.reason, exc.message), ctx.now)
        return login_page(ctx, 503, exc.message)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(binding_cookie(ctx), browser, max_age=BINDING_MAX_AGE, path="/", httponly=True,
                        secure=ctx.app.settings.cookie_secure, samesite="lax")
    return response


@router.get("/logga-in/oidc/{name}/tillbaka")
def oidc_callback(ctx: CtxDep, name: str, state: str = "", code: str = "", error: str = "",
                  iss: str = "") -> Response:
    """Finish the login the provider sends back: single-use state, verified ID token, a known person."""
    provider = find_provider(ctx.app.providers, name)
    if provider is None:
        raise not_found()
    ctx.authenticate()
    try:
        taken = take_login(ctx.db, provider, state, ctx.request.cookies.get(binding_cookie(ctx), ""), ctx.now)
        ctx.commit()  # the state is used up before anything else happens, and no lock is held over the network
        if error:
            raise LoginRefused(f"provider_error:{error[:40]}", CANCELLED)
        identity, id_token = verify_login(provider, taken, code, redirect_uri(base_url(ctx), provider), ctx.now,
                                         iss)
        user = match_person(ctx.db, provider, identity, ctx.now, ctx.now.astimezone(ctx.app.tz).date())
    except LoginRefused as refused:
        record_failure(ctx.db, provider.config.name, refused, ctx.now)
        if refused.no_program:
            return render(ctx, "no_program.html", title=N_("Inget pågående program"), message=refused.message)
        return login_page(ctx, 403, refused.message)
    if ctx.session is not None:
        end_session(ctx.db, ctx.session)  # a new session at every login: no fixation
    new = start_session(ctx.db, user, provider.name, ctx.app.settings, ctx.now)
    record_login(ctx.db, provider, user, new.row, id_token, ctx.now)
    response = redirect("/")
    set_session_cookie(response, ctx.app, new.token)
    response.delete_cookie(binding_cookie(ctx), path="/", secure=ctx.app.settings.cookie_secure, httponly=True,
                           samesite="lax")
    return response


@router.get("/utloggad")
def logged_out(ctx: CtxDep) -> Response:
    """Back from the provider's logout: the same page as a local logout."""
    ctx.authenticate()
    if ctx.user is not None:
        return redirect("/")
    return render(ctx, "logged_out.html", title=N_("Du är utloggad"))
