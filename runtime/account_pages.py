"""Pages of a person's own account (issue #13): "Mina uppgifter", password change, sessions.

Patients reach them under /mina-uppgifter, staff under /personal/profil ("Min profil").
The password change is the one page a session opened with a one-time password may
see (`AccountDep`); everything else waits until the password is changed. The logic is
in runtime.accounts; this module only reads forms and renders.

Must not: import other route modules; put logic in templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from runtime import accounts
from runtime.enrolments import patient_access, patient_enrolments
from runtime.i18n import N_, NP_
from runtime.language import language_codes, native_name
from runtime.models import Contact, User, UserKind
from runtime.services import patient as services
from runtime.services.enrolment import ContactData
from runtime.services.patient import load_enrolment
from runtime.views import ErrorSummary, session_views, staff_nav
from runtime.web import (
    PASSWORD_PAGES,
    AccountDep,
    AppError,
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


@dataclass
class ContactsBox:
    """One program's contacts on "Mina uppgifter": the patient's own can be removed."""

    enrolment_id: int
    title: str
    contacts: list[Contact]
    can_write: bool
    values: dict[str, str]
    errors: dict[str, str]


@dataclass
class LanguageChoice:
    """One program's language on "Mina uppgifter" (issue 18): the languages it can be read in, each named in itself."""

    enrolment_id: int
    title: str
    current: str
    options: list[tuple[str, str]]  # (code, name in that language)
    error: str | None = None


def _details_page(ctx: Ctx, status: int = 200, notices: dict | None = None, contacts: dict | None = None,
                  notice: str | None = None, language_error: tuple[int, str] | None = None) -> Response:
    """"Mina uppgifter": notices (how and where), own contacts per program, language, password, sessions, the log.

    `notices` / `contacts` / `language_error` carry what was posted and its errors when a form is shown again.
    The page is in the language of the patient's newest program they can read.
    """
    me = ctx.db.get(User, ctx.user.id)
    today = ctx.now.astimezone(ctx.app.tz).date()
    boxes, languages = [], []
    readable = [e for e in patient_enrolments(ctx.db, ctx.user.id) if patient_access(e, today).read]
    if readable:
        ctx.use_language(readable[0].language)
    for e in readable:
        access = patient_access(e, today)
        package = ctx.app.store.get(e.program_id, e.program_version)
        title = services.text_of(ctx, e, package).title if package else e.program_id
        mine = contacts if contacts and contacts.get("enrolment_id") == e.id else {}
        boxes.append(ContactsBox(e.id, title, list(e.contacts), access.write,
                                 mine.get("values", {}), mine.get("errors", {})))
        codes = language_codes(ctx.app.store, e.program_id, e.program_version) if package else []
        if len(codes) > 1:
            error = language_error[1] if language_error and language_error[0] == e.id else None
            languages.append(LanguageChoice(e.id, title, e.language, [(c, native_name(c)) for c in codes], error))
    posted = notices or {}
    chosen = posted.get("values", {}).get("channel", me.notice_channel or ("email" if me.email else "sms" if me.phone
                                                                           else "none"))
    values = {"channel": chosen, "email": me.email or "", "phone": me.phone or "", **posted.get("values", {})}
    errors = posted.get("errors", {}) or {}
    items = [(NOTICE_ANCHORS[k], v) for k, v in errors.items() if k in NOTICE_ANCHORS]
    for box in boxes:
        items += [(f"kontakt-{box.enrolment_id}-{k}", v) for k, v in box.errors.items()]
    items += [(f"sprak-{c.enrolment_id}", c.error) for c in languages if c.error]
    heading = (N_("Inställningarna sparades inte") if errors else
               N_("Språket sparades inte") if language_error else N_("Kontakten lades inte till"))
    ctx.audit("account.settings.read", patient_id=ctx.user.id)
    title = N_("Fel: %(title)s", title=MY_DETAILS) if items else MY_DETAILS
    return render(ctx, "account.html", status=status, title=title,
                  has_password=accounts.own_username(ctx) is not None, local_accounts=ctx.app.local_accounts.enabled,
                  choices=services.NOTICE_CHOICES, values=values, errors=errors, boxes=boxes,
                  notice=notice, languages=languages,
                  error_summary=ErrorSummary(heading, items) if items else None)


