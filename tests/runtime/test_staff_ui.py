"""Issue #15, the staff side: what therapists and administrators hit in a week of use.

Requirements (each a test below):
- point 3: the customise page folds each module (details/summary) with its step count and
  hidden steps, saves one module at a time, and says above the modules what the patient
  does not see;
- point 8: taking the therapist role from someone who still has enrolments warns and offers
  to hand them to another therapist of the unit;
- method support: the enrolment's messages beside the review; several roles in one unit
  (therapist and data administrator) with each role's pages; the journal text with the
  region's wording and codes; a link to the region's deviation reporting; staff support
  contacts on the staff pages.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from runtime.models import Enrolment, EnrolmentStatus, Role, StepSetting, UnitRole


def session(app):
    return app.state.stegvis.db.session()


def module_box(page: str, module_id: str) -> str:
    """The <details> of one module on the customise page."""
    match = re.search(rf'<details class="rt-module-box" id="modul-{module_id}"[^>]*>.*?</details>', page, re.S)
    assert match, module_id
    return match.group(0)


# --- point 3: the customise page -----------------------------------------------------------------


def test_customise__modules_folded_with_step_counts_and_a_summary_of_what_is_hidden(app, people, login_as):
    tove = login_as("tove")
    page = tove.get(f"/personal/moment/{people.enrolment_a}/anpassa").text
    start, deeper = module_box(page, "start"), module_box(page, "fordjupning")
    assert start.startswith('<details class="rt-module-box" id="modul-start">')  # folded
    assert "Grundmodul · aktuell · 2 steg</span></summary>" in start
    assert "Fördjupningsmodul · kommande · 1 steg, 1 dolt</span></summary>" in deeper  # hidden from start
    # One form and one save button per module, naming the module for screen readers.
    assert start.count("<form ") == 1 and '<input type="hidden" name="modul" value="start">' in start
    assert 'Spara modulen<span class="rt-visually-hidden"> ”Start”</span>' in start
    summary = page[page.index('id="dolt-sammanfattning"'):page.index('<details')]
    assert 'Kommande modul: <a href="#modul-fordjupning">Fördjupning</a>.' in summary
    assert '<a href="#modul-fordjupning">Fördjupning</a>: 1 dolt steg (Mer att läsa).' in summary


def test_customise__one_module_saved__the_others_untouched_and_the_saved_one_open(app, people, login_as):
    tove = login_as("tove")
    url = f"/personal/moment/{people.enrolment_a}/anpassa"
    saved = tove.post(url, {"_section": "innehall", "modul": "start", "modul:start": "aktuell",
                            "steg:start/valkommen": "dolt", "steg:start/mitt-mal": "synligt"})
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{url}?sparat=innehall&modul=start#modul-start"
    page = tove.get(saved.headers["location"]).text
    assert "Moduler och steg är sparade." in page
    assert module_box(page, "start").startswith('<details class="rt-module-box" id="modul-start" open>')
    assert "2 steg, 1 dolt</span></summary>" in module_box(page, "start")
    assert module_box(page, "fordjupning").startswith('<details class="rt-module-box" id="modul-fordjupning">')
    assert '<a href="#modul-start">Start</a>: 1 dolt steg (Välkommen).' in page
    with session(app) as db:
        rows = db.scalars(select(StepSetting).where(StepSetting.enrolment_id == people.enrolment_a)).all()
        assert [(r.module_id, r.step_id, r.visible) for r in rows] == [("start", "valkommen", False)]


def test_customise__error_in_a_module__that_module_open_with_the_error(app, people, login_as):
    tove = login_as("tove")
    page = tove.post(f"/personal/moment/{people.enrolment_a}/anpassa",
                     {"_section": "innehall", "modul": "fordjupning", "steg:fordjupning/mer": "kanske"})
    assert page.status_code == 422
    assert '<a href="#steg-fordjupning-mer-synligt">Välj synligt eller dolt.</a>' in page.text
    assert module_box(page.text, "fordjupning").startswith('<details class="rt-module-box" id="modul-fordjupning" open>')
    assert not module_box(page.text, "start").startswith('<details class="rt-module-box" id="modul-start" open>')


# --- point 8: taking the therapist role from someone with enrolments --------------------------------

ROLES = "/personal/behorigheter"


def therapist_of(app, eid: int) -> int | None:
    with session(app) as db:
        return db.get(Enrolment, eid).therapist_id


def live_roles(app, user_id: int, unit_id: int) -> set[Role]:
    with session(app) as db:
        return set(db.scalars(select(UnitRole.role).where(UnitRole.user_id == user_id, UnitRole.unit_id == unit_id,
                                                          UnitRole.revoked_at.is_(None))))


def test_revoke_therapist_with_enrolments__warns_and_offers_the_units_other_therapists(app, people, login_as):
    agnes = login_as("agnes")
    page = agnes.post(ROLES, {"_action": "ta-bort", "person": str(people.therapist), "role": "therapist"})
    assert page.status_code == 409
    assert "Rollen behandlare är inte borttagen än" in page.text
    assert "Tove Test är behandlare för 2 pågående moment på vårdenheten." in page.text
    assert f"<li>Moment {people.enrolment_a}: Testprogrammet 0.1.0, startat 2026-03-02</li>" in page.text
    assert "Anna Test" not in page.text  # no patient names on the roles page
    choices = re.search(r'<select id="ny-behandlare" name="ny_behandlare">(.*?)</select>', page.text, re.S).group(1)
    assert choices.split() == ["<option", f"value=\"{people.colleague}\">Tim", "Kollega</option>"]  # only Tim
    assert Role.therapist in live_roles(app, people.therapist, people.unit)  # nothing changed yet
    assert therapist_of(app, people.enrolment_a) == people.therapist


def test_revoke_therapist__enrolments_handed_over_then_role_removed(app, people, login_as):
    agnes = login_as("agnes")
    done = agnes.post(ROLES, {"_action": "ta-bort", "person": str(people.therapist), "role": "therapist",
                              "ny_behandlare": str(people.colleague)})
    assert done.status_code == 303 and done.headers["location"] == f"{ROLES}?klart=flyttade"
    assert "Momenten har fått en ny behandlare" in agnes.get(done.headers["location"]).text
    assert therapist_of(app, people.enrolment_a) == therapist_of(app, people.enrolment_b) == people.colleague
    assert Role.therapist not in live_roles(app, people.therapist, people.unit)
    tim = login_as("tim")
    mine = tim.get("/personal").text
    assert "Anna Test" in mine and "Bertil Test" in mine
    timeline = tim.get(f"/personal/moment/{people.enrolment_a}/tidslinje").text
    assert "Behandlare: Tove Test → Tim Kollega." in timeline


def test_revoke_therapist__someone_outside_the_unit_refused_and_nothing_changes(app, people, login_as):
    agnes = login_as("agnes")
    page = agnes.post(ROLES, {"_action": "ta-bort", "person": str(people.therapist), "role": "therapist",
                              "ny_behandlare": str(people.other_therapist)})
    assert page.status_code == 422
    assert '<a href="#ny-behandlare">Välj en av vårdenhetens andra behandlare.</a>' in page.text
    assert therapist_of(app, people.enrolment_a) == people.therapist
    assert Role.therapist in live_roles(app, people.therapist, people.unit)


def test_revoke_therapist__left_on_purpose_or_without_enrolments__removed_at_once(app, people, login_as):
    agnes = login_as("agnes")
    gone = agnes.post(ROLES, {"_action": "ta-bort", "person": str(people.therapist), "role": "therapist",
                              "lamna": "ja"})
    assert gone.status_code == 303 and gone.headers["location"] == f"{ROLES}?klart=borttagen"
    assert therapist_of(app, people.enrolment_a) == people.therapist
    # Tim has no enrolments: no warning.
    assert agnes.post(ROLES, {"_action": "ta-bort", "person": str(people.colleague),
                              "role": "therapist"}).status_code == 303


# --- method support: the journal text ----------------------------------------------------------------


def test_summary_for_the_record__offers_the_regions_wording_and_codes(app, people, login_as, clock):
    tove = login_as("tove")
    url = f"/personal/moment/{people.enrolment_a}/sammanfattning?format=text"
    text = tove.get(url).text
    journal = text[text.index("Journalföring enligt Stegvis test:"):]
    assert journal.splitlines() == [
        "Journalföring enligt Stegvis test:",
        "Text till journalen: Start av Testprogrammet.",  # started today
        "Andra texter:",
        "- Vid granskning: Granskning av Testprogrammet.",
        "- Vid vidmakthållande eller avslut: Vidmakthållande eller avslut av Testprogrammet.",
        "Koder:",
        "- AN5: Vårdkontakt vid start utan besök",
        "- AN24: Vårdkontakt vid granskning",
        "- KVÅ ZV044: Behandling administrerad via internet",
        "Anvisning: Journalför som vid annat arbete med levnadsvanor.",
    ]
    clock.advance(days=3)
    tove = login_as("tove")
    assert "Text till journalen: Granskning av Testprogrammet." in tove.get(url).text
    with session(app) as db:
        db.get(Enrolment, people.enrolment_a).status = EnrolmentStatus.maintenance
    assert "Text till journalen: Vidmakthållande eller avslut av Testprogrammet." in tove.get(url).text


# --- method support: support contacts and deviation reporting ----------------------------------------


def nav_links(page: str) -> list[str]:
    nav = re.search(r'<nav class="rt-nav rt-staff-nav" aria-label="Vårdpersonal">(.*?)</nav>', page, re.S).group(1)
    return re.findall(r'<a href="([^"]+)"', nav)


def test_support_page__the_programs_staff_support_and_no_deviation_link_unless_set(app, people, login_as):
    for name in ("tove", "dan", "agnes"):  # every member of staff, whatever the role
        page = login_as(name).get("/personal/support")
        assert page.status_code == 200, name
        assert "/personal/support" in nav_links(page.text)
    text = page.text
    assert "<h3>Testprogrammet <span class=\"rt-muted\">version 0.1.0</span></h3>" in text
    assert "<strong>Testsupport</strong><br>För vårdpersonal, frågor om tjänsten" in text
    assert "Telefon: 010-000 00 00 (vardagar 8–16)" in text
    assert "Ingen länk till avvikelserapporteringen är inställd" in text
    assert "Rapportera avvikelse<span" not in text  # no header link without a setting
    # Staff support is never shown to patients.
    anna = login_as("anna")
    assert "Testsupport" not in anna.get(f"/moment/{people.enrolment_a}").text
    assert anna.get("/personal/support").status_code in (403, 404)


def test_deviation_link__configured__on_every_staff_page_and_the_support_page(packages, database_url, clock):
    from conftest import Browser, make_settings, seed

    from runtime.app import create_app

    url = "https://avvikelse.example.se/synergi"
    application = create_app(make_settings(packages, database_url, deviation_report_url=url), clock=clock,
                             migrate=False)
    try:
        people = seed(application)
        tove = Browser(application)
        assert tove.login("tove").status_code == 303
        link = f'<a href="{url}" class="st-deviation" rel="noopener">Rapportera avvikelse'
        for page in ("/personal", "/personal/flaggor", f"/personal/moment/{people.enrolment_a}",
                     f"/personal/moment/{people.enrolment_a}/anpassa", "/personal/profil", "/personal/behorigheter"):
            assert link in tove.get(page).text, page
        assert f'<a href="{url}" rel="noopener">Till regionens avvikelserapportering</a>' in \
            tove.get("/personal/support").text
        tove.close()
    finally:
        application.state.stegvis.db.dispose()


def test_deviation_link__must_be_a_web_address():
    import pytest
    from pydantic import ValidationError

    from runtime.settings import RuntimeSettings

    with pytest.raises(ValidationError):
        RuntimeSettings(deviation_report_url="javascript:alert(1)")


# --- method support: several roles in one unit ---------------------------------------------------


def test_therapist_who_is_also_data_administrator__each_roles_pages_in_one_unit(app, people, login_as):
    agnes = login_as("agnes")
    assert agnes.post(ROLES, {"_action": "ge", "person": str(people.colleague), "role": "data_admin"}).status_code == 303
    assert live_roles(app, people.colleague, people.unit) == {Role.therapist, Role.data_admin}
    tim = login_as("tim")
    start = tim.get("/personal").text
    assert "Roller: Behandlare, Dataadministratör" in start
    links = nav_links(start)
    for href in ("/personal", "/personal/moment/nytt", "/personal/flaggor", "/personal/gallring",
                 "/personal/loggutdrag", "/personal/profil", "/personal/support"):
        assert href in links, href
    assert "/personal/behorigheter" not in links
    # Each role's pages work in the same session: the therapist's and the data administrator's.
    assert tim.get("/personal/moment/nytt").status_code == 200
    assert tim.get(f"/personal/moment/{people.enrolment_a}").status_code == 200  # the unit's enrolments ("Alla")
    assert tim.get("/personal/gallring").status_code == 200
    assert tim.get("/personal/loggutdrag").status_code == 200
    assert tim.get(ROLES).status_code == 403
    # The combination is per unit: the roles give nothing in another unit.
    assert tim.get("/personal/moment/99999").status_code == 404


# --- method support: messages beside the review ------------------------------------------------------


def test_review__the_enrolments_threads_in_a_side_panel_with_a_reply_that_comes_back(app, people, anna, login_as):
    from runtime.models import Message

    sent = anna.post(f"/moment/{people.enrolment_a}/meddelanden", {"subject": "Fråga om steg",
                                                                    "body": "Hur många steg ska jag gå?"})
    thread_id = int(sent.headers["location"].split("/meddelanden/")[1].split("?")[0])
    tove = login_as("tove")
    review = f"/personal/moment/{people.enrolment_a}"
    page = tove.get(review).text
    panel = page[page.index('<aside class="st-side" id="meddelande-panel"'):page.index("</aside>")]
    # Beside the content (one grid with the review), folded per thread, open when something is unread.
    assert page.index('<div class="st-review-main">') < page.index("<aside")
    assert f'<details class="st-side-thread" id="panel-trad-{thread_id}" open>' in panel
    assert '<span class="st-side-subject">Fråga om steg</span>' in panel and "1 oläst" in panel
    assert '<p class="rt-body">Hur många steg ska jag gå?</p>' in panel
    assert f'action="/personal/moment/{people.enrolment_a}/meddelanden/{thread_id}"' in panel
    assert '<input type="hidden" name="_tillbaka" value="granska">' in panel
    assert "<script" not in page.split("</head>", 1)[1]  # works without JavaScript
    with session(app) as db:  # showing the panel marks nothing read
        assert db.scalar(select(Message.read_at).where(Message.thread_id == thread_id)) is None
    answered = tove.post(f"{review}/meddelanden/{thread_id}", {"body": "Sikta på 8 000 om dagen.", "_tillbaka": "granska"})
    assert answered.status_code == 303
    assert answered.headers["location"] == f"{review}?svarat=1#panel-trad-{thread_id}"
    back = tove.get(answered.headers["location"]).text
    assert "Ditt meddelande är skickat." in back
    assert '<p class="rt-body">Sikta på 8 000 om dagen.</p>' in back and "Inte läst än" in back
    with session(app) as db:  # replying from the panel is reading the thread
        assert db.scalar(select(Message.read_at).where(Message.thread_id == thread_id,
                                                       Message.body == "Hur många steg ska jag gå?")) is not None
    assert "Sikta på 8 000 om dagen." in anna.get(f"/moment/{people.enrolment_a}/meddelanden/{thread_id}").text
    # A new thread from the panel comes back to the review too.
    new = tove.post(f"{review}/meddelanden", {"subject": "Hej", "body": "Hur går det?", "_tillbaka": "granska"})
    assert new.status_code == 303 and new.headers["location"].startswith(f"{review}?svarat=1#panel-trad-")


def test_review_panel__others_read_but_do_not_write(app, people, login_as):
    tim = login_as("tim")
    page = tim.get(f"/personal/moment/{people.enrolment_a}").text
    panel = page[page.index('<aside class="st-side"'):page.index("</aside>")]
    assert "Inga meddelanden ännu." in panel
    assert "Bara patientens behandlare skriver till patienten." in panel and "<form" not in panel
