"""The JSON API (`/api/v1`), described by its OpenAPI schema at /api/openapi.json.

The same services as the pages, with the same checks: the patient's calls reach
only the patient's own enrolments (404 otherwise), every state-changing call needs
the session's CSRF token in `X-CSRF-Token`, and every call that reads or writes
patient data writes one access-log row. The staff calls here share their services
with the staff pages (runtime.services): start an enrolment for a validated
personnummer, customise it, and set an activity plan's schedule.

Must not: return a form's score to the patient (it is for the therapist).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from runtime import forms as formcheck
from runtime.auth import LoginFailed, end_session, start_session
from runtime.enrolments import (
    form_location,
    login_refusal,
    module_tree,
    opened_steps,
    patient_access,
    plan_definition,
    plan_schedule,
    step_readable,
    step_visible,
    visible_plans,
)
from runtime.models import (
    AuthorRole,
    Contact,
    Enrolment,
    EnrolmentPlan,
    MessageThread,
)
from runtime.packages import Package
from runtime.schedule import occasion_key, open_occasions
from runtime.services import enrolment as enrolment_service
from runtime.services import patient as services
from runtime.services.access import Action, enrolment_package, require, unit_enrolment
from runtime.services.patient import load_enrolment
from runtime.services.plans import save_plan_settings
from runtime.web import (
    AccountDep,
    AppError,
    Ctx,
    CtxDep,
    PatientDep,
    StaffDep,
    check_origin,
    clear_session_cookie,
    client_address,
    csrf_header,
    not_found,
    set_session_cookie,
)
from stegvis_package.model import patient_form

CSRF = [Depends(csrf_header)]


class Schema(BaseModel):
    """Base of the API's bodies: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(Schema):
    """Every error answer of the API (runtime.web.error_response, and app.py's for invalid requests)."""

    detail: str = Field(description="What went wrong, in Swedish, for people.")
    errors: dict[str, str] | None = Field(None, description="Field → what is wrong with it, in Swedish.")


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


#: The errors any call may answer with; the API's fuzz test (tests/runtime/test_fuzz_api.py) holds
#: every response to these, so the OpenAPI document says what a client really gets (issue 14).
ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("The body could not be read (not JSON in UTF-8)."),
    401: _error("Not logged in (no session, or it has ended)."),
    403: _error("Not allowed: the wrong kind of account or role, a missing or wrong X-CSRF-Token, a request "
                "from another site, or a one-time password still to change."),
    404: _error("No such resource, or not the caller's to see (the same answer for both)."),
    422: _error("The request does not have the right form, or the values break the service's rules; "
                "`errors` has a message per field."),
    503: _error("The service is overloaded for the moment; try again."),
}
CONFLICT = {409: _error("Already done, or the enrolment has ended.")}


def _links(status: int, **targets: tuple[str, str, dict[str, str]]) -> dict[int, dict[str, Any]]:
    """OpenAPI links of a response: name → (method, path under /api/v1, parameter → runtime expression).

    They tell a client (and the stateful fuzz test) where an id in the answer leads.
    """
    return {status: {"links": {name: {"operationRef": "#/paths/" + ("/api/v1" + path).replace("/", "~1")
                                      + "/" + method, "parameters": params}
                               for name, (method, path, params) in targets.items()}}}

router = APIRouter(prefix="/api/v1", responses=ERRORS)


# --- session -------------------------------------------------------------------------------------


class Credentials(Schema):
    username: str = Field(max_length=100)
    password: str = Field(max_length=1024)  # passwords may have 256 characters (up to 4 bytes each)


class Me(Schema):
    id: int
    kind: Literal["citizen", "staff"]
    display_name: str
    unit_id: int | None = None


class SessionInfo(Schema):
    user: Me
    csrf_token: str = Field(description="Send in X-CSRF-Token with every POST, PUT, PATCH and DELETE.")


def _me(ctx: Ctx) -> Me:
    return Me(id=ctx.user.id, kind=ctx.user.kind.value, display_name=ctx.user.display_name,
              unit_id=ctx.session.unit_id if ctx.session else None)


