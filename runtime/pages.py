"""The patient's pages: server-rendered HTML in the patient's language that works without JavaScript.

Every route that shows or changes patient data first loads the enrolment through
`load_enrolment`, which answers 404 for an enrolment that is not the logged-in
patient's own; every sub-resource (plan, thread) is looked up within that enrolment.
Each request writes one access-log row. Every POST carries the CSRF guard
(`CsrfForm`), and answers 303 to a page that shows the result (post/redirect/get),
or shows the form again with the errors and the patient's own values. Texts are Swedish,
marked for the catalogues (`N_`), and shown in the language of the page (runtime.i18n).

Must not: put logic in templates; compute here, render there.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import Markup
from sqlalchemy import text

from runtime.auth import LoginFailed, end_session, start_session
from runtime.content import FormSlot, markdown, step_body
from runtime.enrolments import (
    closed_reason,
    login_refusal,
    patient_access,
    patient_enrolments,
    plan_schedule,
    step_readable,
    visible_plans,
)
from runtime.i18n import N_, NP_
from runtime.models import Enrolment, EnrolmentPlan, MessageThread, UserKind
from runtime.oidc_login import login_choices, logout_url, public_base
from runtime.packages import Package
from runtime.schedule import iter_occasions, open_occasions
from runtime.services import patient as services
from runtime.services.patient import load_enrolment, neighbours
from runtime.views import (
    YOU,
    YOUR_THERAPIST,
    ErrorSummary,
    FormView,
    PlanView,
    comment_view,
    day_text,
    error_list,
    fmt_time,
    occasion_view,
    plan_results,
    question_views,
    schedule_text,
    submission_view,
)
from runtime.web import (
    AppError,
    CsrfForm,
    Ctx,
    CtxDep,
    FormDep,
    PatientDep,
    check_login_csrf,
    clear_session_cookie,
    client_address,
    first,
    login_csrf_token,
    not_found,
    package_file_response,
    page_values,
    redirect,
    render,
    require_patient,
    set_login_cookie,
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)
log = logging.getLogger("stegvis.runtime.pages")

NOTICES = {
    "sparat": N_("Ditt utkast är sparat. Du kan fortsätta senare."),
    "skickat": N_("Tack! Dina svar är skickade till din behandlare."),
    "kommenterat": N_("Din kommentar är sparad."),
    "registrerat": N_("Tack! Din registrering är sparad."),
    "skickat-meddelande": N_("Ditt meddelande är skickat."),
}


def _labelled(label: str, message: str) -> str:
    """A field's error in the error summary: "Hur mår du? – Välj ett svar." (the message in the page's language)."""
    return N_("%(label)s – %(message)s", label=label, message=message)


def _error_title(title: str) -> str:
    """The title of a page shown again with errors: "Fel: …" (screen readers hear it first)."""
    return N_("Fel: %(title)s", title=title)


def answers_of(form: dict[str, list[str]]) -> dict[str, list[str]]:
    """Posted answers: every field but the runtime's own (which start with an underscore)."""
    return {k: v for k, v in form.items() if not k.startswith("_")}


@router.get("/halsa")
def health(ctx: CtxDep) -> Response:
    """For load balancers: the database answers and how many packages are served (no patient data)."""
    ctx.db.execute(text("SELECT 1"))
    return JSONResponse({"status": "ok", "packages": len(ctx.app.store.all())})


# --- login ---------------------------------------------------------------------------------------


@router.get("/")
def home(ctx: CtxDep) -> Response:
    """Start: the patient's program, or the login page."""
    ctx.authenticate()
    if ctx.user is None:
        return redirect("/logga-in")
    if ctx.user.kind == UserKind.citizen:
        return redirect("/moment")
    return redirect("/personal")


def _choices(ctx: Ctx) -> dict[str, Any]:
    """The login page's provider buttons (e-identification, SITHS) and whether the password form shows."""
    return login_choices(ctx.app.providers, ctx.app.local_accounts.enabled)


