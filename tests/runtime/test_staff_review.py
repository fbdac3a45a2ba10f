"""Issue #9: reviewing an enrolment — flags, the tree with opened marks, answers, comments, registrations.

On SQLite and PostgreSQL through the pages, plus one session in headless Chromium
with axe-core over the therapist's pages (overview, flags, review, timeline, summary),
where the flags' explanations must appear on hover and on keyboard focus.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from runtime.models import (
    AccessLogEntry,
    AuthorRole,
    Enrolment,
    EnrolmentStatus,
    Flag,
    FlagKind,
    FormSubmission,
    PageComment,
    Registration,
    StepSetting,
)

FORM = "/moment/{e}/steg/start/mitt-mal/formular/mal"
ANSWERS = {"_action": "submit", "namn": "Promenad", "mal": "Gå 30 minuter om dagen", "roker": "nej",
           "hinder": ["tid", "ork"], "viktigt": "3", "start": "2026-03-09"}


def db(app):
    return app.state.stegvis.db.session()


def review(browser, eid: int):
    return browser.get(f"/personal/moment/{eid}")


def section(page: str, anchor: str) -> str:
    """The HTML from an element's id to the end of its section."""
    start = page.index(f'id="{anchor}"')
    return page[start:page.index("</section>", start)]


def test_review__header_tree_with_opened_and_hidden_marks(app, people, anna, login_as):
    e = people.enrolment_a
    anna.get(f"/moment/{e}/steg/start/valkommen")
    page = review(login_as("tove"), e)
    assert page.status_code == 200
    text = page.text
    assert "<h1>Anna Test <span class=\"rt-muted\">– Testprogrammet 0.1.0</span></h1>" in text
    assert f'href="/personal/moment/{e}" aria-current="page">Granska' in text
    assert "Start – Aktuell, 1 av 2 synliga steg öppnade" in text
    assert re.search(r'st-opened">\s*<span class="st-mark" aria-hidden="true">✓</span>\s*Välkommen\s*'
                     r'<span class="rt-tag">Öppnad 2 mars</span>', text)
    assert re.search(r"Mitt mål\s*<span class=\"rt-tag st-tag-muted\">Inte öppnad</span>", text)
    assert "Fördjupning – Kommande (patienten ser den inte)" in text
    assert re.search(r"Mer att läsa\s*<span[^>]*>Inte öppnad</span>\s*<span class=\"rt-tag st-tag-hidden\">"
                     r"Dold för patienten</span>", text)
    assert 'href="#formular-mal">Formulär: Mitt mål</a>' in text


def test_review__opened_again_and_therapist_hidden_step(app, people, anna, login_as, clock):
    e = people.enrolment_a
    anna.get(f"/moment/{e}/steg/start/valkommen")
    clock.advance(minutes=10)
    anna.get(f"/moment/{e}/steg/start/valkommen")
    with db(app) as s:
        s.add(StepSetting(enrolment_id=e, module_id="start", step_id="mitt-mal", visible=False, changed_at=clock.now()))
    text = review(login_as("tove"), e).text
    assert "Öppnad 2 mars, senast 2 mars (2 gånger)" in text
    assert re.search(r"Mitt mål\s*<span[^>]*>Inte öppnad</span>\s*<span class=\"rt-tag st-tag-hidden\">", text)
    assert "Start – Aktuell, 1 av 1 synliga steg öppnade" in text


def test_review__every_submission_newest_first_with_options_choice_and_score(app, people, anna, login_as, clock):
    e = people.enrolment_a
    assert anna.post(FORM.format(e=e), ANSWERS).status_code == 303
    clock.advance(minutes=20)
    assert anna.post(FORM.format(e=e), {**ANSWERS, "roker": "ja", "antal": "12", "hinder": "tid"}).status_code == 303
    with db(app) as s:
        first, second = [r.id for r in s.scalars(select(FormSubmission).order_by(FormSubmission.id))]
    text = review(login_as("tove"), e).text
    answers = section(text, "formular-mal")
    assert answers.index(f'id="svar-{second}"') < answers.index(f'id="svar-{first}"')
    newest = answers[answers.index(f'id="svar-{second}"'):answers.index(f'id="svar-{first}"')]
    oldest = answers[answers.index(f'id="svar-{first}"'):]
    assert "Inskickat 2 mars 2026 kl. 10.20" in newest and "Inskickat 2 mars 2026 kl. 10.00" in oldest
    # Score and band, for the therapist: ja 2 + tid 1 + viktigt 3 = 6 (Hög); nej 0 + tid 1 + ork 1 + 3 = 5.
    assert "Poäng: <strong>6</strong> – Hög" in newest and "Poäng: <strong>5</strong> – Hög" in oldest
    assert "(Poängen är bara ett test.)" in newest
    # The options the patient had and what they chose.
    assert re.search(r'<li class="st-chosen"><span aria-hidden="true">&#9745;</span> <strong>Ja</strong> '
                     r'<span class="rt-tag">Valt</span> <span class="rt-meta">\(2 poäng\)</span></li>', newest)
    assert re.search(r'<li><span aria-hidden="true">&#9744;</span> Nej <span class="rt-meta">\(0 poäng\)</span>', newest)
    assert "<strong>Ork</strong>" in oldest and "<strong>Ork</strong>" not in newest
    assert "<strong>3</strong> <span class=\"rt-tag\">Valt</span>" in newest and "4 – Mycket" in newest
    assert "12 st" in newest
    assert "Inte besvarad: frågan visades inte, på grund av ett tidigare svar." in oldest  # antal, when nej
    assert "Gå 30 minuter om dagen" in oldest and "2026-03-09" in oldest