@router.post("/session", response_model=SessionInfo, tags=["session"],
             responses={429: _error("Too many failed tries lately: wait and try again.")})
def api_login(body: Credentials, ctx: CtxDep, response: Response) -> SessionInfo:
    """Log in with a local account; sets the session cookie.

    Cross-site form posts cannot reach this call: it takes only application/json, which a
    browser sends cross-site only after a CORS preflight that this server never allows.
    """
    provider = ctx.app.local_accounts
    if not provider.enabled:
        raise not_found()
    check_origin(ctx.request, ctx.app.settings)
    ctx.authenticate()
    try:
        user = provider.authenticate(ctx.db, {"username": body.username, "password": body.password,
                                              "client": client_address(ctx.request, ctx.app.settings)}, ctx.now)
    except LoginFailed as exc:
        ctx.commit()
        raise AppError(exc.status, str(exc)) from None
    refusal = login_refusal(ctx.db, user, ctx.now.astimezone(ctx.app.tz).date())
    if refusal is not None:
        ctx.commit()
        raise AppError(403, refusal)
    if ctx.session is not None:
        end_session(ctx.db, ctx.session)
    new = start_session(ctx.db, user, provider.name, ctx.app.settings, ctx.now,
                        user_agent=ctx.request.headers.get("user-agent"))
    ctx.session, ctx.user = new.row, user
    set_session_cookie(response, ctx.app, new.token)
    return SessionInfo(user=_me(ctx), csrf_token=new.row.csrf_token)


@router.get("/session", response_model=SessionInfo, tags=["session"])
def api_session(ctx: AccountDep) -> SessionInfo:
    """Who is logged in, and the CSRF token (also before a one-time password is changed)."""
    return SessionInfo(user=_me(ctx), csrf_token=ctx.csrf_token)


@router.delete("/session", status_code=204, dependencies=CSRF, tags=["session"])
def api_logout(ctx: AccountDep, response: Response) -> Response:
    """Log out."""
    end_session(ctx.db, ctx.session)
    out = Response(status_code=204)
    clear_session_cookie(out, ctx.app)
    return out


# --- enrolments ----------------------------------------------------------------------------------


class EnrolmentSummary(Schema):
    id: int
    program_id: str
    program_version: str
    program_title: str | None
    status: str
    started_at: datetime
    language: str = Field(description="The language the patient reads the program in (BCP 47; \"sv\" is the "
                                      "base program). Titles, steps and form definitions come in it where "
                                      "the program's translation has them, else in Swedish.")


class ContactOut(Schema):
    name: str
    role: str | None = None
    phone: str | None = None
    email: str | None = None
    hours: str | None = None
    url: str | None = None


class StepOut(Schema):
    module_id: str
    id: str
    title: str
    opened: bool
    forms: list[str]


class SectionOut(Schema):
    title: str
    steps: list[StepOut]


class ModuleOut(Schema):
    id: str
    title: str
    kind: str
    sections: list[SectionOut]


class PlanSummary(Schema):
    id: int
    plan_id: str | None
    title: str


class EnrolmentOut(EnrolmentSummary):
    welcome_text: str
    can_write: bool
    contacts: list[ContactOut]
    modules: list[ModuleOut]
    plans: list[PlanSummary]
    unread_messages: int


def _summary(ctx: Ctx, e: Enrolment) -> EnrolmentSummary:
    package = ctx.app.store.get(e.program_id, e.program_version)
    title = services.text_of(ctx, e, package).title if package else None
    return EnrolmentSummary(id=e.id, program_id=e.program_id, program_version=e.program_version,
                            program_title=title, status=e.status.value, started_at=e.started_at,
                            language=e.language)


def _contact(c: Contact) -> ContactOut:
    return ContactOut(name=c.name, role=c.role, phone=c.phone, email=c.email, hours=c.hours, url=c.url)


@router.get("/enrolments", response_model=list[EnrolmentSummary], tags=["patient"],
            responses=_links(200, enrolment=("get", "/enrolments/{eid}", {"eid": "$response.body#/0/id"})))