@router.get("/logga-in")
def login_page(ctx: CtxDep) -> Response:
    """The login form (local accounts; e-identification comes as another provider)."""
    ctx.authenticate()
    if ctx.user is not None:
        return redirect("/")
    token = login_csrf_token(ctx.request, ctx.app)
    response = render(ctx, "login.html", title=N_("Logga in"), login_token=token, error=None, username="",
                      **_choices(ctx))
    set_login_cookie(response, ctx.app, token)
    return response


@router.post("/logga-in")
def login_submit(ctx: CtxDep, form: FormDep) -> Response:
    """Check the login form (double-submit CSRF), then start a fresh session."""
    provider = ctx.app.local_accounts
    if not provider.enabled:
        raise not_found()
    check_login_csrf(ctx.request, ctx.app, first(form, "_csrf"))
    ctx.authenticate()
    try:
        user = provider.authenticate(ctx.db, {"username": first(form, "username"), "password": first(form, "password"),
                                              "client": client_address(ctx.request, ctx.app.settings)}, ctx.now)
    except LoginFailed as exc:
        # The try was counted in a transaction of its own (runtime.throttle); the form is shown again.
        token = login_csrf_token(ctx.request, ctx.app)
        return render(ctx, "login.html", status=exc.status, title=N_("Fel: Logga in"), login_token=token,
                      error=exc.args[0], username=first(form, "username")[:100], **_choices(ctx))
    refusal = login_refusal(ctx.db, user, ctx.now.astimezone(ctx.app.tz).date())
    if refusal is not None:
        # A patient whose programs are all ended (or whose maintenance has passed) gets no session.
        token = login_csrf_token(ctx.request, ctx.app)
        return render(ctx, "login.html", status=403, title=N_("Fel: Logga in"), login_token=token, error=refusal,
                      username=first(form, "username")[:100], **_choices(ctx))
    if ctx.session is not None:
        end_session(ctx.db, ctx.session)  # a new session at every login: no fixation
    new = start_session(ctx.db, user, provider.name, ctx.app.settings, ctx.now,
                        user_agent=ctx.request.headers.get("user-agent"))
    response = redirect("/")
    set_session_cookie(response, ctx.app, new.token)
    response.delete_cookie(ctx.app.login_cookie, path="/", secure=ctx.app.settings.cookie_secure, httponly=True,
                           samesite="strict")
    return response


@router.post("/logga-ut")
def logout(ctx: CtxDep, form: CsrfForm) -> Response:
    """End the session and forget the cookie; a provider's session is ended at the provider too."""
    provider_logout = None
    if ctx.session is not None:
        base = public_base(ctx.app.settings.public_url, str(ctx.request.base_url))
        with ctx.uow.reading():  # the provider's discovery may be fetched: hold no write lock meanwhile
            provider_logout = logout_url(ctx.db, ctx.app.providers, ctx.session, base)  # before its row goes
        end_session(ctx.db, ctx.session)
    ctx.session, ctx.user = None, None
    response = redirect(provider_logout) if provider_logout else render(ctx, "logged_out.html", title=N_("Du är utloggad"))
    clear_session_cookie(response, ctx.app)
    return response


# --- enrolments ----------------------------------------------------------------------------------


def nav(ctx: Ctx, enrolment: Enrolment, package: Package, current: str) -> dict[str, Any]:
    """The enrolment's navigation: program title, links, unread messages."""
    unread = services.unread_messages(ctx, enrolment)
    words = services.text_of(ctx, enrolment, package)
    return {"id": enrolment.id, "title": words.title, "current": current, "unread": unread,
            "plans": services.tree(ctx, enrolment, package).has_plans,
            "stylesheet": f"/moment/{enrolment.id}/filer/assets/stegvis.css"
            if "assets/stegvis.css" in package.files else None,
            "readonly": patient_access(enrolment, ctx.now.astimezone(ctx.app.tz).date()).reason}


