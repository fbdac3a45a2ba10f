"""Issue #15, the staff side in a real headless Chromium (the demo, FRAMÅT), checked with axe-core.

- point 3: the customise page is short with its modules folded (measured: its height), the
  Synligt/Dolt radios of every step stand in the same two columns, one module saves alone;
- the review page has the messages in a panel beside the content at 1280 px, below it at 360 px;
- point 10: no link in the plans table breaks over two lines;
- point 8: the warning before the therapist role is taken;
- the Support page.
Every page at 360 and 1280 px: a screenshot kept under var/artefacts/staff/ (or
$STEGVIS_ARTEFACTS/staff/) and no serious or critical axe-core violation.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_browser import axe_problems, browser, missing, server  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = Path(os.environ.get("STEGVIS_ARTEFACTS", ROOT / "var" / "artefacts")) / "staff"
WIDTHS = (1280, 360)

pytestmark = pytest.mark.skipif(missing() is not None, reason=missing() or "")


def test_staff_pages_in_chromium__customise_review_plans_roles_support_and_axe(server, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from sqlalchemy import select

    from runtime.models import Enrolment, User

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    seen: dict[str, list[str]] = {}

    def wait_for(text: str) -> None:
        WebDriverWait(browser, 15).until(lambda b: text in b.page_source)

    def width(px: int) -> None:
        browser.set_window_size(px, 900)

    def check(name: str) -> None:
        """Screenshots and axe-core at both widths (the page is at 1280 px before and after)."""
        for px in WIDTHS:
            width(px)
            height = browser.execute_script("return document.documentElement.scrollHeight")
            browser.set_window_size(px, min(max(height, 900), 16000))
            browser.save_screenshot(str(ARTEFACTS / f"{name}-{px}.png"))
            width(px)
            seen[f"{name} {px}"] = axe_problems(browser)
            overflow = browser.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            if px == 360 and overflow > 1:
                culprits = browser.execute_script(
                    "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > "
                    "document.documentElement.clientWidth + 1 && !(e.parentElement && e.parentElement.closest('.rt-table-wrap')))"
                    ".slice(0, 8).map(e => e.tagName + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right) + '/' + getComputedStyle(e).overflowX)")
                seen[f"{name} {px}"] += [f"horizontal scroll {overflow}px: {culprits}"]
        width(1280)

    def click(element) -> None:
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
        element.click()

    def log_in(username: str, password: str, expect: str) -> None:
        browser.get(server + "/logga-in")
        browser.find_element(By.ID, "username").send_keys(username)
        browser.find_element(By.ID, "password").send_keys(password)
        browser.find_element(By.CSS_SELECTOR, "form.rt-form button[type=submit]").click()
        wait_for(expect)

    state = server.app.state.stegvis
    with state.db.session() as db:
        anna = db.scalar(select(User).where(User.display_name.like("Anna%")))
        eid = db.scalar(select(Enrolment.id).where(Enrolment.patient_id == anna.id))
    width(1280)
    log_in("behandlare", "demo-behandlare", "Översikt")

    # Point 3: the customise page, folded.
    browser.get(f"{server}/personal/moment/{eid}/anpassa")
    wait_for("Det här ser patienten inte")
    folded = browser.execute_script("return document.documentElement.scrollHeight")
    # About 10,000 px with every module open; the program language field (issue 18) made it 4,149.
    assert folded < 4500, folded
    boxes = browser.find_elements(By.CSS_SELECTOR, "details.rt-module-box")
    assert len(boxes) >= 13 and not any(b.get_attribute("open") for b in boxes)
    check("customise")
    click(browser.find_element(By.CSS_SELECTOR, "#modul-introduktion > summary"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#modul-introduktion .rt-step-row")
    shown = {round(r.find_element(By.CSS_SELECTOR, "input[value=synligt]").rect["x"]) for r in rows}
    hidden = {round(r.find_element(By.CSS_SELECTOR, "input[value=dolt]").rect["x"]) for r in rows}
    assert len(rows) >= 5 and len(shown) == 1 and len(hidden) == 1, (shown, hidden)  # two straight columns
    click(browser.find_element(By.CSS_SELECTOR, '#modul-introduktion input[name$="/vad-betyder-framat"][value="dolt"]'))
    click(browser.find_element(By.CSS_SELECTOR, "#modul-introduktion .rt-module-save button"))
    wait_for("Moduler och steg är sparade")
    assert browser.find_element(By.ID, "modul-introduktion").get_attribute("open") is not None
    assert "Vad betyder FRAMÅT?" in browser.find_element(By.ID, "dolt-sammanfattning").text
    check("customise-saved")

    # The review with the messages beside it.
    browser.get(f"{server}/personal/moment/{eid}")
    wait_for("Meddelanden")
    main = browser.find_element(By.CSS_SELECTOR, ".st-review-main").rect
    side = browser.find_element(By.ID, "meddelande-panel").rect
    assert side["x"] >= main["x"] + main["width"] and side["y"] < main["y"] + 400, (main, side)
    check("review")
    width(360)
    main = browser.find_element(By.CSS_SELECTOR, ".st-review-main").rect
    side = browser.find_element(By.ID, "meddelande-panel").rect
    assert side["y"] >= main["y"] + main["height"] - 1  # below the content on a phone
    width(1280)

    # Point 10: the plans table's links each on one line.
    browser.get(f"{server}/personal/moment/{eid}/aktivitetsplaner")
    links = browser.find_elements(By.CSS_SELECTOR, ".st-plan-links a")
    assert links
    lines = [browser.execute_script("return arguments[0].getClientRects().length", a) for a in links]
    assert set(lines) == {1}, lines
    check("plans")

    # Support, and the summary for the record.
    browser.get(f"{server}/personal/support")
    wait_for("Support för vårdpersonal")
    assert "Nationell support (Inera)" in browser.page_source
    check("support")
    browser.get(f"{server}/personal/moment/{eid}/sammanfattning")
    wait_for("Journalföring enligt")
    check("summary")
    click(browser.find_element(By.CSS_SELECTOR, "form[action='/logga-ut'] button"))
    wait_for("Logga in")

    # Point 8: the access administrator is warned before the therapist role is taken.
    log_in("admin", "demo-admin", "Behörigheter")
    browser.get(f"{server}/personal/behorigheter")
    row = browser.find_element(By.XPATH, "//tr[th[starts-with(normalize-space(), 'Tove')]]")
    click(row.find_element(By.XPATH, ".//button[contains(., 'rollen behandlare')]"))
    wait_for("Rollen behandlare är inte borttagen än")
    check("roles-warning")

    problems = {page: found for page, found in seen.items() if found}
    assert problems == {}