def api_enrolments(ctx: PatientDep) -> list[EnrolmentSummary]:
    """The patient's enrolments that they can open."""
    today = ctx.now.astimezone(ctx.app.tz).date()
    rows = ctx.db.scalars(select(Enrolment).where(Enrolment.patient_id == ctx.user.id).order_by(Enrolment.id))
    ctx.audit("enrolment.list", patient_id=ctx.user.id)
    return [_summary(ctx, e) for e in rows if patient_access(e, today).read]


@router.get("/enrolments/{eid}", response_model=EnrolmentOut, tags=["patient"],
            responses=_links(200, plan=("get", "/enrolments/{eid}/plans/{plan_pk}",
                                        {"eid": "$request.path.eid", "plan_pk": "$response.body#/plans/0/id"}),
                             threads=("get", "/enrolments/{eid}/threads", {"eid": "$request.path.eid"}),
                             new_thread=("post", "/enrolments/{eid}/threads", {"eid": "$request.path.eid"})))
def api_enrolment(eid: int, ctx: PatientDep) -> EnrolmentOut:
    """Welcome text, contacts, current modules → sections → visible steps with opened marks, plans."""
    enrolment, package = load_enrolment(ctx, eid)
    modules = [ModuleOut(id=m.id, title=m.title, kind=m.kind,
                         sections=[SectionOut(title=s.title, steps=[StepOut(module_id=st.module_id, id=st.id,
                                                                             title=st.title, opened=st.opened,
                                                                             forms=st.forms) for st in s.steps])
                                   for s in m.sections])
               for m in module_tree(ctx.db, enrolment, package, tree=services.tree(ctx, enrolment, package))]
    words = services.text_of(ctx, enrolment, package)
    plans = [PlanSummary(id=p.id, plan_id=p.plan_id, title=(words.plan(p) or {}).get("title", ""))
             for p in visible_plans(enrolment)]
    ctx.audit("enrolment.read", enrolment)
    summary = _summary(ctx, enrolment)
    return EnrolmentOut(**summary.model_dump(), welcome_text=enrolment.welcome_text,
                        can_write=patient_access(enrolment, ctx.now.astimezone(ctx.app.tz).date()).write,
                        contacts=[_contact(c) for c in enrolment.contacts], modules=modules, plans=plans,
                        unread_messages=services.unread_messages(ctx, enrolment))


class Readout(Schema):
    mp3: str
    cues: str


class StepDetail(Schema):
    module_id: str
    id: str
    title: str
    opened: bool
    page_url: str = Field(description="The step page for people.")
    readout: Readout | None
    pdf: str | None
    forms: list[str]


def _step_detail(ctx: Ctx, enrolment: Enrolment, package: Package, found, opened: bool) -> StepDetail:
    # The title, readout and PDF in the enrolment's language where its translation has the step (issue 18).
    shown, (module, _, step) = services.text_of(ctx, enrolment, package).step(found[0]["id"], found[2]["id"])
    files = f"/moment/{enrolment.id}/{shown.files_url}/"
    readout = step.get("readout")
    return StepDetail(module_id=module["id"], id=step["id"], title=step["title"], opened=opened,
                      page_url=f"/moment/{enrolment.id}/steg/{module['id']}/{step['id']}",
                      readout=Readout(mp3=files + readout["mp3"], cues=files + readout["cues"]) if readout else None,
                      pdf=files + step["pdf"] if step.get("pdf") else None, forms=list(step.get("forms", [])))


@router.get("/enrolments/{eid}/steps/{module_id}/{step_id}", response_model=StepDetail, tags=["patient"])
def api_step(eid: int, module_id: str, step_id: str, ctx: PatientDep) -> StepDetail:
    """A step's metadata and file links (reading it here does not mark it opened)."""
    enrolment, package = load_enrolment(ctx, eid)
    found = step_readable(enrolment, package, module_id, step_id)
    if found is None:
        raise not_found()
    ctx.audit("step.read", enrolment, f"step:{module_id}/{step_id}")
    return _step_detail(ctx, enrolment, package, found, (module_id, step_id) in opened_steps(ctx.db, enrolment))


@router.post("/enrolments/{eid}/steps/{module_id}/{step_id}/open", response_model=StepDetail, dependencies=CSRF,
             tags=["patient"])