@router.get("/moment")
def enrolment_list(ctx: PatientDep) -> Response:
    """The patient's programs; straight to the program when there is one."""
    everything = patient_enrolments(ctx.db, ctx.user.id)
    today = ctx.now.astimezone(ctx.app.tz).date()
    rows = [e for e in everything if patient_access(e, today).read]
    ctx.audit("enrolment.list", patient_id=ctx.user.id)
    if len(rows) == 1:
        return redirect(f"/moment/{rows[0].id}")
    items = []
    for e in rows:
        package = ctx.app.store.get(e.program_id, e.program_version)
        items.append({"id": e.id, "title": services.text_of(ctx, e, package).title if package else e.program_id,
                      "started": fmt_time(e.started_at, ctx.app.tz)})
    return render(ctx, "enrolments.html", title=N_("Dina program"), items=items,
                  reason=closed_reason(everything, today) if not items else None)


@router.get("/moment/{eid}")
def start_page(eid: int, ctx: PatientDep) -> Response:
    """Welcome text, contacts, current modules → sections → visible steps (opened ones marked)."""
    enrolment, package = load_enrolment(ctx, eid)
    home = services.home(ctx, enrolment, package)
    words = services.text_of(ctx, enrolment, package)
    plans = [{"id": p.id, "title": (words.plan(p) or {}).get("title") or services.PLAN}
             for p in visible_plans(enrolment)]
    ctx.audit("enrolment.read", enrolment)
    return render(ctx, "start.html", title=words.title, enrolment_nav=nav(ctx, enrolment, package, "start"),
                  welcome=enrolment.welcome_text, contacts=enrolment.contacts, modules=home.modules, plans=plans,
                  program_files=services.program_files(enrolment, words), home=home,
                  last_visit=day_text(home.last_visit, ctx.app.tz) if home.last_visit else None)


# --- steps and forms -----------------------------------------------------------------------------


def build_form(ctx: Ctx, enrolment: Enrolment, package: Package, module_id: str, step_id: str, form_id: str,
               raw: dict[str, list[str]] | None = None, errors: dict[str, str] | None = None,
               notice: str | None = None, comment_error: str | None = None, comment_value: str = "") -> FormView | None:
    """A form of a step with the patient's draft (or the values just posted), errors and history.

    The form's texts come from the enrolment's language where the translation has the form
    (issue 18); the ids, and so the draft and the answers, are the base program's.
    """
    shown = services.text_of(ctx, enrolment, package).form(form_id)
    if shown is None:
        return None
    package, form = shown
    draft = services.get_draft(ctx, enrolment, form_id)
    if raw is None and draft is not None:
        raw = draft.answers
    prefix = f"f-{form_id}"
    base = f"/moment/{enrolment.id}/steg/{module_id}/{step_id}"
    questions = question_views(package, form_id, form["questions"], prefix, "../../", raw, errors,
                               form.get("description"))
    tz = ctx.app.tz
    view = FormView(form_id=form_id, html_id=prefix, title=form["title"],
                    description=_form_texts_description(package, form_id, form), required=bool(form.get("required")),
                    page_comments=bool(form.get("page_comments")), questions=questions,
                    # Absolute, and the step's own URL: a page shown again after a refused POST is at the
                    # same address as the step, so every relative link of the body still works (issue 15).
                    action=base, comments_action=base,
                    can_write=patient_access(enrolment, ctx.now.astimezone(tz).date()).write, notice=notice,
                    errors=error_list(questions),
                    draft_saved=fmt_time(draft.updated_at, tz) if draft is not None else None,
                    comment_error=comment_error, comment_value=comment_value)
    if raw is None and not errors:
        # Empty forms look the same for everyone who reads the same language: render their questions once
        # per package and language.
        template = ctx.app.templates.get_template("_form_questions.html")
        language = page_values(ctx.app, ctx.page_language, "_form_questions.html")
        view.questions_html = package.cached(f"formhtml:{form_id}:{language['page_language']}",
                                             lambda: Markup(template.render(questions=questions, **language)))
    view.submissions = [submission_view(form["questions"], s, tz) for s in services.submissions(ctx, enrolment, form_id)]
    if view.page_comments:
        view.comments = [comment_view(c, tz) for c in services.page_comments(ctx, enrolment, form_id)]
    return view


def _form_texts_description(package: Package, form_id: str, form: dict):
    return package.cached(f"formdesc:{form_id}", lambda: markdown(form.get("description")) or "") or None


