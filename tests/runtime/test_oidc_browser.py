"""Issue #13: the e-identification and SITHS logins in a real headless Chromium, through a real provider.

The runtime serves the demo (FRAMÅT) on localhost with both test providers configured
(tests/runtime/oidc/provider.mjs on 127.0.0.1). The therapist logs in with "Logga in med
SITHS-kort", starts an enrolment for Greta's personnummer and logs out (at the provider
too); Greta logs in with "Logga in med e-legitimation", sees her program at once and
submits a form; someone with a valid personnummer and no program gets the page that says
so. Every page of ours on the way is checked with axe-core.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
from conftest import make_settings
from oidc.testprovider import missing as provider_missing
from oidc.testprovider import provider_configs, start_provider
from test_browser import axe_problems, browser, submit_health_profile  # noqa: F401  (browser is a fixture)
from test_browser import missing as browser_missing

from runtime.app import create_app
from runtime.demo import seed_demo

pytestmark = pytest.mark.skipif(browser_missing() is not None or provider_missing() is not None,
                                reason=browser_missing() or provider_missing() or "")

#: The demo's people as the test provider knows them (runtime/demo.py).
DEMO_PEOPLE = {
    "behandlare": {"name": "Tove Lind", "employeeHsaId": "SE0000000000-DEMO1"},
    "greta": {"name": "Greta Gren", "https://id.oidc.se/claim/personalIdentityNumber": "195502114936"},
    "okand_patient": {"name": "Olle Okänd", "https://id.oidc.se/claim/personalIdentityNumber": "198112189876"},
}


@pytest.fixture
def served(framat_packages, sqlite_url, tmp_path):
    """(runtime URL, provider) with the demo seeded; the runtime on localhost, the provider on 127.0.0.1."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://localhost:{port}"
    provider = start_provider(tmp_path, [base], DEMO_PEOPLE)
    app = create_app(make_settings(framat_packages, sqlite_url, oidc_providers=provider_configs(provider)))
    state = app.state.stegvis
    with state.db.session() as db:
        seed_demo(db, state.store, state.local_accounts, state.clock.now(), state.tz)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield base, provider
    server.should_exit = True
    thread.join(10)
    provider.stop()
    state.db.dispose()


def test_therapist_and_patient_log_in_through_the_provider__start_enrolment_submit_form_and_axe(served, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    base, provider = served
    seen: dict[str, list[str]] = {}

    def wait_for(text: str) -> None:
        try:
            WebDriverWait(browser, 15).until(lambda b: text in b.page_source)
        except Exception:
            main = browser.page_source.split("<main", 1)[-1][:1500]
            raise AssertionError(f"{text!r} not on {browser.current_url}: {main}") from None

    def click(element) -> None:
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
        element.click()

    def check(name: str) -> None:
        assert browser.current_url.startswith(base), browser.current_url
        seen[name] = axe_problems(browser)

    def log_in(button: str, person: str, expect: str) -> None:
        browser.get(base + "/logga-in")
        click(browser.find_element(By.LINK_TEXT, button))
        wait_for("Testleverantör")  # the provider's page, on 127.0.0.1
        assert browser.current_url.startswith(provider.issuer)
        Select(browser.find_element(By.ID, "person")).select_by_value(person)
        click(browser.find_element(By.CSS_SELECTOR, 'button[value="login"]'))
        wait_for(expect)

    def log_out() -> None:
        click(browser.find_element(By.CSS_SELECTOR, "form[action='/logga-ut'] button"))
        wait_for("Logga ut från testleverantören")  # RP-initiated logout: the provider asks
        click(browser.find_element(By.CSS_SELECTOR, 'button[name="logout"]'))
        wait_for("Du är utloggad")
        assert browser.current_url == base + "/utloggad"

    browser.get(base + "/logga-in")
    assert "Logga in med e-legitimation" in browser.page_source and "Logga in med SITHS-kort" in browser.page_source
    check("login")

    # The therapist, by SITHS (HSA-id), starts an enrolment for Greta.
    log_in("Logga in med SITHS-kort", "behandlare", "Översikt")
    check("overview")
    browser.get(base + "/personal/moment/nytt")
    browser.find_element(By.ID, "personal_number").send_keys("19550211-4936")
    browser.find_element(By.ID, "display_name").send_keys("Greta Gren")
    click(browser.find_element(By.XPATH, "//button[normalize-space()='Starta momentet']"))
    wait_for("Spara modulen")
    log_out()
    check("logged out")

    # Greta, by e-identification (personnummer), sees her program at once and submits a form.
    log_in("Logga in med e-legitimation", "greta", "Introduktion till programmet")
    check("patient start")
    submit_health_profile(browser, click, "90", "Cykla till jobbet.")
    wait_for("Tack! Dina svar är skickade")
    log_out()

    # A valid personnummer with no program here: a page that says so, and no session.
    log_in("Logga in med e-legitimation", "okand_patient", "Du har inget pågående program här")
    check("no program")
    assert "Logga ut" not in browser.page_source
    problems = {page: found for page, found in seen.items() if found}
    assert problems == {}