def api_open_step(eid: int, module_id: str, step_id: str, ctx: PatientDep) -> StepDetail:
    """Mark a step opened."""
    enrolment, package = load_enrolment(ctx, eid)
    found = step_readable(enrolment, package, module_id, step_id)
    if found is None:
        raise not_found()
    services.open_step(ctx, enrolment, module_id, step_id)
    return _step_detail(ctx, enrolment, package, found, True)


# --- forms ---------------------------------------------------------------------------------------

Answer = str | int | float | bool | list[str | int | float]


class Answers(Schema):
    answers: dict[str, Answer] = Field(description="Question id → value; a list for multi questions.")


class Draft(Schema):
    answers: dict[str, list[str]]
    updated_at: datetime


class Submission(Schema):
    id: int
    submitted_at: datetime
    answers: dict[str, Any]


class CommentOut(Schema):
    id: int
    author: Literal["patient", "therapist"]
    body: str
    created_at: datetime


class FormState(Schema):
    form_id: str
    definition: dict[str, Any] = Field(description="The form as the patient may see it: program.json's, "
                                                   "without scoring, points and flags (those are for staff).")
    step: str = Field(description="module/step where the patient fills it in.")
    draft: Draft | None
    submissions: list[Submission]
    comments: list[CommentOut] | None


def _form(ctx: Ctx, eid: int, form_id: str, shown: bool = False) -> tuple[Enrolment, dict, tuple[str, str]]:
    """The form of the enrolment: the base's definition (answers are checked on it), or with `shown` the
    one to show, in the enrolment's language where its translation has the form (issue 18)."""
    enrolment, package = load_enrolment(ctx, eid)
    definition = package.form(form_id)
    where = form_location(enrolment, package, form_id) if definition is not None else None
    if where is None:
        raise not_found()
    if shown:
        definition = services.text_of(ctx, enrolment, package).form(form_id)[1]
    return enrolment, definition, where


def _submission(row) -> Submission:
    return Submission(id=row.id, submitted_at=row.submitted_at, answers=row.answers)


@router.get("/enrolments/{eid}/forms/{form_id}", response_model=FormState, tags=["patient"])
def api_form(eid: int, form_id: str, ctx: PatientDep) -> FormState:
    """A form's definition with the patient's draft, submissions and page comments."""
    enrolment, definition, where = _form(ctx, eid, form_id, shown=True)
    draft = services.get_draft(ctx, enrolment, form_id)
    comments = None
    if definition.get("page_comments"):
        comments = [CommentOut(id=c.id, author=c.author_role.value, body=c.body, created_at=c.created_at)
                    for c in services.page_comments(ctx, enrolment, form_id)]
        services.mark_comments_read(ctx, enrolment, [form_id])
    ctx.audit("form.read", enrolment, f"form:{form_id}")
    return FormState(form_id=form_id, definition=patient_form(definition), step=f"{where[0]}/{where[1]}",
                     draft=Draft(answers=draft.answers, updated_at=draft.updated_at) if draft else None,
                     submissions=[_submission(s) for s in services.submissions(ctx, enrolment, form_id)],
                     comments=comments)


@router.put("/enrolments/{eid}/forms/{form_id}/draft", response_model=Draft, dependencies=CSRF, tags=["patient"])
def api_save_draft(eid: int, form_id: str, body: Answers, ctx: PatientDep) -> Draft:
    """Keep unsent answers (not checked)."""
    enrolment, definition, _ = _form(ctx, eid, form_id)
    draft = services.save_draft(ctx, enrolment, form_id, definition, formcheck.raw_from_json(body.answers))
    return Draft(answers=draft.answers, updated_at=draft.updated_at)


@router.post("/enrolments/{eid}/forms/{form_id}/submissions", response_model=Submission, status_code=201,
             dependencies=CSRF, tags=["patient"],
             responses={422: _error("Answers break the form's rules; `errors` has a message per question.")})
def api_submit(eid: int, form_id: str, body: Answers, ctx: PatientDep) -> Submission:
    """Submit answers; required questions and show_if are enforced against program.json."""
    enrolment, definition, where = _form(ctx, eid, form_id)
    row = services.submit_form(ctx, enrolment, form_id, definition, formcheck.raw_from_json(body.answers), *where)
    return _submission(row)