def render_step(ctx: Ctx, enrolment: Enrolment, package: Package, found: tuple[dict, dict, dict],
                form_state: dict[str, dict] | None = None, status: int = 200, notice: str | None = None,
                error_heading: str | None = None, error_text: str | None = None) -> Response:
    """A step page: the package's content with working forms in place of the static ones.

    Errors of its forms are gathered into one summary at the top of the page (the error-summary
    pattern: a red box with a link to each field, which gets the focus), never into the notice.
    """
    module_id, step_id = found[0]["id"], found[2]["id"]
    words = services.text_of(ctx, enrolment, package)
    # The step as the enrolment's language has it (issue 18): the translation's text where it has the
    # step, else the Swedish with a note; what may be opened was decided on the base package (`found`).
    shown, (module, section, step) = words.step(module_id, step_id)
    translated = words.translated(module_id, step_id)
    body = step_body(shown, module_id, step_id)
    if body is None and shown is not package:
        log.error("Översättningen %s %s: steget %s/%s går inte att visa; det visas på svenska.",
                  shown.program_id, shown.version, module_id, step_id)
        shown, (module, section, step), translated = package, found, False
        body = step_body(package, module_id, step_id)
    if body is None:
        raise AppError(503, N_("Steget går inte att visa just nu. Kontakta din vårdenhet om det inte går."))
    form_state = form_state or {}
    parts = []
    problems: list[tuple[str, str]] = []
    for part in body.parts:
        if isinstance(part, FormSlot):
            view = build_form(ctx, enrolment, package, module["id"], step["id"], part.form_id,
                              **form_state.get(part.form_id, {}))
            if view is not None:
                problems += [(anchor, _labelled(label, message)) for anchor, label, message in view.errors]
                if view.comment_error:
                    problems.append((f"kommentar-{view.form_id}", view.comment_error))
                parts.append(("form", view))
        else:
            parts.append(("html", part))
    has_errors = bool(problems)
    previous, following = neighbours(ctx, enrolment, package, module["id"], step["id"])
    readout = step.get("readout")
    title = N_("%(step)s – %(module)s", step=step["title"], module=module["title"])
    if has_errors:
        title = _error_title(title)
    summary = ErrorSummary(error_heading or N_("Något behöver rättas"), problems, error_text) if problems else None
    return render(ctx, "step.html", status=status, title=title,
                  enrolment_nav=nav(ctx, enrolment, package, "step"), module=module, section=section, step=step,
                  body=body, parts=parts, previous=previous, following=following, notice=notice,
                  error_summary=summary, content_language=shown.data.program.language,
                  untranslated=not translated,
                  pdf=f"/moment/{enrolment.id}/{shown.files_url}/{step['pdf']}" if step.get("pdf") else None,
                  scripts=[f"/moment/{enrolment.id}/{shown.files_url}/assets/readout.js"]
                  if readout and "assets/readout.js" in shown.files else [])


def load_step(ctx: Ctx, eid: int, module_id: str, step_id: str):
    """Enrolment, package and (module, section, step) of a step the patient may open."""
    enrolment, package = load_enrolment(ctx, eid)
    found = step_readable(enrolment, package, module_id, step_id, services.tree(ctx, enrolment, package))
    if found is None:
        raise not_found()
    return enrolment, package, found


@router.get("/moment/{eid}/steg/{module_id}/{step_id}")
def step_page(eid: int, module_id: str, step_id: str, ctx: CtxDep) -> Response:
    """A step; opening it marks it opened for the therapist.

    The busiest page checks its patient here, in the route's own worker thread, rather than
    in a dependency (FastAPI runs each sync dependency in a worker thread of its own): one
    thread hop per request instead of two (issue 16). The check is `require_patient`'s.
    """
    require_patient(ctx)
    # Read and render without the write lock; then mark the step opened and log, briefly locked.
    with ctx.uow.reading():
        enrolment, package, found = load_step(ctx, eid, module_id, step_id)
        notice_key = next((k for k in NOTICES if k in ctx.request.query_params), None)
        form_state = {}
        if notice_key:
            form_state[ctx.request.query_params[notice_key]] = {"notice": NOTICES[notice_key]}
        response = render_step(ctx, enrolment, package, found, form_state)
    services.open_step(ctx, enrolment, module_id, step_id)
    services.mark_comments_read(ctx, enrolment, list(found[2].get("forms", [])))
    ctx.commit()
    return response