def test_review__flags_at_the_top_explained_and_linked(app, people, anna, login_as):
    e = people.enrolment_a
    anna.post(FORM.format(e=e), ANSWERS)
    anna.post(FORM.format(e=e) + "/kommentarer", {"body": "Hur menar ni med hinder?"})
    anna.post(f"/moment/{e}/meddelanden", {"subject": "Cykla", "body": "Får jag cykla i stället?"})
    text = review(login_as("tove"), e).text
    flags = section(text, "handelser")
    with db(app) as s:
        by_kind = {f.kind: f for f in s.scalars(select(Flag).where(Flag.enrolment_id == e))}
    form_flag, comment_flag = by_kind[FlagKind.form_submitted], by_kind[FlagKind.page_comment]
    assert "Patienten har skickat in ett formulär som du ska granska. Formuläret ”Mitt mål”, 5 poäng (Hög)." in flags
    assert f'<a href="#svar-{form_flag.ref_id}">Läs svaren' in flags and f'id="svar-{form_flag.ref_id}"' in text
    assert "Under formuläret ”Mitt mål”: ”Hur menar ni med hinder?”" in flags
    assert f'<a href="#kommentar-{comment_flag.ref_id}">' in flags and f'id="kommentar-{comment_flag.ref_id}"' in text
    assert "Ämne: ”Cykla”. ”Får jag cykla i stället?”" in flags
    assert re.search(rf'<a href="/personal/moment/{e}/meddelanden/\d+">Läs meddelandet', flags)
    assert "Inte registrerat i tid: Antal steg: måndag 23 februari 2026 kl. 19.00." in flags
    assert f'<a href="#plan-{people.plans_a["steg"]}">Se registreringarna' in flags
    assert f'id="plan-{people.plans_a["steg"]}"' in text
    assert flags.count(">Dölj flaggan<") == 5  # form, comment, message, two missed registrations
    assert flags.index("Cykla") < flags.index("Mitt mål")  # newest first


def test_review__hidden_flag_leaves_the_list(app, people, anna, login_as):
    e = people.enrolment_a
    anna.post(FORM.format(e=e), ANSWERS)
    tove = login_as("tove")
    review(tove, e)
    with db(app) as s:
        flag = s.scalar(select(Flag).where(Flag.kind == FlagKind.form_submitted))
    page = tove.get(tove.post(f"/personal/moment/{e}/flaggor/{flag.id}/dolj").headers["location"]).text
    assert "Flaggan är dold" in page
    assert "Formuläret ”Mitt mål”" not in section(page, "handelser")
    assert f'id="svar-{flag.ref_id}"' in page  # the answers themselves stay


def test_review__registrations_per_plan(app, people, login_as):
    with db(app) as s:
        s.add(Registration(plan_id=people.plans_a["steg"], occasion_at=datetime(2026, 2, 23, 18, tzinfo=UTC),
                           values={"steg": 5000}, comment="Regnade", registered_at=datetime(2026, 2, 24, tzinfo=UTC)))
        s.add(Registration(plan_id=people.plans_a["stegmal"], occasion_at=datetime(2026, 2, 23, 8, tzinfo=UTC),
                           values={"mal": 8000}, registered_at=datetime(2026, 2, 23, 9, tzinfo=UTC)))
    text = review(login_as("tove"), people.enrolment_a).text
    plan = section(text, f"plan-{people.plans_a['steg']}")
    assert "<caption>Registreringar i Antal steg (1)</caption>" in plan
    assert '<th scope="col">Tillfälle</th><th scope="col">Antal steg</th><th scope="col">Kommentar</th>' in plan
    assert re.search(r'<tr><th scope="row">måndag 23 februari 2026 kl. 19.00</th><td>5\xa0000 steg</td>'
                     r"<td>Regnade</td></tr>", plan)
    assert "Aktiverad, startar 23 februari 2026. Flaggar missade tillfällen." in plan
    assert "Måndag kl. 19.00 och onsdag kl. 19.00, varje vecka." in plan
    assert "Missade tillfällen hittills: 1." in plan  # 25 February (23 February was registered)
    assert "Mål: 8\xa0000 steg." in plan
    goal = section(text, f"plan-{people.plans_a['stegmal']}")
    assert "8\xa0000" in goal and "Flaggar" not in goal