NOTICE_ANCHORS = {"channel": "avisering-email", "email": "epost", "phone": "mobil"}
SAVED = {"sparat": N_("Dina inställningar för aviseringar är sparade."), "tillagd": N_("Kontakten är tillagd."),
         "borttagen": N_("Kontakten är borttagen."), "sprak": N_("Språket är sparat.")}
MY_DETAILS = N_("Mina uppgifter")


@router.get("/mina-uppgifter")
def my_details(ctx: PatientDep) -> Response:
    """The patient's settings: notices, own contacts, password, sessions, the access log."""
    notice = next((text for key, text in SAVED.items() if key in ctx.request.query_params), None)
    return _details_page(ctx, notice=notice)


@router.post("/mina-uppgifter/aviseringar")
def my_notices_post(ctx: PatientDep, form: CsrfForm) -> Response:
    """How the patient wants notices of new messages, and the e-mail address and mobile number."""
    values = {"channel": first(form, "channel"), "email": first(form, "email")[:200], "phone": first(form, "phone")[:50]}
    try:
        services.save_notice_settings(ctx, values["channel"], values["email"], values["phone"])
    except AppError as exc:
        if exc.status != 422:
            raise
        ctx.db.rollback()
        return _details_page(ctx, 422, notices={"values": values, "errors": exc.errors or {}})
    return redirect("/mina-uppgifter?sparat=1#aviseringar-del")


@router.post("/mina-uppgifter/sprak")
def my_language_post(ctx: PatientDep, form: CsrfForm) -> Response:
    """The language the patient reads one of their programs in (issue 18)."""
    eid = first(form, "enrolment")
    enrolment, _ = load_enrolment(ctx, int(eid) if eid.isdigit() else 0)
    try:
        services.set_language(ctx, enrolment, first(form, "language")[:40])
    except AppError as exc:
        if exc.status != 422:
            raise
        ctx.db.rollback()
        return _details_page(ctx, 422, language_error=(enrolment.id, exc.message))
    return redirect(f"/mina-uppgifter?sprak=1#sprak-{enrolment.id}")


@router.post("/mina-uppgifter/kontakter")
def my_contact_post(ctx: PatientDep, form: CsrfForm) -> Response:
    """Add a contact of the patient's own to one of their programs."""
    eid = first(form, "enrolment")
    enrolment, _ = load_enrolment(ctx, int(eid) if eid.isdigit() else 0)
    values = {k: first(form, k)[:200] for k in ("name", "role", "phone", "email")}
    try:
        services.add_own_contact(ctx, enrolment, ContactData(**{k: v or None for k, v in values.items()}))
    except AppError as exc:
        if exc.status != 422:
            raise
        ctx.db.rollback()
        return _details_page(ctx, 422, contacts={"enrolment_id": enrolment.id, "values": values,
                                                 "errors": exc.errors or {}})
    return redirect(f"/mina-uppgifter?tillagd=1#kontakter-{enrolment.id}")


@router.post("/mina-uppgifter/kontakter/ta-bort")
def my_contact_remove(ctx: PatientDep, form: CsrfForm) -> Response:
    """Remove a contact the patient added."""
    eid, cid = first(form, "enrolment"), first(form, "contact")
    enrolment, _ = load_enrolment(ctx, int(eid) if eid.isdigit() else 0)
    services.remove_own_contact(ctx, enrolment, int(cid) if cid.isdigit() else 0)
    return redirect(f"/mina-uppgifter?borttagen=1#kontakter-{enrolment.id}")


# --- password ------------------------------------------------------------------------------------


CHANGE_PASSWORD = N_("Byt lösenord")


def _password_page(ctx: Ctx, status: int = 200, errors: list[tuple[str, str]] | None = None) -> Response:
    available = ctx.app.local_accounts.enabled and accounts.own_username(ctx) is not None
    notice = N_("Ditt lösenord är bytt. Du är utloggad på alla andra ställen.") \
        if status == 200 and ctx.request.query_params.get("klart") else None
    return _render(ctx, "account_password.html", status=status, title=N_("Fel: %(title)s", title=CHANGE_PASSWORD) if errors else CHANGE_PASSWORD,
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
        notice = (N_("Du var inte inloggad någon annanstans.") if count == 0 else
                  NP_("Du är utloggad på %(num)s annat ställe.", "Du är utloggad på %(num)s andra ställen.", count))
    return _render(ctx, "account_sessions.html", title=N_("Inloggningar"), sessions=rows, notice=notice,
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
