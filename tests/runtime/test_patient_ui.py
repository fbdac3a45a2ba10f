"""Issue 15, the patient side, through HTTP: what the pages say and where their forms go.

Points: 1 (a refused form is shown at the step's own address and posts there again),
2 (the error summary first in <main>, red, with links; never in the green notice),
4 (scales as a horizontal labelled row), 5 (home: progress, where to go on, what is
new), 6 (no chart of nothing), 7 (the access log in sentences, newest first, paged),
9 (notices and own contacts on "Mina uppgifter"), 10 (long words wrap; a plan made
activated says so). The browser side (360 px, axe-core, screenshots) is in
test_browser.py.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from test_staff_plans import new_plan_form

from runtime.models import (
    AuthorRole,
    Contact,
    EnrolmentModule,
    FormDraft,
    FormSubmission,
    Message,
    MessageThread,
    ModuleState,
    PageComment,
    StepSetting,
    User,
)
from runtime.services.notify import patient_channel

STEP = "/moment/{e}/steg/start/mitt-mal"
PLAN = "/moment/{e}/aktivitetsplaner/{p}"


def main_of(html: str) -> str:
    """The page's <main> element."""
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def summary_links(html: str) -> list[str]:
    """The anchors the error summary links to, in order."""
    box = main_of(html).split('class="rt-error-summary"', 1)[1].split("</div>", 1)[0]
    return re.findall(r'<a href="#([^"]+)">', box)


def assert_summary_first(html: str) -> None:
    """The error summary is the first thing in <main>, focusable, and the green notice holds no error."""
    main = main_of(html)
    assert main.split(">", 1)[1].lstrip().startswith('<div class="rt-error-summary"'), main[:300]
    assert 'id="felsammanfattning" tabindex="-1" role="alert"' in main
    assert 'class="rt-notice"' not in main
    assert "<title>Fel: " in html


def rows(app, model, *where):
    with app.state.stegvis.db.session() as db:
        return list(db.scalars(select(model).where(*where)))


# --- points 1 and 2 --------------------------------------------------------------------------------


def test_step_form__refused_at_the_steps_own_address_then_corrected__ok(app, people, anna):
    e = people.enrolment_a
    page = anna.get(STEP.format(e=e)).text
    action = f'action="{STEP.format(e=e)}"'
    assert page.count(action) == 2  # the form and its page comments post to the step itself
    refused = anna.post(STEP.format(e=e), {"_form": "mal", "_action": "submit", "namn": "Mitt mål", "roker": "nej"})
    assert refused.status_code == 422
    assert_summary_first(refused.text)
    assert summary_links(refused.text) == ["f-mal-mal"]
    assert "Formuläret skickades inte" in refused.text and "Beskriv ditt mål – Svara på frågan." in refused.text
    assert refused.text.count(action) == 2  # shown again at the step's address, posting there again
    assert 'value="Mitt mål"' in refused.text and 'value="nej" checked' in refused.text
    assert 'aria-invalid="true" required' in refused.text or 'aria-invalid="true"' in refused.text
    assert 'aria-describedby="f-mal-mal-hjalp f-mal-mal-fel"' in refused.text
    assert rows(app, FormDraft)[0].answers["namn"] == ["Mitt mål"]
    draft = anna.post(STEP.format(e=e), {"_form": "mal", "_action": "draft", "namn": "Mitt mål", "mal": "Gå"})
    assert draft.status_code == 303 and "sparat=mal" in draft.headers["location"]
    sent = anna.post(STEP.format(e=e), {"_form": "mal", "_action": "submit", "namn": "Mitt mål", "mal": "Gå mer"})
    assert sent.status_code == 303 and "skickat=mal" in sent.headers["location"]
    assert [s.answers["mal"] for s in rows(app, FormSubmission)] == ["Gå mer"]


def test_page_comment__refused_then_corrected_at_the_steps_own_address__ok(app, people, anna):
    e = people.enrolment_a
    empty = anna.post(STEP.format(e=e), {"_form": "mal", "_action": "comment", "body": "  "})
    assert empty.status_code == 422
    assert_summary_first(empty.text)
    assert summary_links(empty.text) == ["kommentar-mal"] and "Kommentaren sparades inte" in empty.text
    assert 'aria-invalid="true" aria-describedby="kommentar-mal-fel"' in empty.text
    saved = anna.post(STEP.format(e=e), {"_form": "mal", "_action": "comment", "body": "En fråga"})
    assert saved.status_code == 303 and "kommenterat=mal" in saved.headers["location"]
    assert [c.body for c in rows(app, PageComment)] == ["En fråga"]


