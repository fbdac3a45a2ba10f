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

from runtime.models import Enrolment, Role, StepSetting, UnitRole


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
