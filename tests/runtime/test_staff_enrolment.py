"""Issue #9: starting, customising and previewing an enrolment (staff pages and the API's shared service).

Requirements: start an enrolment for a personnummer or samordningsnummer (clear
messages for a wrong check digit or date) in a served program version; the starter
becomes the therapist, a citizen administrator chooses one; a warning (not a
refusal) for a second ongoing enrolment in the same program; customise the welcome
text, contacts, modules and steps; preview as the patient sees it. Every action is
refused for the wrong role (403) and another unit (404), and recorded as an event
and an access-log row.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from runtime.models import (
    AccessLogEntry,
    AuthorRole,
    Base,
    Contact,
    Enrolment,
    EnrolmentEvent,
    EnrolmentModule,
    EnrolmentStatus,
    EventKind,
    ModuleState,
    StepOpening,
    StepSetting,
    User,
)

NEW_PNR = "198112189876"


def session(app):
    return app.state.stegvis.db.session()


def events(app, eid: int) -> list[tuple[EventKind, str]]:
    with session(app) as db:
        return [(e.kind, e.detail) for e in db.scalars(select(EnrolmentEvent).where(EnrolmentEvent.enrolment_id == eid)
                                                      .order_by(EnrolmentEvent.id))]


def counts(app) -> dict[str, int]:
    with session(app) as db:
        return {t.name: db.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables
                if t.name not in ("access_log", "sessions", "login_throttle", "oidc_pending_logins", "oidc_session_tokens")}


def log_actions(app, eid: int | None = None) -> list[str]:
    with session(app) as db:
        q = select(AccessLogEntry.action).order_by(AccessLogEntry.id)
        if eid is not None:
            q = q.where(AccessLogEntry.enrolment_id == eid)
        return list(db.scalars(q))


def start_form(**fields) -> dict:
    return {"personal_number": NEW_PNR, "display_name": "Cecilia Ny", "package": "testprogram/0.1.0", **fields}


# --- starting ------------------------------------------------------------------------------------


def test_start_page__served_version_preselected_and_starter_becomes_therapist(app, people, login_as):
    page = login_as("tove").get("/personal/moment/nytt")
    assert page.status_code == 200
    assert '<option value="testprogram/0.1.0" selected>Testprogrammet 0.1.0 (senaste)</option>' in page.text
    assert 'name="therapist"' not in page.text and "Du blir behandlare för momentet." in page.text
    assert '<label for="personal_number">' in page.text


def test_start__new_patient_with_notice_details__enrolment_event_and_log(app, people, login_as):
    tove = login_as("tove")
    started = tove.post("/personal/moment/nytt", start_form(email=" cecilia@exempel.se ", phone="070-123 45 67"))
    assert started.status_code == 303
    location = started.headers["location"]
    eid = int(re.fullmatch(r"/personal/moment/(\d+)/anpassa\?startat=1", location).group(1))
    with session(app) as db:
        e = db.get(Enrolment, eid)
        patient = db.get(User, e.patient_id)
        assert (patient.display_name, patient.personal_number, patient.email, patient.phone) == (
            "Cecilia Ny", NEW_PNR, "cecilia@exempel.se", "+46701234567")
        assert (e.therapist_id, e.started_by, e.unit_id, e.program_version, e.status) == (
            people.therapist, people.therapist, people.unit, "0.1.0", EnrolmentStatus.active)
        assert {m.module_id: m.state for m in e.modules} == {"start": ModuleState.current,
                                                            "fordjupning": ModuleState.upcoming}
    assert events(app, eid) == [(EventKind.started, "Startat i Testprogrammet 0.1.0. Behandlare: Tove Test.")]
    assert "enrolment.create" in log_actions(app, eid)
    page = tove.get(location)
    assert page.status_code == 200 and "Momentet är startat" in page.text
    assert NEW_PNR not in " ".join(d for _, d in events(app, eid))


@pytest.mark.parametrize("number, message", [
    ("19121212-1213", "kontrollsiffran (den sista siffran) stämmer inte"),
    ("19130230-1234", "datumet i 19130230 finns inte"),
    ("19701393-2391", "I ett samordningsnummer är dagen födelsedagen plus 60"),
    ("19121245-1212", "dagen i 19121245 finns inte"),
    ("20991212-1212", "har inte inträffat än"),
    ("1212", "Skriv personnumret med 12 siffror"),
    ("", "Skriv personnumret eller samordningsnumret"),
])
def test_start__bad_personnummer__swedish_message_linked_to_the_field(app, people, login_as, number, message):
    before = counts(app)
    page = login_as("tove").post("/personal/moment/nytt", start_form(personal_number=number))
    assert page.status_code == 422
    assert message in page.text
    assert '<a href="#personal_number">' in page.text and 'aria-invalid="true"' in page.text
    assert f'value="{number}"' in page.text  # what was typed stays in the field
    assert counts(app) == before


def test_start__every_problem_reported_at_once(app, people, login_as):
    page = login_as("tove").post("/personal/moment/nytt", start_form(display_name="", email="inte-en-adress",
                                                                     phone="0920-123 45"))
    assert page.status_code == 422
    for text in ("Skriv patientens namn", "Skriv en giltig e-postadress", "Det ser inte ut som ett svenskt mobilnummer"):
        assert text in page.text
    assert "Rätta 3 uppgifter" in page.text


def test_start__unknown_program_version__refused(app, people, login_as):
    before = counts(app)
    page = login_as("tove").post("/personal/moment/nytt", start_form(package="testprogram/9.9.9"))
    assert page.status_code == 422 and "Välj ett program och en version som lämnas ut." in page.text
    assert counts(app) == before


def test_start__ongoing_enrolment_in_program__warned_then_started_when_confirmed(app, people, login_as):
    tove = login_as("tove")
    before = counts(app)
    warned = tove.post("/personal/moment/nytt", start_form(personal_number="19121212-1212", display_name="Fel Namn"))
    assert warned.status_code == 409
    assert "Patienten har redan ett pågående moment i Testprogrammet" in warned.text
    assert f'href="/personal/moment/{people.enrolment_a}"' in warned.text
    assert 'name="duplicate_ok"' in warned.text
    assert counts(app) == before
    started = tove.post("/personal/moment/nytt", start_form(personal_number="19121212-1212", display_name="Fel Namn",
                                                            duplicate_ok="ja"))
    assert started.status_code == 303 and started.headers["location"].endswith("?startat=namn")
    with session(app) as db:
        assert db.get(User, people.patient_a).display_name == "Anna Test"  # the person's name is not replaced
        assert db.scalar(select(func.count()).select_from(Enrolment)
                         .where(Enrolment.patient_id == people.patient_a)) == 2
    assert "som Anna Test" in tove.get(started.headers["location"]).text


def test_start__citizen_admin_chooses_among_the_units_therapists(app, people, login_as):
    cissi = login_as("cissi")
    page = cissi.get("/personal/moment/nytt")
    assert '<option value="">Välj behandlare</option>' in page.text
    assert f'<option value="{people.therapist}">Tove Test</option>' in page.text
    assert f'<option value="{people.colleague}">Tim Kollega</option>' in page.text
    assert "Olle Annan" not in page.text
    missing = cissi.post("/personal/moment/nytt", start_form())
    assert missing.status_code == 422 and "Välj patientens behandlare." in missing.text
    other_unit = cissi.post("/personal/moment/nytt", start_form(therapist=str(people.other_therapist)))
    assert other_unit.status_code == 422 and "Välj en behandlare på vårdenheten." in other_unit.text
    assert cissi.post("/personal/moment/nytt", start_form(therapist="x")).status_code == 422
    started = cissi.post("/personal/moment/nytt", start_form(therapist=str(people.colleague)))
    assert started.status_code == 303
    eid = int(started.headers["location"].split("/")[3])
    with session(app) as db:
        e = db.get(Enrolment, eid)
        assert (e.therapist_id, e.started_by) == (people.colleague, people.citizen_admin)


def test_start__therapist_cannot_name_another_therapist(app, people, login_as):
    before = counts(app)
    refused = login_as("tove").post("/personal/moment/nytt", start_form(therapist=str(people.colleague)))
    assert refused.status_code == 403 and "Bara en invånaradministratör kan välja en annan behandlare" in refused.text
    assert counts(app) == before


@pytest.mark.parametrize("name", ["agnes", "dan", "anna"])
def test_start__refused_for_roles_without_it(app, people, login_as, name):
    before = counts(app)
    browser = login_as(name)
    assert browser.get("/personal/moment/nytt").status_code == 403
    assert browser.post("/personal/moment/nytt", start_form()).status_code == 403
    assert browser.api("POST", "/api/v1/staff/enrolments",
                       {"personal_number": NEW_PNR, "display_name": "X", "program_id": "testprogram"}).status_code == 403
    assert counts(app) == before


def test_api_start__same_service__messages_warning_and_event(app, people, tove):
    bad = tove.api("POST", "/api/v1/staff/enrolments", {"personal_number": "19130230-1234", "display_name": "X",
                                                        "program_id": "testprogram"})
    assert bad.status_code == 422 and "datumet i 19130230 finns inte" in bad.json()["errors"]["personal_number"]
    again = tove.api("POST", "/api/v1/staff/enrolments", {"personal_number": "191212121212", "display_name": "Anna", "program_id": "testprogram"})
    assert again.status_code == 201
    body = again.json()
    assert body["warnings"] and "redan ett pågående moment" in body["warnings"][0]
    assert events(app, body["id"])[0][0] == EventKind.started


# --- customising ---------------------------------------------------------------------------------


def test_customise__welcome_text_saved_with_event(app, people, login_as):
    tove = login_as("tove")
    e = people.enrolment_a
    page = tove.get(f"/personal/moment/{e}/anpassa")
    assert page.status_code == 200 and 'aria-current="page">Anpassa' in page.text
    saved = tove.post(f"/personal/moment/{e}/anpassa", {"_section": "valkomst", "welcome_text": " Hej Anna!\r\n\r\nVälkommen. "})
    assert saved.status_code == 303 and saved.headers["location"].endswith("?sparat=valkomst")
    with session(app) as db:
        assert db.get(Enrolment, e).welcome_text == "Hej Anna!\n\nVälkommen."
    assert events(app, e)[-1] == (EventKind.customised, "Välkomsttexten ändrad.")
    assert "Välkomsttexten är sparad." in tove.get(saved.headers["location"]).text
    unchanged = tove.post(f"/personal/moment/{e}/anpassa", {"_section": "valkomst", "welcome_text": "Hej Anna!\n\nVälkommen."})
    assert unchanged.headers["location"].endswith("?sparat=inget") and len(events(app, e)) == 1
    too_long = tove.post(f"/personal/moment/{e}/anpassa", {"_section": "valkomst", "welcome_text": "x" * 20001})
    assert too_long.status_code == 422 and "högst 20000 tecken" in too_long.text


def test_customise__contacts_added_checked_moved_and_removed(app, people, login_as, anna):
    tove = login_as("tove")
    e = people.enrolment_a
    url = f"/personal/moment/{e}/anpassa"
    bad = tove.post(url, {"_section": "kontakt-ny", "contact-name": " ", "contact-url": "javascript:alert(1)",
                          "contact-email": "nej"})
    assert bad.status_code == 422
    assert '<a href="#contact-name">Skriv kontaktens namn.</a>' in bad.text
    assert "Skriv en webbadress som börjar med https://." in bad.text and 'value="javascript:alert(1)"' in bad.text
    added = tove.post(url, {"_section": "kontakt-ny", "contact-name": "Tove Test", "contact-role": "Behandlare",
                            "contact-phone": "0920-123 45", "contact-email": "tove@region.se"})
    assert added.status_code == 303
    with session(app) as db:
        contacts = list(db.scalars(select(Contact).where(Contact.enrolment_id == e).order_by(Contact.position)))
        assert [c.name for c in contacts] == ["1177", "Tove Test"]
        tove_id = contacts[1].id
    assert "Tove Test" in anna.get(f"/moment/{e}").text
    assert tove.post(url, {"_section": "kontakt-upp", "contact": str(tove_id)}).status_code == 303
    with session(app) as db:
        assert [c.name for c in db.scalars(select(Contact).where(Contact.enrolment_id == e)
                                           .order_by(Contact.position))] == ["Tove Test", "1177"]
    assert tove.post(url, {"_section": "kontakt-bort", "contact": str(tove_id)}).status_code == 303
    assert tove.post(url, {"_section": "kontakt-bort", "contact": "999999"}).status_code == 422
    details = [d for k, d in events(app, e) if k == EventKind.customised]
    assert details == ["Kontakten ”Tove Test” tillagd.", "Kontakternas ordning ändrad.", "Kontakten ”Tove Test” borttagen."]


def test_customise__patient_added_contact_kept_when_others_change(app, people, login_as):
    e = people.enrolment_a
    with session(app) as db:
        db.add(Contact(enrolment_id=e, position=1, name="Min syster", url="http://gammal.example", added_by=AuthorRole.patient))
    tove = login_as("tove")
    page = tove.get(f"/personal/moment/{e}/anpassa")
    assert "Tillagd av patienten" in page.text
    with session(app) as db:
        first_id = db.scalar(select(Contact.id).where(Contact.enrolment_id == e, Contact.position == 0))
    assert tove.post(f"/personal/moment/{e}/anpassa", {"_section": "kontakt-bort", "contact": str(first_id)}).status_code == 303
    with session(app) as db:
        (left,) = db.scalars(select(Contact).where(Contact.enrolment_id == e))
        assert (left.name, left.added_by, left.url) == ("Min syster", AuthorRole.patient, "http://gammal.example")


def test_customise__modules_and_steps__patient_sees_the_change(app, people, login_as, anna):
    tove = login_as("tove")
    e = people.enrolment_a
    saved = tove.post(f"/personal/moment/{e}/anpassa", {
        "_section": "innehall", "modul:start": "aktuell", "modul:fordjupning": "aktuell",
        "steg:start/valkommen": "dolt", "steg:start/mitt-mal": "synligt", "steg:fordjupning/mer": "synligt"})
    assert saved.status_code == 303 and saved.headers["location"].endswith("?sparat=innehall")
    with session(app) as db:
        settings = {(s.module_id, s.step_id): s.visible for s in db.scalars(
            select(StepSetting).where(StepSetting.enrolment_id == e))}
        assert settings == {("start", "valkommen"): False, ("fordjupning", "mer"): True}
        assert db.scalar(select(EnrolmentModule.state).where(EnrolmentModule.enrolment_id == e,
                                                             EnrolmentModule.module_id == "fordjupning")) == ModuleState.current
    (kind, detail), = [ev for ev in events(app, e) if ev[0] == EventKind.customised]
    assert detail == ("Modulen ”Fördjupning”: kommande → aktuell; steget ”Välkommen” (Start) dolt; "
                      "steget ”Mer att läsa” (Fördjupning) visas.")
    page = tove.get(f"/personal/moment/{e}/anpassa")
    hidden = page.text[page.text.index('id="steg-start-valkommen-synligt"') - 400:]
    assert '<span class="rt-tag rt-tag-hidden">Dolt</span>' in hidden[:400]  # marked in text, not only colour
    assert "1 steg är dolt för patienten." in page.text
    start = anna.get(f"/moment/{e}")
    assert "steg/start/valkommen" not in start.text and "steg/fordjupning/mer" in start.text
    assert anna.get(f"/moment/{e}/steg/start/valkommen").status_code == 404


@pytest.mark.parametrize("fields, status, text", [
    ({"_section": "innehall", "steg:start/valkommen": "kanske"}, 422, "Välj synligt eller dolt."),
    ({"_section": "innehall", "steg:start/finns-inte": "dolt"}, 422, "Steget &#39;start/finns-inte&#39; finns inte"),
    ({"_section": "innehall", "modul:finns-inte": "aktuell"}, 422, "Modulen &#39;finns-inte&#39; finns inte"),
    ({"_section": "innehall", "modul:start": "snart"}, 422, "Välj aktuell eller kommande."),
    ({"_section": "okand"}, 400, "Okänd del av anpassningen"),
])
def test_customise__bad_values__refused_with_a_reason(app, people, login_as, fields, status, text):
    before = counts(app)
    page = login_as("tove").post(f"/personal/moment/{people.enrolment_a}/anpassa", fields)
    assert page.status_code == status and text in page.text
    assert counts(app) == before


def test_customise__other_therapist_reads_only__other_unit_and_other_roles_see_nothing(app, people, login_as):
    e = people.enrolment_a
    body = {"_section": "valkomst", "welcome_text": "Ändrad"}
    tim = login_as("tim")
    page = tim.get(f"/personal/moment/{e}/anpassa")
    assert page.status_code == 200 and 'name="_section"' not in page.text and "Du kan se anpassningen" in page.text
    refused = tim.post(f"/personal/moment/{e}/anpassa", body)
    assert refused.status_code == 403 and "Bara patientens behandlare eller en invånaradministratör" in refused.text
    for name in ("olle", "dan", "agnes"):
        other = login_as(name)
        assert other.get(f"/personal/moment/{e}/anpassa").status_code == 404, name
        assert other.post(f"/personal/moment/{e}/anpassa", body).status_code == 404, name
    assert login_as("anna").get(f"/personal/moment/{e}/anpassa").status_code == 403
    with session(app) as db:
        assert db.get(Enrolment, e).welcome_text != "Ändrad"
    assert login_as("cissi").post(f"/personal/moment/{e}/anpassa", body).status_code == 303


def test_customise__ended_enrolment__read_only_and_refused(app, people, login_as):
    e = people.enrolment_a
    with session(app) as db:
        db.get(Enrolment, e).status = EnrolmentStatus.ended
    tove = login_as("tove")
    page = tove.get(f"/personal/moment/{e}/anpassa")
    assert page.status_code == 200 and "Ett avslutat moment går inte att ändra." in page.text
    assert 'name="_section"' not in page.text
    refused = tove.post(f"/personal/moment/{e}/anpassa", {"_section": "valkomst", "welcome_text": "x"})
    assert refused.status_code == 409 and "avslutat" in refused.text
    assert tove.api("PATCH", f"/api/v1/staff/enrolments/{e}", {"welcome_text": "x"}).status_code == 409


def test_api_customise__same_checks_and_event(app, people, tove):
    e = people.enrolment_a
    bad = tove.api("PATCH", f"/api/v1/staff/enrolments/{e}",
                   {"contacts": [{"name": "Team", "email": "inte-en-adress"}], "welcome_text": "Nytt"})
    assert bad.status_code == 422 and "contacts.0.email" in bad.json()["errors"]
    with session(app) as db:
        assert db.get(Enrolment, e).welcome_text != "Nytt"  # nothing changed when one part is wrong
    ok = tove.api("PATCH", f"/api/v1/staff/enrolments/{e}",
                  {"contacts": [{"name": "Team", "email": "team@region.se"}], "steps": {"start/valkommen": False}})
    assert ok.status_code == 200 and ok.json()["hidden_steps"] == ["start/valkommen", "fordjupning/mer"]
    assert events(app, e)[-1][1] == ("Kontakten ”1177” borttagen; kontakten ”Team” tillagd; "
                                     "steget ”Välkommen” (Start) dolt.")
    assert tove.api("PATCH", f"/api/v1/staff/enrolments/{e}", {"steps": {"x/y": True}}).status_code == 422


# --- preview -------------------------------------------------------------------------------------


def test_preview__what_the_patient_sees__nothing_written_but_the_log(app, people, login_as):
    e = people.enrolment_a
    tove = login_as("tove")
    tove.post(f"/personal/moment/{e}/anpassa", {"_section": "innehall", "steg:start/valkommen": "dolt"})
    before = counts(app)
    start = tove.get(f"/personal/moment/{e}/forhandsvisning")
    assert start.status_code == 200
    assert "Förhandsvisning – så här ser patienten programmet" in start.text
    assert f'href="/personal/moment/{e}/forhandsvisning/steg/start/mitt-mal"' in start.text
    assert "steg/start/valkommen" not in start.text and "Mer att läsa" not in start.text  # hidden, upcoming
    assert "Antal steg" in start.text  # the activated plan is listed
    step = tove.get(f"/personal/moment/{e}/forhandsvisning/steg/start/mitt-mal")
    assert step.status_code == 200
    assert re.search(r'<textarea id="f-mal-mal"[^>]*disabled>', step.text)  # shown, not fillable
    assert "formular/mal" not in step.text and "Skicka in" not in step.text
    hidden = tove.get(f"/personal/moment/{e}/forhandsvisning/steg/start/valkommen")
    assert hidden.status_code == 404 and "Patienten ser inte det här steget" in hidden.text
    assert tove.get(f"/personal/moment/{e}/forhandsvisning/filer/assets/stegvis.css").status_code == 200
    assert tove.get(f"/personal/moment/{e}/forhandsvisning/filer/steg/start/mitt-mal.html").status_code == 404
    assert counts(app) == before
    with session(app) as db:
        assert db.scalar(select(func.count()).select_from(StepOpening)) == 0
    actions = log_actions(app, e)
    assert actions.count("enrolment.preview") == 1 and actions.count("step.preview") == 1  # the refused step: none


def test_preview__maintenance_note_and_ended_program_shown_as_closed(app, people, login_as):
    from datetime import date

    e = people.enrolment_a
    tove = login_as("tove")
    with session(app) as db:
        row = db.get(Enrolment, e)
        row.status, row.maintenance_until = EnrolmentStatus.maintenance, date(2026, 4, 1)
    page = tove.get(f"/personal/moment/{e}/forhandsvisning")
    assert "Programmet är i vidmakthållande till och med onsdag 1 april 2026" in page.text
    with session(app) as db:
        db.get(Enrolment, e).status = EnrolmentStatus.ended
    page = tove.get(f"/personal/moment/{e}/forhandsvisning")
    assert "Patienten kan inte öppna programmet: Programmet är avslutat." in page.text
    assert "Dina moduler" not in page.text
    assert tove.get(f"/personal/moment/{e}/forhandsvisning/steg/start/mitt-mal").status_code == 404


def test_preview__other_unit_not_found_patients_refused(app, people, login_as):
    e = people.enrolment_a
    olle = login_as("olle")
    for url in (f"/personal/moment/{e}/forhandsvisning", f"/personal/moment/{e}/forhandsvisning/steg/start/mitt-mal",
                f"/personal/moment/{e}/forhandsvisning/filer/assets/stegvis.css"):
        assert olle.get(url).status_code == 404
    assert login_as("anna").get(f"/personal/moment/{e}/forhandsvisning").status_code == 403
    assert login_as("tim").get(f"/personal/moment/{e}/forhandsvisning").status_code == 200  # any therapist may read


def test_customise__patient_notice_details__saved_checked_and_refused_for_others(app, people, login_as):
    tove = login_as("tove")
    url = f"/personal/moment/{people.enrolment_a}/anpassa"
    bad = tove.post(url, {"_section": "avisering", "patient_email": "inte-en-adress", "patient_phone": "123"})
    assert bad.status_code == 422
    assert "giltig e-postadress" in bad.text and 'href="#patient_email"' in bad.text
    assert "Skriv ett mobilnummer med siffror" in bad.text  # "mobilnummer" alone is also the field's label
    ok = tove.post(url, {"_section": "avisering", "patient_email": " anna@exempel.se ", "patient_phone": "070-123 45 67"})
    assert ok.status_code == 303 and ok.headers["location"].endswith("sparat=avisering")
    with app.state.stegvis.db.session() as db:
        anna = db.get(User, people.patient_a)
        assert (anna.email, anna.phone) == ("anna@exempel.se", "+46701234567")
        assert db.scalar(select(func.count()).select_from(EnrolmentEvent).where(
            EnrolmentEvent.enrolment_id == people.enrolment_a, EnrolmentEvent.kind == EventKind.customised)) == 1
    again = tove.post(url, {"_section": "avisering", "patient_email": "anna@exempel.se", "patient_phone": "0701234567"})
    assert again.headers["location"].endswith("sparat=inget")
    cleared = tove.post(url, {"_section": "avisering", "patient_email": "", "patient_phone": ""})
    assert cleared.status_code == 303
    with app.state.stegvis.db.session() as db:
        assert (db.get(User, people.patient_a).email, db.get(User, people.patient_a).phone) == (None, None)
    assert login_as("tim").post(url, {"_section": "avisering", "patient_email": "x@y.se"}).status_code == 403
    assert login_as("olle").post(url, {"_section": "avisering", "patient_email": "x@y.se"}).status_code == 404