def _form_of_step(package: Package, found, form_id: str) -> dict:
    form = package.form(form_id)
    if form is None or form_id not in found[2].get("forms", []):
        raise not_found()
    return form


@router.post("/moment/{eid}/steg/{module_id}/{step_id}")
def step_post(eid: int, module_id: str, step_id: str, ctx: PatientDep, form: CsrfForm) -> Response:
    """A form of the step (`_form`): submit, save a draft (`_action=draft`) or comment (`_action=comment`).

    The forms post to the step's own address, so a page shown again with errors is at the
    step's address: its relative links and the next post work, and nothing typed is lost.
    """
    action = first(form, "_action")
    if action == "comment":
        return _comment(ctx, eid, module_id, step_id, first(form, "_form"), form)
    return _answers(ctx, eid, module_id, step_id, first(form, "_form"), form)


@router.post("/moment/{eid}/steg/{module_id}/{step_id}/formular/{form_id}")
def form_post(eid: int, module_id: str, step_id: str, form_id: str, ctx: PatientDep, form: CsrfForm) -> Response:
    """Save a draft (`_action=draft`) or submit (the older address; the page posts to the step itself)."""
    return _answers(ctx, eid, module_id, step_id, form_id, form)


@router.post("/moment/{eid}/steg/{module_id}/{step_id}/formular/{form_id}/kommentarer")
def comment_post(eid: int, module_id: str, step_id: str, form_id: str, ctx: PatientDep, form: CsrfForm) -> Response:
    """A page comment under a form (the older address; the page posts to the step itself)."""
    return _comment(ctx, eid, module_id, step_id, form_id, form)


def _answers(ctx: Ctx, eid: int, module_id: str, step_id: str, form_id: str, form: dict[str, list[str]]) -> Response:
    """Save a draft or submit; a rejected submission keeps the draft and shows the errors."""
    enrolment, package, found = load_step(ctx, eid, module_id, step_id)
    definition = _form_of_step(package, found, form_id)
    raw = answers_of(form)
    anchor = f"#f-{form_id}"
    if first(form, "_action") == "draft":
        services.save_draft(ctx, enrolment, form_id, definition, raw)
        return redirect(f"/moment/{eid}/steg/{module_id}/{step_id}?sparat={form_id}{anchor}")
    try:
        services.submit_form(ctx, enrolment, form_id, definition, raw, module_id, step_id)
    except services.FormRejected as exc:
        ctx.db.rollback()
        enrolment, package, found = load_step(ctx, eid, module_id, step_id)
        services.save_draft(ctx, enrolment, form_id, definition, raw)
        ctx.commit()
        state = {form_id: {"raw": raw, "errors": exc.errors}}
        return render_step(ctx, enrolment, package, found, state, status=422,
                           error_heading=N_("Formuläret skickades inte"),
                           error_text=N_("Några svar behöver rättas. Dina svar är sparade som utkast."))
    return redirect(f"/moment/{eid}/steg/{module_id}/{step_id}?skickat={form_id}{anchor}")


def _comment(ctx: Ctx, eid: int, module_id: str, step_id: str, form_id: str, form: dict[str, list[str]]) -> Response:
    """A page comment under a form; an empty or too long one is shown again with the error."""
    enrolment, package, found = load_step(ctx, eid, module_id, step_id)
    definition = _form_of_step(package, found, form_id)
    try:
        services.add_page_comment(ctx, enrolment, form_id, definition, first(form, "body"))
    except AppError as exc:
        if exc.status != 422:
            raise
        ctx.db.rollback()
        enrolment, package, found = load_step(ctx, eid, module_id, step_id)
        ctx.audit("comment.read", enrolment, f"form:{form_id}")
        state = {form_id: {"comment_error": exc.message, "comment_value": first(form, "body")[:20000]}}
        return render_step(ctx, enrolment, package, found, state, status=422,
                           error_heading=N_("Kommentaren sparades inte"))
    return redirect(f"/moment/{eid}/steg/{module_id}/{step_id}?kommenterat={form_id}#kommentarer-{form_id}")


