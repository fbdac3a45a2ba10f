"""Issue #9: maintenance, ending, links, therapist change and handover ("Hantera"), and what the patient meets.

Requirements: maintenance (a number of days, the modules kept; writing closed: the
server refuses forms, page comments, messages and registrations, the pages say why;
after the days the patient cannot log in) and ending (with a reason) are both
confirmed and irreversible; links between a patient's enrolments; a citizen
administrator changes therapist and hands an enrolment over to another unit, which
then sees it while the giving unit gets 404. Every action is refused for the wrong
role and for another unit, and on an ended enrolment.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from runtime.enrolments import create_enrolment
from runtime.models import (
    AuthorRole,
    Base,
    Enrolment,
    EnrolmentEvent,
    EnrolmentStatus,
    EventKind,
    Flag,
    FlagKind,
    Message,
    MessageThread,
    ModuleState,
    Unit,
    User,
)

MAL = "/moment/{e}/steg/start/mitt-mal/formular/mal"
ANSWERS = {"_action": "submit", "mal": "Gå mer", "roker": "nej", "viktigt": "3"}


def session(app):
    return app.state.stegvis.db.session()


def status_of(app, eid: int) -> EnrolmentStatus:
    with session(app) as db:
        return db.get(Enrolment, eid).status


def events(app, eid: int) -> list[tuple[EventKind, str]]:
    with session(app) as db:
        return [(e.kind, e.detail) for e in db.scalars(select(EnrolmentEvent).where(EnrolmentEvent.enrolment_id == eid)
                                                      .order_by(EnrolmentEvent.id))]


def counts(app) -> dict[str, int]:
    with session(app) as db:
        return {t.name: db.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables
                if t.name not in ("access_log", "sessions", "login_throttle", "oidc_pending_logins", "oidc_session_tokens")}


def maintain(browser, eid: int, days: str = "30", modules=("start",), sure: bool = True):
    data = {"dagar": days, "moduler": list(modules)}
    if sure:
        data["bekrafta"] = "ja"
    return browser.post(f"/personal/moment/{eid}/vidmakthall", data)


def end(browser, eid: int, reason: str = "genomford", text: str = "", sure: bool = True):
    data = {"orsak": reason, "orsak-text": text}
    if sure:
        data["bekrafta"] = "ja"
    return browser.post(f"/personal/moment/{eid}/avsluta", data)


def second_enrolment(app, people, patient_id: int | None = None) -> int:
    """Another enrolment of patient A (or another patient) in the unit, with Tove as therapist."""
    state = app.state.stegvis
    with session(app) as db:
        e = create_enrolment(db, db.get(User, patient_id or people.patient_a), db.get(Unit, people.unit),
                             state.store.get("testprogram", "0.1.0"), state.clock.now(),
                             therapist=db.get(User, people.therapist))
        return e.id


def thread_for(app, eid: int, therapist_id: int) -> int:
    now = app.state.stegvis.clock.now()
    with session(app) as db:
        thread = MessageThread(enrolment_id=eid, subject="Hej", created_by=therapist_id, created_at=now,
                               last_message_at=now)
        db.add(thread)
        db.flush()
        db.add(Message(thread_id=thread.id, sender_id=therapist_id, sender_role=AuthorRole.therapist, body="Hej!",
                       created_at=now))
        return thread.id


# --- maintenance ---------------------------------------------------------------------------------


def test_maintenance__days_modules_status_and_event(app, people, login_as):
    e = people.enrolment_a
    tove = login_as("tove")
    page = tove.get(f"/personal/moment/{e}/hantera")
    assert page.status_code == 200
    assert 'id="modul-start" name="moduler" value="start" checked' in page.text  # the current module is preselected
    assert 'id="modul-fordjupning" name="moduler" value="fordjupning">' in page.text
    done = maintain(tove, e, "30", ["start", "fordjupning"])
    assert done.status_code == 303 and done.headers["location"].endswith("?klart=vidmakthall")
    with session(app) as db:
        row = db.get(Enrolment, e)
        assert row.status == EnrolmentStatus.maintenance
        assert row.maintenance_until == date(2026, 4, 1)  # local today (2 March) + 30 days
        assert {m.module_id: (m.state, m.in_maintenance) for m in row.modules} == {
            "start": (ModuleState.current, True), "fordjupning": (ModuleState.current, True)}
    assert events(app, e)[-1] == (EventKind.maintenance, "Vidmakthållande i 30 dagar, till och med 2026-04-01. "
                                                         "Moduler kvar: Start, Fördjupning.")
    page = tove.get(done.headers["location"])
    assert "Vidmakthålls till och med 2026-04-01 (30 dagar kvar)" in page.text
    assert "Starta vidmakthållande" not in page.text


def test_maintenance__only_the_kept_modules_stay_readable(app, people, login_as, anna):
    e = people.enrolment_a
    tove = login_as("tove")
    tove.post(f"/personal/moment/{e}/anpassa", {"_section": "innehall", "modul:fordjupning": "aktuell",
                                                "steg:fordjupning/mer": "synligt"})
    assert maintain(tove, e, "10", ["fordjupning"]).status_code == 303
    start = anna.get(f"/moment/{e}")
    assert "steg/fordjupning/mer" in start.text and "steg/start/mitt-mal" not in start.text
    assert anna.get(f"/moment/{e}/steg/start/mitt-mal").status_code == 404


@pytest.mark.parametrize("fields, message", [
    ({"days": "0"}, "Skriv antal dagar som en siffra från 1 till 730."),
    ({"days": "731"}, "Skriv antal dagar som en siffra från 1 till 730."),
    ({"days": "tre"}, "Skriv antal dagar som en siffra från 1 till 730."),
    ({"modules": ()}, "Välj minst en modul som patienten ska ha kvar."),
    ({"modules": ("start", "okand")}, "Välj bland programmets moduler."),
    ({"sure": False}, "Kryssa i att du förstår att det inte går att ångra."),
])
def test_maintenance__bad_input__refused_and_nothing_changes(app, people, login_as, fields, message):
    before = counts(app)
    page = maintain(login_as("tove"), people.enrolment_a, **fields)
    assert page.status_code == 422 and message in page.text
    assert 'class="rt-error-summary"' in page.text
    assert status_of(app, people.enrolment_a) == EnrolmentStatus.active
    assert counts(app) == before


def test_maintenance_and_end__irreversible(app, people, login_as):
    e = people.enrolment_a
    tove = login_as("tove")
    assert maintain(tove, e).status_code == 303
    again = maintain(tove, e, "100")
    assert again.status_code == 409 and "Vidmakthållandet går inte att ändra eller ångra" in again.text
    with session(app) as db:
        assert db.get(Enrolment, e).maintenance_until == date(2026, 4, 1)
    assert end(tove, e).status_code == 303  # ending a maintained enrolment is the way on
    assert status_of(app, e) == EnrolmentStatus.ended
    second = end(tove, e, "avbrot")
    assert second.status_code == 409 and "Momentet är redan avslutat. Det går inte att ångra." in second.text
    assert maintain(tove, e).status_code == 409
    with session(app) as db:
        row = db.get(Enrolment, e)
        assert (row.status, row.end_reason) == (EnrolmentStatus.ended, "Behandlingen är genomförd")
    # No form, route or call leads back: the page offers nothing, customising is refused.
    page = tove.get(f"/personal/moment/{e}/hantera")
    assert "Det går inte att ändra ett avslutat moment" in page.text
    assert "/vidmakthall" not in page.text and "/avsluta" not in page.text
    assert tove.api("PATCH", f"/api/v1/staff/enrolments/{e}", {"modules": {"start": "current"}}).status_code == 409
    assert status_of(app, e) == EnrolmentStatus.ended
    kinds = [k for k, _ in events(app, e)]
    assert kinds == [EventKind.maintenance, EventKind.ended]


def test_maintenance__writing_closed_for_the_patient(app, people, login_as, anna):
    e = people.enrolment_a
    thread = thread_for(app, e, people.therapist)
    assert maintain(login_as("tove"), e).status_code == 303
    before = counts(app)
    plan = people.plans_a["steg"]
    refused = [
        anna.post(MAL.format(e=e), ANSWERS),
        anna.post(MAL.format(e=e), {**ANSWERS, "_action": "draft"}),
        anna.post(MAL.format(e=e) + "/kommentarer", {"body": "En fråga"}),
        anna.post(f"/moment/{e}/meddelanden", {"subject": "Hej", "body": "Hej"}),
        anna.post(f"/moment/{e}/meddelanden/{thread}", {"body": "Svar"}),
        anna.post(f"/moment/{e}/aktivitetsplaner/{plan}/registreringar",
                  {"_occasion": "2026-02-25T18:00:00Z", "steg": "5000"}),
        anna.api("POST", f"/api/v1/enrolments/{e}/forms/mal/submissions", {"answers": {"mal": "x"}}),
        anna.api("POST", f"/api/v1/enrolments/{e}/forms/mal/comments", {"body": "x"}),
        anna.api("POST", f"/api/v1/enrolments/{e}/threads", {"subject": "x", "body": "x"}),
        anna.api("POST", f"/api/v1/enrolments/{e}/threads/{thread}/messages", {"body": "x"}),
        anna.api("POST", f"/api/v1/enrolments/{e}/plans/{plan}/registrations",
                 {"occasion_at": "2026-02-25T18:00:00Z", "values": {"steg": 1}}),
    ]
    for response in refused:
        assert response.status_code == 403, (response.request.url, response.text[:200])
        assert "vidmakthållande" in response.text
    assert counts(app) == before
    # The pages say why, and offer no form, comment box or message button.
    step = anna.get(f"/moment/{e}/steg/start/mitt-mal")
    assert step.status_code == 200
    assert "Programmet är i vidmakthållande till och med onsdag 1 april 2026" in step.text
    assert "Formuläret är stängt under vidmakthållandet" in step.text
    assert "Kommentarer är stängda under vidmakthållandet." in step.text
    assert 'action="mitt-mal/formular/mal' not in step.text and "Skicka kommentar" not in step.text
    inbox = anna.get(f"/moment/{e}/meddelanden")
    assert "Meddelanden är stängda under vidmakthållandet" in inbox.text and "meddelanden/nytt" not in inbox.text
    assert anna.get(f"/moment/{e}/meddelanden/nytt").headers["location"] == f"/moment/{e}/meddelanden"
    assert "Meddelanden är stängda under vidmakthållandet" in anna.get(f"/moment/{e}/meddelanden/{thread}").text
    plan_page = anna.get(f"/moment/{e}/aktivitetsplaner/{plan}")
    assert "Registreringen är stängd under vidmakthållandet" in plan_page.text
    assert "registreringar" not in plan_page.text.split("Registreringen är stängd")[1].split("</section>")[0]


def test_maintenance__login_refused_after_the_days(app, people, login_as, clock):
    from conftest import Browser

    e = people.enrolment_a
    assert maintain(login_as("tove"), e, "3").status_code == 303
    assert login_as("anna").get(f"/moment/{e}").status_code == 200  # within the days: logging in and reading work
    clock.set(datetime(2026, 3, 5, 22, 50, tzinfo=UTC))  # 23.50 in Stockholm on the last day
    anna = login_as("anna")
    assert anna.get(f"/moment/{e}").status_code == 200
    clock.advance(minutes=15)  # past midnight: the days are over, the session is still alive
    fresh = Browser(app)
    try:
        refused = fresh.login("anna")
        assert refused.status_code == 403
        assert "Ditt program är avslutat: tiden för vidmakthållande är slut" in refused.text
        api = fresh.client.post("/api/v1/session", json={"username": "anna", "password": "losen-ord-123"})
        assert api.status_code == 403 and "Ditt program är avslutat" in api.json()["detail"]
        assert fresh.client.get("/api/v1/session").status_code == 401  # no session was started
    finally:
        fresh.close()
    # A session from before the days passed opens nothing and says why.
    listing = anna.get("/moment")
    assert listing.status_code == 200 and "tiden för vidmakthållande är slut" in listing.text
    assert anna.get(f"/moment/{e}").status_code == 403
    assert anna.get("/api/v1/enrolments").json() == []


def test_end__login_refused_when_every_enrolment_has_ended(app, people, login_as):
    from conftest import Browser

    e = people.enrolment_a
    other = second_enrolment(app, people)
    tove = login_as("tove")
    assert end(tove, e).status_code == 303
    assert login_as("anna").get("/moment").headers["location"] == f"/moment/{other}"  # one left: still in
    assert end(tove, other, "annat", "Flyttar utomlands").status_code == 303
    fresh = Browser(app)
    try:
        refused = fresh.login("anna")
        assert refused.status_code == 403 and "Ditt program är avslutat, så du kan inte längre logga in." in refused.text
    finally:
        fresh.close()
    assert Browser(app).login("bertil").status_code == 303  # other patients are not affected


@pytest.mark.parametrize("reason, text, sure, message", [
    ("", "", True, "Välj en orsak till att momentet avslutas."),
    ("okand", "", True, "Välj en orsak till att momentet avslutas."),
    ("annat", "  ", True, "Beskriv orsaken när du väljer Annat."),
    ("genomford", "x" * 501, True, "Beskrivningen får vara högst 500 tecken."),
    ("genomford", "", False, "Kryssa i att du förstår att det inte går att ångra."),
])
def test_end__reason_and_confirmation_required(app, people, login_as, reason, text, sure, message):
    page = end(login_as("tove"), people.enrolment_a, reason, text, sure)
    assert page.status_code == 422 and message in page.text
    assert status_of(app, people.enrolment_a) == EnrolmentStatus.active


def test_end__reason_recorded_with_who_and_when(app, people, login_as, clock):
    e = people.enrolment_a
    done = end(login_as("cissi"), e, "annat", " Byter  till fysiskt stöd ")
    assert done.status_code == 303
    with session(app) as db:
        row = db.get(Enrolment, e)
        assert (row.status, row.ended_at, row.ended_by, row.end_reason) == (
            EnrolmentStatus.ended, clock.now(), people.citizen_admin, "Annat: Byter till fysiskt stöd")
    assert events(app, e)[-1] == (EventKind.ended, "Avslutat. Orsak: Annat: Byter till fysiskt stöd.")
    page = login_as("tove").get(f"/personal/moment/{e}/hantera")
    assert "Avslutat 2026-03-02 av Cissi Invånaradmin. Orsak: Annat: Byter till fysiskt stöd" in page.text


# --- links, therapist, handover ------------------------------------------------------------------


def test_link__two_enrolments_of_the_patient_linked_and_unlinked(app, people, login_as):
    e = people.enrolment_a
    other = second_enrolment(app, people)
    tove = login_as("tove")
    page = tove.get(f"/personal/moment/{e}/hantera")
    assert f'<option value="{other}">' in page.text
    assert f'<option value="{people.enrolment_b}">' not in page.text  # another patient's enrolment
    wrong = tove.post(f"/personal/moment/{e}/lanka", {"moment": str(people.enrolment_b)})
    assert wrong.status_code == 422 and "Välj ett av patientens andra pågående moment" in wrong.text
    assert tove.post(f"/personal/moment/{e}/lanka", {"moment": "abc"}).status_code == 422
    assert tove.post(f"/personal/moment/{e}/lanka", {"moment": str(other)}).status_code == 303
    with session(app) as db:
        assert db.get(Enrolment, e).linked_to_id == other
    for one, two in ((e, other), (other, e)):
        shown = tove.get(f"/personal/moment/{one}/hantera").text
        assert f'<a href="/personal/moment/{two}">Testprogrammet (startat 2026-03-02)</a>' in shown
        assert events(app, one)[-1][0] == EventKind.linked
    assert tove.post(f"/personal/moment/{other}/lanka", {"moment": str(e)}).status_code == 422  # already linked
    assert tove.post(f"/personal/moment/{other}/lanka/ta-bort", {"moment": str(e)}).status_code == 303
    with session(app) as db:
        assert db.get(Enrolment, e).linked_to_id is None
    assert events(app, e)[-1][0] == EventKind.unlinked and events(app, other)[-1][0] == EventKind.unlinked
    assert tove.post(f"/personal/moment/{e}/lanka/ta-bort", {"moment": str(other)}).status_code == 422


def test_therapist_change__citizen_admin_only_among_the_units_therapists(app, people, login_as):
    e = people.enrolment_a
    assert login_as("tove").post(f"/personal/moment/{e}/behandlare",
                                 {"behandlare": str(people.colleague)}).status_code == 403
    cissi = login_as("cissi")
    page = cissi.get(f"/personal/moment/{e}/hantera")
    assert f'<option value="{people.colleague}">Tim Kollega</option>' in page.text
    assert f'<option value="{people.therapist}">' not in page.text.split('id="behandlare"')[1].split("</select>")[0]
    for bad in (str(people.other_therapist), str(people.data_admin), "x"):
        refused = cissi.post(f"/personal/moment/{e}/behandlare", {"behandlare": bad})
        assert refused.status_code == 422 and "Välj en behandlare på vårdenheten." in refused.text
    same = cissi.post(f"/personal/moment/{e}/behandlare", {"behandlare": str(people.therapist)})
    assert same.status_code == 422 and "Tove Test är redan behandlare" in same.text
    assert cissi.post(f"/personal/moment/{e}/behandlare", {"behandlare": str(people.colleague)}).status_code == 303
    with session(app) as db:
        assert db.get(Enrolment, e).therapist_id == people.colleague
    assert events(app, e)[-1] == (EventKind.therapist_changed, "Behandlare: Tove Test → Tim Kollega.")
    # Tove is no longer its therapist: she may read it but not change it.
    tove = login_as("tove")
    assert tove.post(f"/personal/moment/{e}/anpassa", {"_section": "valkomst", "welcome_text": "x"}).status_code == 403


def test_handover__receiving_unit_sees_it_giving_unit_gets_404(app, people, login_as):
    e = people.enrolment_a
    other = second_enrolment(app, people)
    tove = login_as("tove")
    tove.post(f"/personal/moment/{e}/lanka", {"moment": str(other)})
    now = app.state.stegvis.clock.now()
    with session(app) as db:
        db.add(Flag(enrolment_id=e, kind=FlagKind.message, ref_type="message", ref_id=1, created_at=now))
    cissi = login_as("cissi")
    unconfirmed = cissi.post(f"/personal/moment/{e}/overlamna", {"enhet": str(people.other_unit)})
    assert unconfirmed.status_code == 422 and "Kryssa i att du förstår" in unconfirmed.text
    own = cissi.post(f"/personal/moment/{e}/overlamna", {"enhet": str(people.unit), "bekrafta": "ja"})
    assert own.status_code == 422 and "Välj vårdenheten som ska ta emot momentet." in own.text
    done = cissi.post(f"/personal/moment/{e}/overlamna", {"enhet": str(people.other_unit), "bekrafta": "ja"})
    assert done.status_code == 303 and done.headers["location"] == f"/personal/overlamnat?enhet={people.other_unit}"
    receipt = cissi.get(done.headers["location"])
    assert receipt.status_code == 200 and "Momentet är överlämnat till Annan enhet." in receipt.text
    assert "Anna Test" not in receipt.text
    with session(app) as db:
        row = db.get(Enrolment, e)
        assert (row.unit_id, row.therapist_id, row.linked_to_id) == (people.other_unit, None, None)
        assert db.get(Enrolment, other).linked_to_id is None
        assert db.scalar(select(func.count()).select_from(Flag).where(Flag.enrolment_id == e,
                                                                      Flag.hidden_at.is_(None))) == 1
    assert events(app, e)[-1] == (EventKind.handed_over, "Överlämnat från Hälsocentralen Test till Annan enhet. "
                                                         "Den mottagande vårdenheten väljer behandlare.")
    for browser in (cissi, tove):
        assert browser.get(f"/personal/moment/{e}/hantera").status_code == 404
        assert browser.get(f"/personal/moment/{e}/anpassa").status_code == 404
    olle = login_as("olle")
    page = olle.get(f"/personal/moment/{e}/hantera")
    assert page.status_code == 200 and "Ingen – en invånaradministratör väljer behandlare." in page.text
    assert f"/personal/moment/{other}" not in page.text  # the giving unit's enrolment is not named


# --- who may do what -----------------------------------------------------------------------------

# Bodies that pass the policy but not the checks (no confirmation, no such id), so nothing changes:
# an allowed role gets 422, a refused one 403 or 404; on an ended enrolment everyone allowed gets 409.
ACTIONS = {
    "vidmakthall": {"dagar": "30", "moduler": "start"},
    "avsluta": {"orsak": "genomford"},
    "lanka": {"moment": "0"},
    "behandlare": {"behandlare": "0"},
    "overlamna": {"enhet": "0", "bekrafta": "ja"},
    "version": {"version": "9.9.9"},
}
# Expected answer per (user, action): 403 the role does not allow it, 404 nothing to see, else 422 (allowed).
EXPECTED = {
    "tim": {"vidmakthall": 403, "avsluta": 403, "lanka": 403, "behandlare": 403, "overlamna": 403, "version": 403},
    "tove": {"behandlare": 403, "overlamna": 403},
    "cissi": {},
    "agnes": dict.fromkeys(ACTIONS, 404),
    "dan": dict.fromkeys(ACTIONS, 404),
    "olle": dict.fromkeys(ACTIONS, 404),
    "anna": dict.fromkeys(ACTIONS, 403),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_every_action__refused_for_the_wrong_role_and_another_unit(app, people, login_as, name):
    e = people.enrolment_a
    browser = login_as(name)
    before = counts(app)
    for action, data in ACTIONS.items():
        response = browser.post(f"/personal/moment/{e}/{action}", data)
        assert response.status_code == EXPECTED[name].get(action, 422), (name, action, response.status_code)
    assert counts(app) == before
    assert status_of(app, e) == EnrolmentStatus.active
    page = browser.get(f"/personal/moment/{e}/hantera")
    assert page.status_code == {"agnes": 404, "dan": 404, "olle": 404, "anna": 403}.get(name, 200)


def test_manage_page__actions_the_role_lacks_are_explained(app, people, login_as):
    page = login_as("tim").get(f"/personal/moment/{people.enrolment_a}/hantera")
    assert "Bara patientens behandlare eller en invånaradministratör kan göra det här." in page.text
    assert "Bara en invånaradministratör kan byta behandlare." in page.text
    assert "Bara en invånaradministratör kan lämna över ett moment." in page.text
    assert "/vidmakthall" not in page.text and "/overlamna" not in page.text


@pytest.mark.parametrize("action", list(ACTIONS))
def test_every_action__refused_on_an_ended_enrolment(app, people, login_as, action):
    e = people.enrolment_a
    with session(app) as db:
        db.get(Enrolment, e).status = EnrolmentStatus.ended
    before = counts(app)
    data = {**ACTIONS[action], "bekrafta": "ja"}
    response = login_as("cissi").post(f"/personal/moment/{e}/{action}", data)
    assert response.status_code == 409 and "avslutat" in response.text
    assert counts(app) == before and status_of(app, e) == EnrolmentStatus.ended


def test_unlink_and_handover_receipt__refused_like_the_rest(app, people, login_as):
    e = people.enrolment_a
    assert login_as("tim").post(f"/personal/moment/{e}/lanka/ta-bort", {"moment": "1"}).status_code == 403
    assert login_as("olle").post(f"/personal/moment/{e}/lanka/ta-bort", {"moment": "1"}).status_code == 404
    assert login_as("anna").get("/personal/overlamnat?enhet=1").status_code == 403
    assert login_as("tove").get("/personal/overlamnat?enhet=1").status_code == 403


def test_maintenance_over__page_says_to_end_it(app, people, login_as, clock):
    e = people.enrolment_a
    maintain(login_as("tove"), e, "2")
    clock.advance(days=3)
    page = login_as("tove").get(f"/personal/moment/{e}/hantera")
    assert "tiden är slut: patienten kan inte logga in; avsluta momentet" in page.text
