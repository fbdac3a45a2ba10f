"""Pages of a person's own account (issue #13): "Mina uppgifter", password change, sessions.

Patients reach them under /mina-uppgifter, staff under /personal/profil ("Min profil").
The password change is the one page a session opened with a one-time password may
see (`AccountDep`); everything else waits until the password is changed. The logic is
in runtime.accounts; this module only reads forms and renders.

Must not: import other route modules; put logic in templates.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from runtime import accounts
from runtime.models import UserKind
from runtime.views import session_views, staff_nav
from runtime.web import (
    PASSWORD_PAGES,
    AccountDep,
    CsrfForm,
    Ctx,
    PatientDep,
    StaffDep,
    client_address,
    first,
    not_found,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False)

SESSIONS_PAGES = {UserKind.citizen: "/mina-uppgifter/inloggningar", UserKind.staff: "/personal/profil/inloggningar"}


def _own_page(ctx: Ctx, kind: UserKind) -> None:
    # Patients' pages for patients, staff's for staff: the other kind's address is 404.
    if ctx.user.kind != kind:
        raise not_found()


def _render(ctx: Ctx, template: str, status: int = 200, **values: Any) -> Response:
    """A page in the person's own layout: the staff navigation for staff acting in a unit."""
    if ctx.user.kind == UserKind.staff and ctx.session.unit_id is not None and not ctx.must_change_password:
        return render(ctx, template, staff_nav=staff_nav(ctx, "profil"), status=status, layout="staff/layout.html",
                      **values)
    return render(ctx, template, status=status, layout="layout.html", **values)


# --- Mina uppgifter ------------------------------------------------------------------------------


@router.get("/mina-uppgifter")
def my_details(ctx: PatientDep) -> Response:
    """The patient's settings: password, sessions, the access log."""
    return render(ctx, "account.html", title="Mina uppgifter", has_password=accounts.own_username(ctx) is not None,
                  local_accounts=ctx.app.local_accounts.enabled)


# --- password ------------------------------------------------------------------------------------


def _password_page(ctx: Ctx, status: int = 200, errors: list[tuple[str, str]] | None = None) -> Response:
    available = ctx.app.local_accounts.enabled and accounts.own_username(ctx) is not None
    notice = "Ditt lösenord är bytt. Du är utloggad på alla andra ställen." \
        if status == 200 and ctx.request.query_params.get("klart") else None
    return _render(ctx, "account_password.html", status=status, title=("Fel: " if errors else "") + "Byt lösenord",
                   available=available, forced=ctx.must_change_password, errors=errors or [],
                   field_errors=dict(errors or []), notice=notice, action=PASSWORD_PAGES[ctx.user.kind],
                   min_length=accounts.PASSWORD_MIN, max_length=accounts.PASSWORD_MAX,
                   back=SESSIONS_PAGES[ctx.user.kind].rsplit("/", 1)[0])


def _password_post(ctx: Ctx, form: dict[str, list[str]]) -> Response:
    if not ctx.app.local_accounts.enabled:
        raise not_found()
    forced = ctx.must_change_password
    errors = accounts.change_password(ctx, first(form, "current_password"), first(form, "new_password"),
                                      first(form, "new_password_again"), client_address(ctx.request, ctx.app.settings))
    if errors:
        return _password_page(ctx, status=422, errors=errors)
    if forced:
        return redirect("/")
    return redirect(PASSWORD_PAGES[ctx.user.kind] + "?klart=1")


@router.get("/mina-uppgifter/losenord")
def patient_password_page(ctx: AccountDep) -> Response:
    """Byt lösenord (patients); the only page before a one-time password is changed."""
    _own_page(ctx, UserKind.citizen)
    return _password_page(ctx)


@router.post("/mina-uppgifter/losenord")
def patient_password_post(ctx: AccountDep, form: CsrfForm) -> Response:
    """Change the password: the current one, the new one twice."""
    _own_page(ctx, UserKind.citizen)
    return _password_post(ctx, form)


@router.get("/personal/profil/losenord")
def staff_password_page(ctx: AccountDep) -> Response:
    """Byt lösenord (staff); the only page before a one-time password is changed."""
    _own_page(ctx, UserKind.staff)
    return _password_page(ctx)


@router.post("/personal/profil/losenord")
def staff_password_post(ctx: AccountDep, form: CsrfForm) -> Response:
    """Change the password: the current one, the new one twice."""
    _own_page(ctx, UserKind.staff)
    return _password_post(ctx, form)


# --- sessions ------------------------------------------------------------------------------------


def _sessions_page(ctx: Ctx) -> Response:
    ctx.audit("account.sessions.read", patient_id=accounts.own_patient_id(ctx))
    rows = session_views(ctx)
    ended = ctx.request.query_params.get("avslutade")
    notice = None
    if ended is not None and ended.isdigit():
        count = int(ended)
        notice = ("Du var inte inloggad någon annanstans." if count == 0 else
                  f"Du är utloggad på {count} {'annat ställe' if count == 1 else 'andra ställen'}.")
    return _render(ctx, "account_sessions.html", title="Inloggningar", sessions=rows, notice=notice,
                   action=SESSIONS_PAGES[ctx.user.kind], others=sum(1 for s in rows if not s.current),
                   back=SESSIONS_PAGES[ctx.user.kind].rsplit("/", 1)[0])


def _sessions_post(ctx: Ctx) -> Response:
    count = accounts.end_other_sessions(ctx.db, ctx.user.id, ctx.session.id, ctx.app.settings, ctx.now)
    ctx.audit("account.sessions.end_others", target=f"sessions-ended:{count}", patient_id=accounts.own_patient_id(ctx))
    return redirect(f"{SESSIONS_PAGES[ctx.user.kind]}?avslutade={count}")


@router.get("/mina-uppgifter/inloggningar")
def patient_sessions_page(ctx: PatientDep) -> Response:
    """Where the patient is logged in; this session marked."""
    return _sessions_page(ctx)


@router.post("/mina-uppgifter/inloggningar")
def patient_sessions_post(ctx: PatientDep, form: CsrfForm) -> Response:
    """Logga ut överallt annars."""
    return _sessions_post(ctx)


@router.get("/personal/profil/inloggningar")
def staff_sessions_page(ctx: StaffDep) -> Response:
    """Where the member of staff is logged in; this session marked."""
    return _sessions_page(ctx)


@router.post("/personal/profil/inloggningar")
def staff_sessions_post(ctx: StaffDep, form: CsrfForm) -> Response:
    """Logga ut överallt annars."""
    return _sessions_post(ctx)