class CommentIn(Schema):
    body: str = Field(max_length=20000)


@router.post("/enrolments/{eid}/forms/{form_id}/comments", response_model=CommentOut, status_code=201,
             dependencies=CSRF, tags=["patient"])
def api_comment(eid: int, form_id: str, body: CommentIn, ctx: PatientDep) -> CommentOut:
    """A page comment under a form that allows them."""
    enrolment, definition, _ = _form(ctx, eid, form_id)
    row = services.add_page_comment(ctx, enrolment, form_id, definition, body.body)
    return CommentOut(id=row.id, author=row.author_role.value, body=row.body, created_at=row.created_at)


# --- activity plans ------------------------------------------------------------------------------


class OccasionOut(Schema):
    occasion_at: str = Field(description="The occasion's key: its UTC time, e.g. 2026-03-02T17:00:00Z.")
    opens_at: datetime
    closes_at: datetime


class RegistrationOut(Schema):
    id: int
    occasion_at: str
    values: dict[str, Any]
    comment: str | None
    registered_at: datetime


class PlanOut(Schema):
    id: int
    plan_id: str | None
    definition: dict[str, Any]
    start_date: date
    repeat_every_weeks: int
    days: dict[str, str]
    registration_window_days: int
    allow_comments: bool
    open_occasions: list[OccasionOut]
    registrations: list[RegistrationOut]
    goal: float | None


def _registration(r) -> RegistrationOut:
    return RegistrationOut(id=r.id, occasion_at=occasion_key(r.occasion_at), values=r.values, comment=r.comment,
                           registered_at=r.registered_at)


def _plan(ctx: Ctx, eid: int, plan_pk: int):
    enrolment, package = load_enrolment(ctx, eid)
    plan = next((p for p in visible_plans(enrolment) if p.id == plan_pk), None)
    # Its texts in the enrolment's language (issue 18); registrations are checked on the base's (services.register).
    definition = services.text_of(ctx, enrolment, package).plan(plan) if plan is not None else None
    if definition is None:
        raise not_found()
    return enrolment, package, plan, definition


@router.get("/enrolments/{eid}/plans", response_model=list[PlanSummary], tags=["patient"])
def api_plans(eid: int, ctx: PatientDep) -> list[PlanSummary]:
    """Activated activity plans."""
    enrolment, package = load_enrolment(ctx, eid)
    ctx.audit("plan.list", enrolment)
    words = services.text_of(ctx, enrolment, package)
    return [PlanSummary(id=p.id, plan_id=p.plan_id, title=(words.plan(p) or {}).get("title", ""))
            for p in visible_plans(enrolment)]


@router.get("/enrolments/{eid}/plans/{plan_pk}", response_model=PlanOut, tags=["patient"])
def api_plan(eid: int, plan_pk: int, ctx: PatientDep) -> PlanOut:
    """A plan with its schedule, the occasions open now, and every registration."""
    enrolment, package, plan, definition = _plan(ctx, eid, plan_pk)
    registered = services.registrations(ctx, plan)
    done = {r.occasion_at for r in registered}
    opened = [OccasionOut(occasion_at=o.key, opens_at=o.opens_at, closes_at=o.closes_at)
              for o in open_occasions(plan_schedule(plan), ctx.app.tz, ctx.now) if o.at not in done]
    ctx.audit("plan.read", enrolment, f"plan:{plan.id}")
    return PlanOut(id=plan.id, plan_id=plan.plan_id, definition=definition, start_date=plan.start_date,
                   repeat_every_weeks=plan.repeat_every_weeks, days=plan.days,
                   registration_window_days=plan.registration_window_days, allow_comments=plan.allow_comments,
                   open_occasions=opened, registrations=[_registration(r) for r in registered],
                   goal=services.plan_goal(ctx, enrolment, definition))


class RegistrationIn(Schema):
    occasion_at: str
    values: dict[str, Answer]
    comment: str | None = Field(None, max_length=20000)