def test_registration_and_messages__errors_in_the_summary_not_the_notice(app, people, anna):
    e, p = people.enrolment_a, people.plans_a["steg"]
    bad = anna.post(PLAN.format(e=e, p=p) + "/registreringar", {"_occasion": "2026-03-02T18:00:00Z", "steg": "x"})
    assert bad.status_code == 422
    assert_summary_first(bad.text)
    assert summary_links(bad.text) == ["tillfalle-202603021800-steg"] and 'value="x"' in bad.text
    early = anna.post(PLAN.format(e=e, p=p) + "/registreringar", {"_occasion": "2026-03-04T18:00:00Z", "steg": "1"})
    assert early.status_code == 422 and "för tidigt" in main_of(early.text).split("</div>", 1)[0]
    new = anna.post(f"/moment/{e}/meddelanden", {"subject": "", "body": "Ett långt meddelande"})
    assert new.status_code == 422
    assert_summary_first(new.text)
    assert summary_links(new.text) == ["amne"] and "Ett långt meddelande" in new.text
    assert 'aria-invalid="true" aria-describedby="amne-fel"' in new.text
    sent = anna.post(f"/moment/{e}/meddelanden", {"subject": "Fråga", "body": "Ett långt meddelande"})
    assert sent.status_code == 303
    thread = sent.headers["location"].split("?")[0]
    reply = anna.post(thread, {"body": ""})
    assert reply.status_code == 422
    assert_summary_first(reply.text)
    assert summary_links(reply.text) == ["svar"]


# --- point 4 ---------------------------------------------------------------------------------------


def test_scale__a_horizontal_row_of_native_radios_with_end_labels(app, people, anna):
    page = anna.get(STEP.format(e=people.enrolment_a)).text
    scale = page.split('<fieldset class="rt-scale"', 1)[1].split("</fieldset>", 1)[0]
    assert scale.count('type="radio"') == 5 and scale.count('name="viktigt"') == 5
    assert '<ul class="rt-scale-steps">' in scale
    assert '<span class="rt-visually-hidden"> – Inte alls</span>' in scale  # each end's words in its radio's name
    assert '<p class="rt-scale-ends" aria-hidden="true"><span>0 = Inte alls</span><span>4 = Mycket</span></p>' in scale


# --- point 5 ---------------------------------------------------------------------------------------


def test_home__progress_resume_and_what_is_new_since_the_last_visit(app, people, anna, clock):
    from conftest import Browser

    e = people.enrolment_a
    anna.get(f"/moment/{e}/steg/start/valkommen")
    home = anna.get(f"/moment/{e}").text
    assert "1 av 2 steg öppnade" in home
    assert "Fortsätt där du var" in home and f'href="/moment/{e}/steg/start/valkommen">Välkommen' in home
    assert f'Nästa steg: <a class="rt-next" href="/moment/{e}/steg/start/mitt-mal">' in home
    assert "Fördjupning" not in home  # an upcoming module is absent
    assert "Nytt sedan du var här" not in home  # no earlier visit in another session
    clock.advance(hours=2)
    now = app.state.stegvis.clock.now()
    with app.state.stegvis.db.session() as db:
        module = db.scalar(select(EnrolmentModule).where(EnrolmentModule.enrolment_id == e,
                                                         EnrolmentModule.module_id == "fordjupning"))
        module.state, module.changed_at = ModuleState.current, now
        db.add(StepSetting(enrolment_id=e, module_id="fordjupning", step_id="mer", visible=True, changed_at=now,
                           changed_by=people.therapist))
        thread = MessageThread(enrolment_id=e, subject="Hej", created_by=people.therapist, created_at=now,
                               last_message_at=now)
        db.add(thread)
        db.flush()
        db.add(Message(thread_id=thread.id, sender_id=people.therapist, sender_role=AuthorRole.therapist,
                       body="Hur går det?", created_at=now))
    again = Browser(app)
    try:
        assert again.login("anna").status_code == 303
        home = again.get(f"/moment/{e}").text
    finally:
        again.close()
    assert "Nytt sedan du var här 2 mars 2026" in home
    news = main_of(home).split('id="nytt"', 1)[1].split("</section>", 1)[0]
    assert "1 nytt meddelande från din behandlare" in news and "Ny modul: Fördjupning" in news
    assert f'<a href="/moment/{e}/steg/fordjupning/mer">Nytt steg: Mer att läsa</a>' in news
    assert "0 av 1 steg öppnade" in home


# --- point 6 ---------------------------------------------------------------------------------------


def test_plan_without_registrations__no_chart_and_when_the_next_occasion_opens(app, people, anna, clock):
    e, p = people.enrolment_a, people.plans_a["steg"]
    page = anna.get(PLAN.format(e=e, p=p)).text
    assert "<svg" not in page and "0,25" not in page and "tabellen nedan" not in page
    assert "Du har inga registreringar än" in page and "Du kan registrera nu" in page
    clock.advance(days=5)  # Saturday 7 March: Wednesday's window closed on Friday, Monday's not open yet
    anna.login("anna")
    page = anna.get(PLAN.format(e=e, p=p)).text
    assert "<svg" not in page
    assert "Nästa tillfälle är måndag 9 mars 2026 kl. 19.00; du kan registrera det från 9 mars 2026." in page


# --- point 7 ---------------------------------------------------------------------------------------


LINE = re.compile(r'<li><time datetime="[^"]+" class="rt-meta">([^<]+)</time><p>([^<]*)</p></li>')


