"""Issue #8: every patient action through the HTTP interface, on SQLite and PostgreSQL.

Pages (server-rendered, no JavaScript) and the JSON API: start page, opening steps,
step content from the package, drafts and submissions with server-side rules and
scores, page comments, activity-plan registrations and results, messages.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from runtime.models import (
    AccessLogEntry,
    AuthorRole,
    Flag,
    FlagKind,
    FormDraft,
    FormSubmission,
    Message,
    MessageThread,
    PageComment,
    Registration,
    StepOpening,
    StepSetting,
)

STEP = "/moment/{e}/steg/start/mitt-mal"
FORM = "/moment/{e}/steg/start/mitt-mal/formular/mal"


def rows(app, model, *where):
    """Every row of a model (optionally filtered), read in a fresh session."""
    with app.state.stegvis.db.session() as db:
        return list(db.scalars(select(model).where(*where)))


def test_login_start_page__welcome_contacts_current_modules_and_visible_steps(app, people, anna):
    page = anna.get("/moment", follow_redirects=True)
    assert page.status_code == 200
    assert str(page.url).endswith(f"/moment/{people.enrolment_a}")
    text = page.text
    assert "Välkommen till Testprogrammet!" in text
    assert "0770-72 00 00" in text  # the program's contact
    assert "Välkommen</a>" in text and "Mitt mål</a>" in text
    assert "Mer att läsa" not in text  # upcoming module (and a hidden step)
    assert "Öppnad" not in text
    assert 'lang="sv"' in text


def test_open_step__marks_it_opened_on_the_start_page(app, people, anna):
    e = people.enrolment_a
    assert anna.get(f"/moment/{e}/steg/start/valkommen").status_code == 200
    anna.get(f"/moment/{e}/steg/start/valkommen")
    opened = rows(app, StepOpening)
    assert [(o.module_id, o.step_id, o.times) for o in opened] == [("start", "valkommen", 2)]
    start = anna.get(f"/moment/{e}").text
    assert re.search(r'rt-opened"><a href="/moment/\d+/steg/start/valkommen">Välkommen</a> <span class="rt-tag">Öppnad',
                     start)


def test_step_page__package_content_rewritten_and_sanitised(app, people, anna):
    e = people.enrolment_a
    page = anna.get(f"/moment/{e}/steg/start/valkommen").text
    assert "Det här är ett kort steg." in page
    assert re.search(r'<img src="\.\./\.\./filer/media/bilder/sol\.[0-9a-f]{10}\.svg" alt="En sol över en äng"', page)
    assert 'href="../start/mitt-mal"' in page  # a link to another step
    # A link to a step the patient cannot see yet (an upcoming module) stays in the page, rewritten;
    # following it gives the same 404 as any step she may not open.
    assert 'href="../fordjupning/mer#fler-tankar"' in page
    assert anna.get(f"/moment/{e}/steg/fordjupning/mer").status_code == 404
    assert "<script" not in page.split("</head>")[1]
    image = re.search(r'src="\.\./\.\./(filer/media/bilder/sol\.[0-9a-f]{10}\.svg)"', page).group(1)
    served = anna.get(f"/moment/{e}/{image}")
    assert served.status_code == 200 and served.headers["content-type"].startswith("image/svg+xml")
    assert "sandbox" in served.headers["content-security-policy"]
    film = anna.get(f"/moment/{e}/steg/start/mitt-mal").text
    assert re.search(r'<track kind="captions" src="\.\./\.\./filer/media/film/test\.sv\.[0-9a-f]{10}\.vtt"', film)
    assert 'src="https://film.example.invalid/test.mp4"' in film


def test_hidden_step_and_upcoming_module__not_found(app, people, anna):
    e = people.enrolment_a
    assert anna.get(f"/moment/{e}/steg/fordjupning/mer").status_code == 404
    assert anna.get(f"/moment/{e}/steg/start/finns-inte").status_code == 404


def test_therapist_visibility_override__step_shown_and_hidden(app, people, anna):
    e = people.enrolment_a
    with app.state.stegvis.db.session() as db:
        db.add(StepSetting(enrolment_id=e, module_id="start", step_id="valkommen", visible=False,
                           changed_at=app.state.stegvis.clock.now()))
    assert anna.get(f"/moment/{e}/steg/start/valkommen").status_code == 404
    assert "Välkommen</a>" not in anna.get(f"/moment/{e}").text


def test_form_draft__kept_and_shown_again(app, people, anna):
    e = people.enrolment_a
    response = anna.post(FORM.format(e=e), {"_action": "draft", "namn": "Promenera", "hinder": ["tid", "ork"]})
    assert response.status_code == 303 and "sparat=mal" in response.headers["location"]
    drafts = rows(app, FormDraft)
    assert drafts[0].answers == {"namn": ["Promenera"], "hinder": ["tid", "ork"]}
    page = anna.get(STEP.format(e=e) + "?sparat=mal").text
    assert 'value="Promenera"' in page
    assert 'value="tid" checked' in page and 'value="ork" checked' in page
    assert "Ditt utkast är sparat" in page
    assert rows(app, FormSubmission) == []


def test_form_submit__missing_required_refused_and_draft_kept(app, people, anna):
    e = people.enrolment_a
    response = anna.post(FORM.format(e=e), {"_action": "submit", "namn": "Mitt mål", "roker": "nej"})
    assert response.status_code == 422
    assert "Formuläret skickades inte" in response.text and "Svara på frågan." in response.text
    assert 'aria-invalid="true"' in response.text
    assert rows(app, FormSubmission) == []
    assert rows(app, FormDraft)[0].answers["namn"] == ["Mitt mål"]


def test_form_submit__show_if_enforced_and_score_computed(app, people, anna):
    e = people.enrolment_a
    # antal is only asked when roker == ja: here it is dropped, not stored.
    response = anna.post(FORM.format(e=e), {"_action": "submit", "mal": "Gå 30 minuter om dagen",
                                            "roker": "nej", "antal": "20", "hinder": ["tid", "ork"],
                                            "viktigt": "3", "start": "2026-03-09"})
    assert response.status_code == 303 and "skickat=mal" in response.headers["location"]
    [row] = rows(app, FormSubmission)
    assert row.answers == {"mal": "Gå 30 minuter om dagen", "roker": "nej", "hinder": ["tid", "ork"], "viktigt": 3,
                           "start": "2026-03-09"}
    assert (row.score, row.score_band) == (5.0, "Hög")  # 0 + 1 + 1 + 3
    assert (row.module_id, row.step_id) == ("start", "mitt-mal")
    assert [f.kind for f in rows(app, Flag)] == [FlagKind.form_submitted]
    assert rows(app, FormDraft) == []
    page = anna.get(response.headers["location"].split("#")[0]).text
    assert "Tack! Dina svar är skickade" in page and "Dina inskickade svar (1)" in page
    assert "Hög" not in page  # the score is for the therapist


def test_form_submit__conditional_question_checked_when_shown(app, people, anna):
    e = people.enrolment_a
    response = anna.post(FORM.format(e=e), {"_action": "submit", "mal": "Sluta röka", "roker": "ja", "antal": "200"})
    assert response.status_code == 422 and "Talet får vara högst 100." in response.text
    response = anna.post(FORM.format(e=e), {"_action": "submit", "mal": "Sluta röka", "roker": "ja", "antal": "12"})
    assert response.status_code == 303
    [row] = rows(app, FormSubmission)
    # hinder and viktigt, which score, were shown but not answered: no sum rather than 2 "Låg" (issue 17).
    assert row.answers["antal"] == 12 and row.score is None and row.score_band is None


def test_form_submit__values_outside_the_definition_refused(app, people, anna):
    e = people.enrolment_a
    for bad in ({"roker": "kanske"}, {"hinder": ["pengar"]}, {"viktigt": "9"}, {"start": "9 mars"},
                {"namn": "x" * 81}):
        response = anna.post(FORM.format(e=e), {"_action": "submit", "mal": "Mål", **bad})
        assert response.status_code == 422, bad
    assert rows(app, FormSubmission) == []


def test_page_comment__saved_flagged_and_shown(app, people, anna):
    e = people.enrolment_a
    response = anna.post(FORM.format(e=e) + "/kommentarer", {"body": "Hur menar ni med hinder?"})
    assert response.status_code == 303
    page = anna.get(STEP.format(e=e)).text
    assert "Hur menar ni med hinder?" in page
    assert [f.kind for f in rows(app, Flag)] == [FlagKind.page_comment]
    empty = anna.post(FORM.format(e=e) + "/kommentarer", {"body": "   "})
    assert empty.status_code == 422 and "Skriv en kommentar först." in empty.text
    with app.state.stegvis.db.session() as db:
        db.add(PageComment(enrolment_id=e, form_id="mal", author_id=people.therapist, author_role=AuthorRole.therapist,
                           body="Med hinder menar vi det som stoppar dig.", created_at=app.state.stegvis.clock.now()))
    assert "Med hinder menar vi" in anna.get(STEP.format(e=e)).text
    assert all(c.read_at is not None for c in rows(app, PageComment) if c.author_role == AuthorRole.therapist)


PLAN = "/moment/{e}/aktivitetsplaner/{p}"


def test_plan_page__open_occasion_schedule_and_results(app, people, anna):
    page = anna.get(PLAN.format(e=people.enrolment_a, p=people.plans_a["steg"]))
    assert page.status_code == 200
    assert "Måndag kl. 19.00 och onsdag kl. 19.00, varje vecka." in page.text
    assert 'name="_occasion" value="2026-03-02T18:00:00Z"' in page.text
    assert "2026-02-25T18:00:00Z" not in page.text  # its window closed on 27 February
    assert "Du har inga registreringar än" in page.text


def test_registration__saved_then_shown_as_chart_and_table(app, people, anna):
    e, p = people.enrolment_a, people.plans_a["steg"]
    response = anna.post(PLAN.format(e=e, p=p) + "/registreringar",
                         {"_occasion": "2026-03-02T18:00:00Z", "steg": "8 500", "_comment": "Fint väder"})
    assert response.status_code == 303
    [row] = rows(app, Registration)
    assert row.values == {"steg": 8500} and row.comment == "Fint väder"
    page = anna.get(PLAN.format(e=e, p=p)).text
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page and 'role="img"' in page
    assert "<desc id=" in page and "1 registreringar" in page
    assert "<caption>Dina registreringar</caption>" in page and "8\u00a0500 steg" in page
    assert "Inget tillfälle att registrera just nu." in page


def test_registration__too_early_too_late_twice_and_not_an_occasion(app, people, anna, clock):
    e, p = people.enrolment_a, people.plans_a["steg"]
    url = PLAN.format(e=e, p=p) + "/registreringar"
    early = anna.post(url, {"_occasion": "2026-03-04T18:00:00Z", "steg": "100"})
    assert early.status_code == 422
    assert "för tidigt" in early.text and "från och med onsdag 4 mars 2026" in early.text
    late = anna.post(url, {"_occasion": "2026-02-25T18:00:00Z", "steg": "100"})
    assert late.status_code == 422
    assert "för sent" in late.text and "Sista dagen var fredag 27 februari 2026" in late.text
    assert anna.post(url, {"_occasion": "2026-03-03T18:00:00Z", "steg": "100"}).status_code == 422
    assert anna.post(url, {"_occasion": "2026-03-02T18:00:00Z", "steg": "100"}).status_code == 303
    twice = anna.post(url, {"_occasion": "2026-03-02T18:00:00Z", "steg": "200"})
    assert twice.status_code == 409 and "redan registrerat" in twice.text
    clock.advance(days=2)  # Wednesday: the Monday occasion is still inside its two-day window
    assert anna.post(url, {"_occasion": "2026-03-04T18:00:00Z", "steg": "300"}).headers["location"] == "/logga-in"
    anna.login("anna")  # the session ended after 30 idle minutes
    assert anna.post(url, {"_occasion": "2026-03-04T18:00:00Z", "steg": "300"}).status_code == 303
    assert len(rows(app, Registration)) == 2


def test_registration__invalid_value_and_comment_when_not_allowed(app, people, anna):
    e = people.enrolment_a
    url = PLAN.format(e=e, p=people.plans_a["steg"]) + "/registreringar"
    bad = anna.post(url, {"_occasion": "2026-03-02T18:00:00Z", "steg": "många"})
    assert bad.status_code == 422 and "Skriv ett tal" in bad.text
    with app.state.stegvis.db.session() as db:
        from runtime.models import EnrolmentPlan

        db.get(EnrolmentPlan, people.plans_a["steg"]).allow_comments = False
    refused = anna.post(url, {"_occasion": "2026-03-02T18:00:00Z", "steg": "10", "_comment": "hej"})
    assert refused.status_code == 422
    assert rows(app, Registration) == []


def test_plan_goal__taken_from_the_goal_plan(app, people, anna, clock):
    from datetime import UTC, datetime

    with app.state.stegvis.db.session() as db:
        db.add(Registration(plan_id=people.plans_a["stegmal"], occasion_at=datetime(2026, 2, 23, 8, tzinfo=UTC),
                            values={"mal": 9000}, registered_at=clock.now()))
        # One registration to chart (issue 15: a plan without registrations shows no chart at all).
        db.add(Registration(plan_id=people.plans_a["steg"], occasion_at=datetime(2026, 2, 23, 18, tzinfo=UTC),
                            values={"steg": 5000}, registered_at=clock.now()))
    page = anna.get(PLAN.format(e=people.enrolment_a, p=people.plans_a["steg"])).text
    assert "Ditt mål: 9\u00a0000 steg." in page and "Mål 9" in page


def test_messages__new_thread_reply_unread_marks_and_read_receipts(app, people, anna):
    e = people.enrolment_a
    now = app.state.stegvis.clock.now()
    with app.state.stegvis.db.session() as db:
        thread = MessageThread(enrolment_id=e, subject="Hej från vården", created_by=people.therapist,
                               created_at=now, last_message_at=now)
        db.add(thread)
        db.flush()
        db.add(Message(thread_id=thread.id, sender_id=people.therapist, sender_role=AuthorRole.therapist,
                       body="Hur går det?", created_at=now))
        thread_id = thread.id
    start = anna.get(f"/moment/{e}").text
    assert "1 oläst" in start
    inbox = anna.get(f"/moment/{e}/meddelanden").text
    assert "rt-unread" in inbox and "Hej från vården" in inbox
    page = anna.get(f"/moment/{e}/meddelanden/{thread_id}").text
    assert "Hur går det?" in page
    assert rows(app, Message)[0].read_at is not None  # the therapist's read receipt
    assert "oläst" not in anna.get(f"/moment/{e}/meddelanden").text
    reply = anna.post(f"/moment/{e}/meddelanden/{thread_id}", {"body": "Bra, tack!"})
    assert reply.status_code == 303
    new = anna.post(f"/moment/{e}/meddelanden", {"subject": "En fråga", "body": "Får jag cykla i stället?"})
    assert new.status_code == 303
    assert anna.get(new.headers["location"].split("#")[0]).status_code == 200
    assert sorted(f.kind for f in rows(app, Flag)) == [FlagKind.message, FlagKind.message]
    empty = anna.post(f"/moment/{e}/meddelanden", {"subject": "", "body": "x"})
    assert empty.status_code == 422 and "Skriv ett ämne först." in empty.text


def test_logout__session_ends(app, people, anna):
    e = people.enrolment_a
    assert anna.post("/logga-ut").status_code == 200
    assert anna.get(f"/moment/{e}").status_code == 303  # to the login page


def test_access_log__one_row_per_patient_data_request(app, people, anna):
    e = people.enrolment_a
    before = len(rows(app, AccessLogEntry))
    anna.get(f"/moment/{e}")
    anna.get(f"/moment/{e}/steg/start/valkommen")
    anna.post(FORM.format(e=e), {"_action": "draft", "namn": "x"})
    anna.get(f"/moment/{e}/meddelanden")
    log = rows(app, AccessLogEntry)[before:]
    assert [r.action for r in log] == ["enrolment.read", "step.open", "form.draft.save", "inbox.read"]
    assert all(r.actor_id == people.patient_a and r.patient_id == people.patient_a and r.enrolment_id == e
               and r.unit_id == people.unit and r.actor_role == "patient" for r in log)


# --- the JSON API --------------------------------------------------------------------------------


def test_api__overview_open_step_and_form_round_trip(app, people, anna):
    e = people.enrolment_a
    overview = anna.get(f"/api/v1/enrolments/{e}").json()
    assert overview["program_id"] == "testprogram" and overview["can_write"] is True
    steps = [s["id"] for m in overview["modules"] for sec in m["sections"] for s in sec["steps"]]
    assert steps == ["valkommen", "mitt-mal"]
    opened = anna.api("POST", f"/api/v1/enrolments/{e}/steps/start/valkommen/open")
    assert opened.status_code == 200 and opened.json()["opened"] is True
    draft = anna.api("PUT", f"/api/v1/enrolments/{e}/forms/mal/draft", {"answers": {"namn": "Cykla"}})
    assert draft.status_code == 200 and draft.json()["answers"] == {"namn": ["Cykla"]}
    missing = anna.api("POST", f"/api/v1/enrolments/{e}/forms/mal/submissions", {"answers": {"roker": "ja"}})
    assert missing.status_code == 422 and set(missing.json()["errors"]) == {"mal"}
    ok = anna.api("POST", f"/api/v1/enrolments/{e}/forms/mal/submissions",
                  {"answers": {"mal": "Cykla till jobbet", "roker": "ja", "antal": 5, "hinder": ["tid"]}})
    assert ok.status_code == 201 and "score" not in ok.json()
    state = anna.get(f"/api/v1/enrolments/{e}/forms/mal").json()
    assert state["draft"] is None and len(state["submissions"]) == 1 and state["step"] == "start/mitt-mal"
    comment = anna.api("POST", f"/api/v1/enrolments/{e}/forms/mal/comments", {"body": "En fråga"})
    assert comment.status_code == 201


def test_api__plan_registration_and_messages(app, people, anna):
    e, p = people.enrolment_a, people.plans_a["steg"]
    plan = anna.get(f"/api/v1/enrolments/{e}/plans/{p}").json()
    assert [o["occasion_at"] for o in plan["open_occasions"]] == ["2026-03-02T18:00:00Z"]
    created = anna.api("POST", f"/api/v1/enrolments/{e}/plans/{p}/registrations",
                       {"occasion_at": "2026-03-02T18:00:00Z", "values": {"steg": 4000}, "comment": "Regn"})
    assert created.status_code == 201
    late = anna.api("POST", f"/api/v1/enrolments/{e}/plans/{p}/registrations",
                    {"occasion_at": "2026-02-23T18:00:00Z", "values": {"steg": 1}})
    assert late.status_code == 422 and "för sent" in late.json()["detail"]
    thread = anna.api("POST", f"/api/v1/enrolments/{e}/threads", {"subject": "Fråga", "body": "Hej!"})
    assert thread.status_code == 201
    tid = thread.json()["id"]
    assert anna.api("POST", f"/api/v1/enrolments/{e}/threads/{tid}/messages", {"body": "Igen"}).status_code == 201
    listed = anna.get(f"/api/v1/enrolments/{e}/threads").json()
    assert listed[0]["count"] == 2 and listed[0]["unread"] == 0


def test_api__openapi_schema_describes_the_patient_calls(app):
    from fastapi.testclient import TestClient

    schema = TestClient(app, base_url="https://testserver").get("/api/openapi.json").json()
    paths = schema["paths"]
    assert "/api/v1/enrolments/{eid}/forms/{form_id}/submissions" in paths
    assert "/api/v1/enrolments/{eid}/plans/{plan_pk}/registrations" in paths
    assert not any(p.startswith("/moment") for p in paths)