@router.post("/enrolments/{eid}/plans/{plan_pk}/registrations", response_model=RegistrationOut, status_code=201,
             dependencies=CSRF, tags=["patient"],
             responses={409: _error("Already registered."),
                        422: _error("Not an occasion, too early, too late, or invalid values.")})
def api_register(eid: int, plan_pk: int, body: RegistrationIn, ctx: PatientDep) -> RegistrationOut:
    """Register one occasion inside its window."""
    enrolment, package, plan, _ = _plan(ctx, eid, plan_pk)
    row = services.register(ctx, enrolment, package, plan, body.occasion_at, formcheck.raw_from_json(body.values),
                            body.comment)
    return _registration(row)


# --- messages ------------------------------------------------------------------------------------


class MessageOut(Schema):
    id: int
    author: Literal["patient", "therapist"]
    body: str
    created_at: datetime
    read_at: datetime | None


class ThreadOut(Schema):
    id: int
    subject: str
    last_message_at: datetime
    unread: int
    count: int


class ThreadDetail(Schema):
    id: int
    subject: str
    messages: list[MessageOut]


class NewThread(Schema):
    subject: str = Field(max_length=200)
    body: str = Field(max_length=20000)


class NewMessage(Schema):
    body: str = Field(max_length=20000)


def _thread(ctx: Ctx, eid: int, thread_id: int):
    enrolment, _ = load_enrolment(ctx, eid)
    thread = ctx.db.get(MessageThread, thread_id)
    if thread is None or thread.enrolment_id != enrolment.id:
        raise not_found()
    return enrolment, thread


def _thread_detail(thread: MessageThread) -> ThreadDetail:
    return ThreadDetail(id=thread.id, subject=thread.subject,
                        messages=[MessageOut(id=m.id, author=m.sender_role.value, body=m.body, created_at=m.created_at,
                                             read_at=m.read_at) for m in thread.messages])


@router.get("/enrolments/{eid}/threads", response_model=list[ThreadOut], tags=["patient"])
def api_threads(eid: int, ctx: PatientDep) -> list[ThreadOut]:
    """The inbox: threads with unread counts."""
    enrolment, _ = load_enrolment(ctx, eid)
    ctx.audit("inbox.read", enrolment)
    return [ThreadOut(id=t.thread.id, subject=t.thread.subject, last_message_at=t.thread.last_message_at,
                      unread=t.unread, count=t.count) for t in services.threads(ctx, enrolment)]


@router.post("/enrolments/{eid}/threads", response_model=ThreadDetail, status_code=201, dependencies=CSRF,
             tags=["patient"],
             responses=_links(201, thread=("get", "/enrolments/{eid}/threads/{thread_id}",
                                           {"eid": "$request.path.eid", "thread_id": "$response.body#/id"}),
                              reply=("post", "/enrolments/{eid}/threads/{thread_id}/messages",
                                     {"eid": "$request.path.eid", "thread_id": "$response.body#/id"})))
def api_new_thread(eid: int, body: NewThread, ctx: PatientDep) -> ThreadDetail:
    """Start a conversation with the care staff."""
    enrolment, _ = load_enrolment(ctx, eid)
    thread = services.start_thread(ctx, enrolment, body.subject, body.body)
    ctx.db.refresh(thread)
    return _thread_detail(thread)


@router.get("/enrolments/{eid}/threads/{thread_id}", response_model=ThreadDetail, tags=["patient"])
def api_thread(eid: int, thread_id: int, ctx: PatientDep) -> ThreadDetail:
    """A thread; reading it marks the staff's messages read."""
    enrolment, thread = _thread(ctx, eid, thread_id)
    services.read_thread(ctx, enrolment, thread)
    ctx.db.flush()
    ctx.db.refresh(thread)
    return _thread_detail(thread)


@router.post("/enrolments/{eid}/threads/{thread_id}/messages", response_model=MessageOut, status_code=201,
             dependencies=CSRF, tags=["patient"])
def api_reply(eid: int, thread_id: int, body: NewMessage, ctx: PatientDep) -> MessageOut:
    """Answer in a thread."""
    enrolment, thread = _thread(ctx, eid, thread_id)
    m = services.reply(ctx, enrolment, thread, body.body)
    return MessageOut(id=m.id, author=m.sender_role.value, body=m.body, created_at=m.created_at, read_at=m.read_at)