def test_access_log__sentences_newest_first_in_pages(app, people, anna, login_as, clock):
    e, p = people.enrolment_a, people.plans_a["steg"]
    anna.get(STEP.format(e=e))
    clock.advance(minutes=1)
    login_as("tove").get(f"/personal/moment/{e}/aktivitetsplaner/{p}")
    clock.advance(minutes=1)
    page = anna.get("/mina-uppgifter/logg").text
    lines = [s for _, s in LINE.findall(page)]
    assert lines[:3] == ["Du tittade på den här loggen.", "Tove Test, behandlare, läste aktivitetsplanen Antal steg.",
                         "Du öppnade steget Mitt mål."]
    assert "<table" not in page
    for _ in range(30):
        anna.get(f"/moment/{e}")
    first = anna.get("/mina-uppgifter/logg").text
    assert len(LINE.findall(first)) == 25 and "sida 1 av 2" in first and 'href="/mina-uppgifter/logg?sida=2"' in first
    second = anna.get("/mina-uppgifter/logg?sida=2").text
    assert "sida 2 av 2" in second and "Du öppnade steget Mitt mål." in second
    assert 'href="/mina-uppgifter/logg?sida=1"' in second


# --- point 9 ---------------------------------------------------------------------------------------


def test_settings__notices_how_and_where__refused_then_saved(app, people, anna):
    page = anna.get("/mina-uppgifter").text
    assert "Hur vill du få aviseringar?" in page and 'autocomplete="email"' in page
    refused = anna.post("/mina-uppgifter/aviseringar", {"channel": "sms", "email": "", "phone": ""})
    assert refused.status_code == 422
    assert_summary_first(refused.text)
    assert summary_links(refused.text) == ["mobil"]
    saved = anna.post("/mina-uppgifter/aviseringar", {"channel": "sms", "email": "anna@exempel.se",
                                                      "phone": "070-123 45 67"})
    assert saved.status_code == 303
    [anna_row] = rows(app, User, User.id == people.patient_a)
    assert (anna_row.notice_channel, anna_row.email, anna_row.phone) == ("sms", "anna@exempel.se", "+46701234567")
    assert patient_channel(anna_row)[0].value == "sms"  # her choice, though she has an e-mail address
    page = anna.get("/mina-uppgifter?sparat=1").text
    assert 'value="sms" checked' in page and 'value="070-123 45 67"' not in page and "+46701234567" in page
    assert anna.post("/mina-uppgifter/aviseringar", {"channel": "none", "email": "", "phone": ""}).status_code == 303
    [anna_row] = rows(app, User, User.id == people.patient_a)
    assert patient_channel(anna_row) is None


def test_settings__own_contacts_added_and_removed__staff_contacts_stay(app, people, anna):
    e = people.enrolment_a
    refused = anna.post("/mina-uppgifter/kontakter", {"enrolment": str(e), "name": "", "phone": "ring mig"})
    assert refused.status_code == 422
    assert summary_links(refused.text) == [f"kontakt-{e}-name", f"kontakt-{e}-phone"]
    assert 'value="ring mig"' in refused.text
    added = anna.post("/mina-uppgifter/kontakter", {"enrolment": str(e), "name": "Eva Ek", "role": "min syster",
                                                    "phone": "070-111 22 33"})
    assert added.status_code == 303
    assert "Eva Ek" in anna.get(f"/moment/{e}").text
    contacts = rows(app, Contact, Contact.enrolment_id == e)
    mine = next(c for c in contacts if c.name == "Eva Ek")
    assert mine.added_by == AuthorRole.patient
    staff = [c for c in contacts if c.added_by != AuthorRole.patient]
    for c in staff:
        assert anna.post("/mina-uppgifter/kontakter/ta-bort",
                         {"enrolment": str(e), "contact": str(c.id)}).status_code == 404
    assert anna.post("/mina-uppgifter/kontakter/ta-bort", {"enrolment": str(e), "contact": str(mine.id)}).status_code == 303
    assert [c.name for c in rows(app, Contact, Contact.enrolment_id == e)] == [c.name for c in staff]
    other = anna.post("/mina-uppgifter/kontakter", {"enrolment": str(people.enrolment_b), "name": "X"})
    assert other.status_code == 404  # another patient's enrolment


# --- point 10 --------------------------------------------------------------------------------------


def test_long_words_wrap_in_messages():
    from conftest import ROOT

    text = (ROOT / "templates" / "runtime" / "static" / "runtime.css").read_text("utf-8")
    assert re.search(r"\.rt-body[^{]*\{[^}]*overflow-wrap: anywhere", text)


def test_plan_created_activated__the_notice_does_not_ask_to_activate_it(app, people, login_as):
    tove = login_as("tove")
    response = tove.post(f"/personal/moment/{people.enrolment_a}/aktivitetsplaner/ny", new_plan_form())
    assert response.status_code == 303 and "skapad-aktiverad=1" in response.headers["location"]
    page = tove.get(response.headers["location"]).text
    assert "skapad och aktiverad" in page and "Aktivera den när den är klar" not in page
    inactive = tove.post(f"/personal/moment/{people.enrolment_a}/aktivitetsplaner/ny", new_plan_form(activated=None))
    assert "Aktivera den när den är klar" in tove.get(inactive.headers["location"]).text