@pytest.mark.parametrize("name", ["tove", "tim", "cissi"])
def test_review__readers_of_the_unit_and_one_log_row(app, people, login_as, name):
    page = review(login_as(name), people.enrolment_a)
    assert page.status_code == 200
    with db(app) as s:
        rows = list(s.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "enrolment.review")))
    assert [(r.enrolment_id, r.patient_id) for r in rows] == [(people.enrolment_a, people.patient_a)]
    writer = name == "tove"
    assert ('name="body"' in page.text) is writer
    if not writer:
        assert "Bara patientens behandlare skriver till patienten." in page.text
    assert (">Dölj flaggan<" in page.text) is (name != "tim")


@pytest.mark.parametrize(("name", "status"), [("agnes", 404), ("dan", 404), ("olle", 404), ("anna", 403)])
def test_review__refused_for_others(app, people, login_as, name, status):
    assert review(login_as(name), people.enrolment_a).status_code == status
    with db(app) as s:
        assert s.scalar(select(AccessLogEntry).where(AccessLogEntry.action == "enrolment.review")) is None


def test_review__unknown_ids_and_the_new_enrolment_page(app, people, login_as):
    tove = login_as("tove")
    assert review(tove, 99999).status_code == 404
    assert tove.get("/personal/moment/abc").status_code == 404
    start = tove.get("/personal/moment/nytt")  # the start page, not read as an id
    assert start.status_code == 200 and "<h1>Starta moment</h1>" in start.text


def test_reply__stored_shown_to_the_patient_with_read_receipt(app, people, anna, login_as):
    e = people.enrolment_a
    anna.post(FORM.format(e=e) + "/kommentarer", {"body": "Hur menar ni med hinder?"})
    tove = login_as("tove")
    response = tove.post(f"/personal/moment/{e}/formular/mal/kommentarer", {"body": "  Det som står i vägen.\r\n"})
    assert response.status_code == 303
    with db(app) as s:
        reply = s.scalar(select(PageComment).where(PageComment.author_role == AuthorRole.therapist))
        assert (reply.body, reply.author_id, reply.form_id, reply.read_at) == (
            "Det som står i vägen.", people.therapist, "mal", None)
        log = s.scalar(select(AccessLogEntry).where(AccessLogEntry.action == "comment.create",
                                                    AccessLogEntry.actor_id == people.therapist))
        assert log.target == "form:mal" and log.patient_id == people.patient_a
    assert response.headers["location"] == f"/personal/moment/{e}?kommenterat=1#kommentar-{reply.id}"
    page = tove.get(response.headers["location"]).text
    assert "Din kommentar är sparad." in page
    comments = section(page, "kommentarer-mal")
    assert comments.index("Hur menar ni med hinder?") < comments.index("Det som står i vägen.")
    assert "Behandlare Tove Test, 2 mars 2026 kl. 10.00" in comments and "Inte läst av patienten än" in comments
    step = anna.get(f"/moment/{e}/steg/start/mitt-mal").text
    assert "Din behandlare, måndag 2 mars 2026 kl. 10.00" in step and "Det som står i vägen." in step
    assert "Läst av patienten 2 mars 2026 kl. 10.00" in review(tove, e).text


@pytest.mark.parametrize(("body", "message"), [
    ("   ", "Skriv en kommentar först."),
    ("x" * 10001, "Kommentaren är för lång: högst 10000 tecken, du har skrivit 10001."),
])
def test_reply__bad_text_shown_again_with_error(app, people, login_as, body, message):
    e = people.enrolment_a
    response = login_as("tove").post(f"/personal/moment/{e}/formular/mal/kommentarer", {"body": body})
    assert response.status_code == 422
    text = response.text
    assert "<title>Fel: Granska" in text
    assert f'<li><a href="#ny-kommentar-mal">{message}</a></li>' in text
    assert 'aria-invalid="true" aria-describedby="ny-kommentar-mal-fel"' in text
    with db(app) as s:
        assert s.scalar(select(PageComment)) is None


@pytest.mark.parametrize(("name", "status"), [("tim", 403), ("cissi", 403), ("agnes", 404), ("olle", 404)])
def test_reply__only_the_patients_therapist(app, people, login_as, name, status):
    response = login_as(name).post(f"/personal/moment/{people.enrolment_a}/formular/mal/kommentarer",
                                   {"body": "Hej"})
    assert response.status_code == status
    with db(app) as s:
        assert s.scalar(select(PageComment)) is None