# --- activity plans ------------------------------------------------------------------------------


def load_plan(ctx: Ctx, eid: int, plan_pk: int) -> tuple[Enrolment, Package, EnrolmentPlan, dict]:
    """A plan of the patient's own enrolment that is activated and started."""
    enrolment, package = load_enrolment(ctx, eid)
    plan = next((p for p in visible_plans(enrolment) if p.id == plan_pk), None)
    # Its texts in the enrolment's language (issue 18); registrations are checked on the base's (services.register).
    definition = services.text_of(ctx, enrolment, package).plan(plan) if plan is not None else None
    if plan is None or definition is None:
        raise not_found()
    return enrolment, package, plan, definition


def plan_view(ctx: Ctx, enrolment: Enrolment, package: Package, plan: EnrolmentPlan, definition: dict,
              posted: dict[str, Any] | None = None) -> PlanView:
    """The plan page's view: open occasions with forms, the next occasion, results."""
    tz = ctx.app.tz
    schedule = plan_schedule(plan)
    registered = services.registrations(ctx, plan)
    done = {r.occasion_at for r in registered}
    open_views = []
    for occ in open_occasions(schedule, tz, ctx.now):
        if occ.at in done:
            continue
        prefix = f"tillfalle-{occ.at:%Y%m%d%H%M}"
        mine = posted is not None and posted.get("key") == occ.key
        fields = question_views(package, f"plan:{plan.plan_id or plan.id}", definition["fields"], prefix,
                                f"/moment/{enrolment.id}/",
                                posted["raw"] if mine else None, posted.get("errors") if mine else None)
        view = occasion_view(occ, tz, fields)
        if mine:
            view.comment_value, view.error = posted.get("comment", ""), posted.get("message")
        open_views.append(view)
    upcoming = next((o for o in iter_occasions(schedule, tz) if o.opens_at > ctx.now), None)
    goal = services.plan_goal(ctx, enrolment, definition)
    headers, rows, chart, summary, label, goal_text = plan_results(definition, registered, goal, tz,
                                                                   f"diagram-{plan.id}", ctx.lang)
    window = plan.registration_window_days
    window_text = (N_("Du kan registrera samma dag som tillfället.") if window == 0 else
                   NP_("Du kan registrera från tillfällets dag och %(num)s dag framåt.",
                       "Du kan registrera från tillfällets dag och %(num)s dagar framåt.", window))
    return PlanView(id=plan.id, title=definition["title"], description=markdown(definition.get("description")),
                    schedule_text=schedule_text(plan.days, plan.repeat_every_weeks, None), window_text=window_text,
                    allow_comments=plan.allow_comments, open=open_views,
                    next_text=fmt_time(upcoming.at, tz) if upcoming else None, headers=headers, rows=rows,
                    chart=chart, chart_summary=summary, result_label=label, goal_text=goal_text,
                    next_opens=day_text(upcoming.opens_at, tz) if upcoming else None)


@router.get("/moment/{eid}/aktivitetsplaner/{plan_pk}")
def plan_page(eid: int, plan_pk: int, ctx: PatientDep) -> Response:
    """An activity plan: occasions to register now, the schedule, results as chart and table."""
    enrolment, package, plan, definition = load_plan(ctx, eid, plan_pk)
    view = plan_view(ctx, enrolment, package, plan, definition)
    ctx.audit("plan.read", enrolment, f"plan:{plan.id}")
    notice = NOTICES["registrerat"] if "registrerat" in ctx.request.query_params else None
    return render(ctx, "plan.html", title=view.title, enrolment_nav=nav(ctx, enrolment, package, "plan"),
                  plan=view, notice=notice, untranslated=not services.text_of(ctx, enrolment, package).plan_translated(plan),
                  can_write=patient_access(enrolment, ctx.now.astimezone(ctx.app.tz).date()).write)