# --- staff: packages, starting and customising enrolments ----------------------------------------


class PackageOut(Schema):
    program_id: str
    version: str
    title: str


class RescanOut(Schema):
    loaded: list[PackageOut]
    refused: dict[str, str]


@router.get("/packages", response_model=list[PackageOut], tags=["staff"])
def api_packages(ctx: StaffDep) -> list[PackageOut]:
    """Verified packages the runtime serves."""
    return [PackageOut(program_id=p.program_id, version=p.version, title=p.title) for p in ctx.app.store.all()]


@router.post("/admin/packages/rescan", response_model=RescanOut, dependencies=CSRF, tags=["staff"])
def api_rescan(ctx: StaffDep) -> RescanOut:
    """Read the package folder again (as SIGHUP does); access administrators only."""
    require(ctx, Action.packages_rescan)
    report = ctx.app.store.scan()
    return RescanOut(loaded=[PackageOut(program_id=p.program_id, version=p.version, title=p.title)
                             for p in ctx.app.store.all()], refused=report.refused)


class NewEnrolment(Schema):
    personal_number: str = Field(description="Personnummer or samordningsnummer, 12 digits (10 accepted).")
    display_name: str | None = Field(None, max_length=200, description="The patient's name, always required (a "
                                     "known person keeps the name the runtime has; the answer is the same for known "
                                     "and unknown numbers).")
    program_id: str
    version: str | None = Field(None, description="Default: the newest served version.")
    email: str | None = Field(None, max_length=200, description="The patient's e-mail address for notices.")
    phone: str | None = Field(None, max_length=50, description="The patient's mobile number for SMS notices.")
    therapist_id: int | None = Field(None, description="Citizen administrators: the therapist (default: the caller).")
    language: str | None = Field(None, max_length=40, description="The language the patient reads the program in: "
                                 "\"sv\" (default) or one with a served translation package of the version (issue 18).")


class PlanSettings(Schema):
    start_date: date | None = None
    repeat_every_weeks: int = Field(1, ge=1, le=52)
    days: dict[str, str]
    registration_window_days: int = Field(0, ge=0, le=31)
    flag_missed: bool = False
    allow_comments: bool = False
    activated: bool = False


class StaffPlan(PlanSettings):
    id: int
    plan_id: str | None
    title: str


class StaffEnrolment(Schema):
    id: int
    patient_id: int
    patient_name: str
    program_id: str
    program_version: str
    status: str
    therapist_id: int | None
    welcome_text: str
    contacts: list[ContactOut]
    modules: dict[str, Literal["current", "upcoming"]]
    hidden_steps: list[str] = Field(description="module/step of steps the patient does not see.")
    language: str = Field(description="The language the patient reads the program in (issue 18).")
    plans: list[StaffPlan]
    warnings: list[str] = Field(default_factory=list, description="E.g. an ongoing enrolment in the same program.")


class Customisation(Schema):
    welcome_text: str | None = Field(None, max_length=20000)
    contacts: list[ContactOut] | None = None
    modules: dict[str, Literal["current", "upcoming"]] | None = None
    steps: dict[str, bool] | None = Field(None, description="module/step → visible.")
    language: str | None = Field(None, max_length=40, description="The language the patient reads the program in "
                                 "(issue 18).")


def _staff_view(enrolment: Enrolment, package) -> StaffEnrolment:
    hidden = [f"{m['id']}/{s['id']}" for m, _, s in package.steps() if not step_visible(enrolment, m["id"], s)]
    plans = [StaffPlan(id=p.id, plan_id=p.plan_id, title=(plan_definition(p, package) or {}).get("title", ""),
                       start_date=p.start_date, repeat_every_weeks=p.repeat_every_weeks, days=p.days,
                       registration_window_days=p.registration_window_days, flag_missed=p.flag_missed,
                       allow_comments=p.allow_comments, activated=p.activated) for p in enrolment.plans]
    return StaffEnrolment(id=enrolment.id, patient_id=enrolment.patient_id,
                          patient_name=enrolment.patient.display_name, program_id=enrolment.program_id,
                          program_version=enrolment.program_version, status=enrolment.status.value,
                          therapist_id=enrolment.therapist_id, welcome_text=enrolment.welcome_text,
                          contacts=[_contact(c) for c in enrolment.contacts],
                          modules={m.module_id: m.state.value for m in enrolment.modules}, hidden_steps=hidden,
                          plans=plans, language=enrolment.language)