def test_reply__unknown_form_and_closed_enrolment(app, people, login_as):
    e = people.enrolment_a
    tove = login_as("tove")
    assert tove.post(f"/personal/moment/{e}/formular/finns-inte/kommentarer", {"body": "Hej"}).status_code == 404
    with db(app) as s:
        enrolment = s.get(Enrolment, e)
        enrolment.status, enrolment.maintenance_until = EnrolmentStatus.maintenance, date(2026, 4, 1)
    refused = tove.post(f"/personal/moment/{e}/formular/mal/kommentarer", {"body": "Hej"})
    assert refused.status_code == 403 and "vidmakthållande" in refused.text
    page = review(tove, e).text
    assert 'name="body"' not in page
    assert "Momentet är i vidmakthållande: meddelanden, sidkommentarer och formulär är stängda." in page
    with db(app) as s:
        s.get(Enrolment, e).status = EnrolmentStatus.ended
    assert tove.post(f"/personal/moment/{e}/formular/mal/kommentarer", {"body": "Hej"}).status_code == 403
    with db(app) as s:
        assert s.scalar(select(PageComment)) is None


# --- in a real browser, with axe-core ------------------------------------------------------------


def test_therapist_pages_in_chromium__axe_and_flag_tooltips(built_packages, sqlite_url):
    from test_browser import CHROMIUM, axe_problems, missing

    if missing():
        pytest.skip(missing())
    import shutil
    import socket
    import tempfile
    import threading
    import time

    import uvicorn
    from conftest import NOW, PASSWORD, make_settings, seed
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    from runtime.app import create_app
    from runtime.clock import FixedClock

    app = create_app(make_settings(built_packages, sqlite_url, cookie_secure=False), clock=FixedClock(NOW))
    people = seed(app)
    state = app.state.stegvis
    e = people.enrolment_a
    with state.db.session() as s:
        sub = FormSubmission(enrolment_id=e, form_id="mal", module_id="start", step_id="mitt-mal",
                             answers={"mal": "Gå mer", "roker": "ja", "antal": 4, "hinder": ["tid"], "viktigt": 2},
                             score=5, score_band="Hög", submitted_at=NOW - timedelta(hours=1))
        s.add(sub)
        s.flush()
        s.add(Flag(enrolment_id=e, kind=FlagKind.form_submitted, ref_type="form_submission", ref_id=sub.id,
                   detail="Mitt mål", created_at=NOW - timedelta(hours=1)))
        s.add(PageComment(enrolment_id=e, form_id="mal", author_role=AuthorRole.patient, author_id=people.patient_a,
                          body="Vad menas?", created_at=NOW - timedelta(minutes=30)))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    base = f"http://localhost:{port}"
    profile = tempfile.mkdtemp(prefix="stegvis-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1200,900", "--lang=sv"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    problems: dict[str, list[str]] = {}
    try:
        driver.get(base + "/logga-in")
        driver.find_element(By.ID, "username").send_keys("tove")
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "form.rt-form button[type=submit]").click()
        deadline = time.monotonic() + 15
        while "Översikt" not in driver.page_source and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "Anna Test" in driver.page_source
        problems["overview"] = axe_problems(driver)
        # The explanation shows on keyboard focus and on hover, not before.
        link = driver.find_element(By.CSS_SELECTOR, f'a.st-flag[href="/personal/moment/{e}#handelser"]')
        tip = driver.find_element(By.ID, link.get_attribute("aria-describedby"))
        assert not tip.is_displayed()
        driver.execute_script("arguments[0].focus();", link)
        assert tip.is_displayed() and "skickat in ett formulär" in tip.text
        driver.execute_script("arguments[0].blur();", link)
        assert not tip.is_displayed()
        ActionChains(driver).move_to_element(link).perform()
        assert tip.is_displayed()
        for name, url in (("flags", "/personal/flaggor"), ("all", "/personal/alla"),
                          ("review", f"/personal/moment/{e}"), ("timeline", f"/personal/moment/{e}/tidslinje"),
                          ("summary", f"/personal/moment/{e}/sammanfattning")):
            driver.get(base + url)
            problems[name] = axe_problems(driver)
        driver.get(base + f"/personal/moment/{e}")
        driver.find_element(By.XPATH, "//details[@id='modul-start']/summary").click()
        assert "Inte öppnad" in driver.find_element(By.ID, "modul-start").text
        button = driver.find_element(By.CSS_SELECTOR, 'form[action$="/dolj"] button')
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
        button.click()
        deadline = time.monotonic() + 15
        while "Flaggan är dold" not in driver.page_source and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "Flaggan är dold" in driver.page_source
        problems["review after hiding"] = axe_problems(driver)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        server.should_exit = True
        thread.join(10)
        state.db.dispose()
    assert {k: v for k, v in problems.items() if v} == {}