@router.post("/moment/{eid}/aktivitetsplaner/{plan_pk}/registreringar")
def registration_post(eid: int, plan_pk: int, ctx: PatientDep, form: CsrfForm) -> Response:
    """Register one occasion; too early, too late, twice or invalid values are refused with a message."""
    enrolment, package, plan, definition = load_plan(ctx, eid, plan_pk)
    key = first(form, "_occasion")
    try:
        services.register(ctx, enrolment, package, plan, key, answers_of(form), first(form, "_comment"))
    except AppError as exc:
        if exc.status not in (409, 422):
            raise
        ctx.db.rollback()
        enrolment, package, plan, definition = load_plan(ctx, eid, plan_pk)
        posted = {"key": key, "raw": answers_of(form), "errors": exc.errors if isinstance(exc, services.FormRejected)
                  else None, "comment": first(form, "_comment")[:20000], "message": exc.message}
        view = plan_view(ctx, enrolment, package, plan, definition, posted)
        ctx.audit("plan.read", enrolment, f"plan:{plan.id}")
        items = [(anchor, _labelled(label, message)) for occ in view.open
                 for anchor, label, message in error_list(occ.fields)]
        if not items:  # too early, too late, twice: about the occasion, not a field
            mine = next((occ for occ in view.open if occ.key == key), None)
            items = [(f"{mine.html_id}-rubrik" if mine else "registrera", exc.message)]
        summary = ErrorSummary(N_("Registreringen sparades inte"), items)
        return render(ctx, "plan.html", status=exc.status, title=_error_title(view.title),
                      enrolment_nav=nav(ctx, enrolment, package, "plan"), plan=view, error_summary=summary,
                      can_write=True)
    return redirect(f"/moment/{eid}/aktivitetsplaner/{plan_pk}?registrerat=1#resultat")


# --- messages ------------------------------------------------------------------------------------


@router.get("/moment/{eid}/meddelanden")
def inbox(eid: int, ctx: PatientDep) -> Response:
    """Threads with the care staff, unread ones marked."""
    enrolment, package = load_enrolment(ctx, eid)
    rows = [{"id": t.thread.id, "subject": t.thread.subject, "unread": t.unread, "count": t.count,
             "last": fmt_time(t.thread.last_message_at, ctx.app.tz)} for t in services.threads(ctx, enrolment)]
    ctx.audit("inbox.read", enrolment)
    notice = NOTICES["skickat-meddelande"] if "skickat" in ctx.request.query_params else None
    return render(ctx, "inbox.html", title=N_("Meddelanden"), enrolment_nav=nav(ctx, enrolment, package, "messages"),
                  threads=rows, notice=notice,
                  can_write=patient_access(enrolment, ctx.now.astimezone(ctx.app.tz).date()).write)


@router.get("/moment/{eid}/meddelanden/nytt")
def new_thread_page(eid: int, ctx: PatientDep) -> Response:
    """The form for a new message."""
    enrolment, package = load_enrolment(ctx, eid)
    if not patient_access(enrolment, ctx.now.astimezone(ctx.app.tz).date()).write:
        return redirect(f"/moment/{eid}/meddelanden")  # the inbox says why messages are closed
    ctx.audit("message.compose", enrolment)
    return render(ctx, "new_thread.html", title=N_("Nytt meddelande"),
                  enrolment_nav=nav(ctx, enrolment, package, "messages"), subject="", body="",
                  errors={"subject": None, "body": None})


@router.post("/moment/{eid}/meddelanden")
def new_thread_post(eid: int, ctx: PatientDep, form: CsrfForm) -> Response:
    """Send a new message (a new thread)."""
    enrolment, package = load_enrolment(ctx, eid)
    try:
        thread = services.start_thread(ctx, enrolment, first(form, "subject"), first(form, "body"))
    except AppError as exc:
        if exc.status != 422:
            raise
        ctx.db.rollback()
        enrolment, package = load_enrolment(ctx, eid)
        ctx.audit("message.compose", enrolment)
        errors = {"subject": (exc.errors or {}).get("subject"), "body": (exc.errors or {}).get("body")}
        items = [(anchor, errors[key]) for key, anchor in (("subject", "amne"), ("body", "meddelande")) if errors[key]]
        return render(ctx, "new_thread.html", status=422, title=_error_title(N_("Nytt meddelande")),
                      enrolment_nav=nav(ctx, enrolment, package, "messages"), subject=first(form, "subject")[:200],
                      body=first(form, "body")[:20000], errors=errors,
                      error_summary=ErrorSummary(N_("Meddelandet skickades inte"), items or [("amne", exc.message)]))
    return redirect(f"/moment/{eid}/meddelanden/{thread.id}?skickat=1#senaste")