@router.post("/staff/enrolments", response_model=StaffEnrolment, status_code=201, dependencies=CSRF, tags=["staff"])
def api_start_enrolment(body: NewEnrolment, ctx: StaffDep) -> StaffEnrolment:
    """Start an enrolment (moment) for a personnummer in a program; the caller becomes its therapist.

    The same service as the page /personal/moment/nytt; an ongoing enrolment of the patient
    in the same program is not refused, but named in `warnings`.
    """
    started = enrolment_service.start_enrolment(ctx, enrolment_service.StartRequest(
        personal_number=body.personal_number, program_id=body.program_id, version=body.version,
        display_name=body.display_name, email=body.email, phone=body.phone, therapist_id=body.therapist_id,
        duplicate_ok=True, language=body.language))
    view = _staff_view(started.enrolment, started.package)
    if started.duplicates:
        view.warnings.append(enrolment_service.duplicate_text(started.duplicates, started.package.title))
    return view


@router.get("/staff/enrolments/{eid}", response_model=StaffEnrolment, tags=["staff"])
def api_staff_enrolment(eid: int, ctx: StaffDep) -> StaffEnrolment:
    """An enrolment of the unit with its customisation."""
    enrolment = unit_enrolment(ctx, eid, Action.enrolment_read)
    package = enrolment_package(ctx, enrolment)
    ctx.audit("enrolment.read", enrolment)
    return _staff_view(enrolment, package)


@router.patch("/staff/enrolments/{eid}", response_model=StaffEnrolment, dependencies=CSRF, tags=["staff"],
              responses=CONFLICT)
def api_customise(eid: int, body: Customisation, ctx: StaffDep) -> StaffEnrolment:
    """Change the welcome text, contacts (the whole list), current/upcoming modules and hidden steps.

    The same service as the page /personal/moment/{eid}/anpassa: everything is checked
    before anything changes, and a `customised` event lists what changed.
    """
    enrolment = unit_enrolment(ctx, eid, Action.enrolment_customise)
    package = enrolment_package(ctx, enrolment)
    contacts = None
    if body.contacts is not None:
        # A contact the API sends back unchanged keeps who added it (the patient may have).
        added_by = {enrolment_service.contact_data(c).key(): c.added_by for c in enrolment.contacts}
        contacts = [enrolment_service.ContactData(**c.model_dump()) for c in body.contacts]
        for c in contacts:
            c.added_by = added_by.get(c.key(), AuthorRole.therapist)
    enrolment_service.customise(ctx, enrolment, package, enrolment_service.Customisation(
        welcome_text=body.welcome_text, contacts=contacts, modules=body.modules, steps=body.steps,
        language=body.language))
    return _staff_view(enrolment, package)


@router.put("/staff/enrolments/{eid}/plans/{plan_pk}", response_model=StaffPlan, dependencies=CSRF, tags=["staff"])
def api_plan_settings(eid: int, plan_pk: int, body: PlanSettings, ctx: StaffDep) -> StaffPlan:
    """Set an activity plan's start date, schedule, window, flags and activation (as the staff page does).

    An activated plan needs a start date and at least one weekday; `days` may be empty
    for a plan that is not activated.
    """
    enrolment = unit_enrolment(ctx, eid, Action.enrolment_customise)
    package = enrolment_package(ctx, enrolment)
    plan: EnrolmentPlan | None = next((p for p in enrolment.plans if p.id == plan_pk), None)
    if plan is None:
        raise not_found()
    save_plan_settings(ctx, enrolment, package, plan, body.model_dump())
    return StaffPlan(id=plan.id, plan_id=plan.plan_id, title=(plan_definition(plan, package) or {}).get("title", ""),
                     **{k: getattr(plan, k) for k in PlanSettings.model_fields})