def load_thread(ctx: Ctx, eid: int, thread_id: int) -> tuple[Enrolment, Package, MessageThread]:
    """A thread of the patient's own enrolment."""
    enrolment, package = load_enrolment(ctx, eid)
    thread = ctx.db.get(MessageThread, thread_id)
    if thread is None or thread.enrolment_id != enrolment.id:
        raise not_found()
    return enrolment, package, thread


def _thread_page(ctx: Ctx, enrolment: Enrolment, package: Package, thread: MessageThread, status: int = 200,
                 error: str | None = None, body: str = "", notice: str | None = None) -> HTMLResponse:
    tz = ctx.app.tz
    messages = [{"mine": m.sender_role.value == "patient",
                 "author": YOU if m.sender_role.value == "patient" else YOUR_THERAPIST,
                 "when": fmt_time(m.created_at, tz), "body": m.body,
                 "read": fmt_time(m.read_at, tz) if m.read_at else None} for m in thread.messages]
    return render(ctx, "thread.html", status=status, title=_error_title(thread.subject) if error else thread.subject,
                  enrolment_nav=nav(ctx, enrolment, package, "messages"), thread=thread, messages=messages,
                  error=error, body=body, notice=notice,
                  error_summary=ErrorSummary(N_("Svaret skickades inte"), [("svar", error)]) if error else None,
                  can_write=patient_access(enrolment, ctx.now.astimezone(tz).date()).write)


@router.get("/moment/{eid}/meddelanden/{thread_id}")
def thread_page(eid: int, thread_id: int, ctx: PatientDep) -> Response:
    """A thread; opening it marks the therapist's messages read."""
    enrolment, package, thread = load_thread(ctx, eid, thread_id)
    services.read_thread(ctx, enrolment, thread)
    ctx.commit()
    notice = NOTICES["skickat-meddelande"] if "skickat" in ctx.request.query_params else None
    return _thread_page(ctx, enrolment, package, thread, notice=notice)


@router.post("/moment/{eid}/meddelanden/{thread_id}")
def reply_post(eid: int, thread_id: int, ctx: PatientDep, form: CsrfForm) -> Response:
    """Answer in a thread."""
    enrolment, package, thread = load_thread(ctx, eid, thread_id)
    try:
        services.reply(ctx, enrolment, thread, first(form, "body"))
    except AppError as exc:
        if exc.status != 422:
            raise
        ctx.db.rollback()
        enrolment, package, thread = load_thread(ctx, eid, thread_id)
        ctx.audit("thread.read", enrolment, f"thread:{thread.id}")
        return _thread_page(ctx, enrolment, package, thread, 422, exc.message, first(form, "body")[:20000])
    return redirect(f"/moment/{eid}/meddelanden/{thread_id}?skickat=1#senaste")


# --- package files -------------------------------------------------------------------------------


@router.get("/moment/{eid}/filer/{path:path}")
def package_file(eid: int, path: str, ctx: PatientDep) -> Response:
    """A patient file of the enrolment's package (audio, captions, PDFs, images, the package's CSS and JS)."""
    enrolment, package = load_enrolment(ctx, eid)
    return package_file_response(enrolment, package, path)


@router.get("/moment/{eid}/sprak/{language}/{path:path}")
def translation_file(eid: int, language: str, path: str, ctx: PatientDep) -> Response:
    """A patient file of a translation of the enrolment's program version (issue 18), by the same rules.

    Any served translation of the enrolment's own program version, not only the enrolment's
    language: a page loaded before the patient changed language still finds its files.
    """
    enrolment, package = load_enrolment(ctx, eid)
    translation = ctx.app.store.translation(package.program_id, package.version, language)
    if translation is None:
        raise not_found()
    return package_file_response(enrolment, translation, path, base=package)
