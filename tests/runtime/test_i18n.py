"""The runtime in the patient's language (issue 18): catalogues complete and in step, pages per language.

- The catalogues (templates/runtime/locales/) hold exactly what `pybabel extract` finds in
  the sources today (babel.cfg), and every Finnish and English entry is translated, not
  fuzzy, with the same placeholders as its Swedish msgid (Babel's own checkers).
- No patient template holds text outside `_()` / `ngettext()` (so nothing escapes the catalogues).
- A patient's page in Finnish or English carries `lang=` of that language and none of the
  Swedish chrome, and what the code says (a refused form, a plan's schedule, the log's
  sentences, dates) comes in that language too; Swedish pages are as before (the rest of
  the runtime suite); staff pages stay Swedish whatever the language; a language without
  a catalogue is Swedish; the API keeps Swedish.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from builder.render.forms import DURATION_HINT, TIME_HINT
from runtime.app import create_app
from runtime.context import Ctx, UnitOfWork
from runtime.i18n import N_, NP_, SOURCE_LANGUAGE, SWEDISH, Alternatives, Catalogues, Day, Moment, Number
from runtime.services.notify import patient_text
from runtime.settings import TEMPLATES
from runtime.views import DURATION_HINT_TEXT, TIME_HINT_TEXT, schedule_text
from tests.runtime.conftest import NOW, ROOT, Browser, make_settings, seed

LOCALES = TEMPLATES / "locales"
LANGUAGES = ("fi", "en")
#: Chrome of every patient page (layout.html) in Swedish; none of it may be left on a translated page.
SWEDISH_CHROME = ("Hoppa till innehållet", "Inloggad som", "Logga ut", "Mina uppgifter", "Meddelanden",
                  "Dina uppgifter hanteras av din vårdenhet")


def _key(message) -> str:
    return message.id[0] if isinstance(message.id, tuple) else message.id


def _extracted() -> dict[str, set[str]]:
    """What `pybabel extract -F babel.cfg` finds in the sources now: msgid -> its flags."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str, set[str]] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(ROOT, method_map, options_map):
        found.setdefault(message[0] if isinstance(message, tuple) else message, set()).add(filename)
    return found


def _catalogue(path: Path, locale: str | None = None):
    with path.open("rb") as handle:
        return read_po(handle, locale=locale, domain="runtime")


def test_pot__holds_exactly_what_the_sources_mark__ok():
    extracted = set(_extracted())
    in_pot = {_key(m) for m in _catalogue(LOCALES / "runtime.pot") if m.id}
    assert {"Logga ut", "%(num)s oläst", "%(num)s sekund", "Du behöver logga in."} <= extracted  # _, ngettext, NP_, N_
    assert extracted - in_pot == set(), "run `make catalogues`: new strings are missing from runtime.pot"
    assert in_pot - extracted == set(), "run `make catalogues`: runtime.pot holds strings the sources dropped"


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue__every_string_translated_with_the_same_placeholders__ok(language: str):
    pot = {_key(m): m for m in _catalogue(LOCALES / "runtime.pot") if m.id}
    catalogue = _catalogue(LOCALES / language / "LC_MESSAGES" / "runtime.po", language)
    messages = {_key(m): m for m in catalogue if m.id}
    assert set(messages) == set(pot), "run `make catalogues` (pybabel update) for this language"
    assert catalogue.locale_identifier == language
    untranslated = [key for key, m in messages.items()
                    if not (all(m.string) if isinstance(m.string, tuple) else m.string)]
    assert untranslated == []
    assert [key for key, m in messages.items() if m.fuzzy] == []
    assert [key for key, m in messages.items() if isinstance(m.id, tuple) != isinstance(pot[key].id, tuple)] == []
    problems = [(_key(m), [str(e) for e in errors]) for m, errors in catalogue.check()]
    assert problems == []
    # Babel's checker compares placeholders only for entries flagged python-format; flag them all.
    unflagged = [key for key, m in messages.items() if "%(" in key and "python-format" not in m.flags]
    assert unflagged == []


def test_catalogue_check__catches_a_wrong_placeholder():
    """The checker the test above relies on does find a renamed placeholder (no vacuous check)."""
    from babel.messages.catalog import Catalog

    catalogue = Catalog(locale="fi")
    catalogue.add("Inloggad som %(name)s", "Kirjautunut: %(nimi)s", flags=["python-format"])
    assert [m.id for m, errors in catalogue.check() if errors] == ["Inloggad som %(name)s"]


def test_patient_templates__no_text_outside_the_catalogue_calls():
    """Every word a patient template shows goes through _() or ngettext(); staff templates are not checked."""
    for template in sorted(TEMPLATES.glob("*.html")):
        source = template.read_text(encoding="utf-8")
        for attribute in ("aria-label", "title", "alt", "label", "placeholder"):
            assert re.findall(rf'\s{attribute}="[^"{{]', source) == [], (template.name, attribute)
        bare = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", "", source, flags=re.S)
        bare = re.sub(r"<[^>]+>", " ", bare)
        bare = re.sub(r'[\w-]+="[^"]*"', " ", bare)  # attributes written by macros outside a tag's < >
        words = [w for w in re.findall(r"[^\W\d_]{2,}", bare) if w != "Stegvis"]  # the service's name
        assert words == [], template.name


def test_catalogues__swedish_first_then_each_with_a_catalogue_named_in_itself():
    catalogues = Catalogues.load(LOCALES)
    assert catalogues.available_languages() == {"sv": "Svenska", "en": "English", "fi": "Suomi"}
    assert list(catalogues.available_languages()) == ["sv", "en", "fi"]
    assert catalogues.language("fi").gettext("Logga ut") == "Kirjaudu ulos"
    assert catalogues.language("de").gettext("Logga ut") == "Logga ut"
    assert catalogues.language("de").code == SOURCE_LANGUAGE


# --- pages ---------------------------------------------------------------------------------------


@pytest.fixture
def app_in(packages: Path, sqlite_url: str, clock):
    """A factory: an app whose patient pages are forced into a language (settings.force_language)."""
    made = []

    def make(language: str | None):
        application = create_app(make_settings(packages, sqlite_url, force_language=language), clock=clock,
                                 migrate=False)
        made.append(application)
        return application

    yield make
    for application in made:
        application.state.stegvis.db.dispose()


def _visit(application, username: str, url: str):
    browser = Browser(application)
    try:
        assert browser.login(username).status_code == 303
        return browser.get(url)
    finally:
        browser.close()


def _chrome(page: str) -> str:
    """The layout's parts of a page: its header and footer."""
    return re.search(r"<header.*</header>", page, re.S).group(0) + re.search(r"<footer.*</footer>", page, re.S).group(0)


def _html_lang(page: str) -> str:
    return re.search(r'<html lang="([^"]+)">', page).group(1)


@pytest.mark.parametrize(("language", "expected"), [
    ("fi", ("Siirry sisältöön", "Kirjautunut: Anna Test", "Kirjaudu ulos", "Omat tiedot", "Viestit")),
    ("en", ("Skip to content", "Logged in as Anna Test", "Log out", "My details", "Messages")),
])
def test_patient_start_page__in_the_language__ok(app_in, language: str, expected: tuple[str, ...]):
    application = app_in(language)
    people = seed(application)
    page = _visit(application, "anna", f"/moment/{people.enrolment_a}")
    assert page.status_code == 200
    assert _html_lang(page.text) == language
    for text in expected:
        assert text in page.text
    for text in SWEDISH_CHROME:
        assert text not in _chrome(page.text)


def test_patient_start_page__swedish_by_default__ok(app_in):
    application = app_in(None)
    people = seed(application)
    page = _visit(application, "anna", f"/moment/{people.enrolment_a}")
    assert _html_lang(page.text) == "sv"
    for text in SWEDISH_CHROME:
        assert text in page.text


def test_language_without_a_catalogue__swedish__ok(app_in):
    application = app_in("de")
    people = seed(application)
    page = _visit(application, "anna", f"/moment/{people.enrolment_a}")
    assert _html_lang(page.text) == "sv"
    assert "Logga ut" in page.text and "Hoppa till innehållet" in page.text


def test_staff_pages__swedish_whatever_the_language__ok(app_in):
    application = app_in("fi")
    seed(application)
    page = _visit(application, "tove", "/personal")
    assert page.status_code == 200
    assert _html_lang(page.text) == "sv"
    assert "Logga ut" in page.text and "Kirjaudu ulos" not in page.text
    missing = _visit(application, "tove", "/personal/moment/999999")
    assert missing.status_code == 404
    assert _html_lang(missing.text) == "sv" and "Hittades inte" in missing.text


def test_error_page__in_the_patients_language__ok(app_in):
    application = app_in("fi")
    seed(application)
    page = _visit(application, "anna", "/moment/999999")
    assert page.status_code == 404
    assert _html_lang(page.text) == "fi"
    assert "Sivua ei löytynyt" in page.text and "Sivua ei ole, tai sinulla ei ole oikeutta" in page.text and "Etusivulle" in page.text
    assert "Hittades inte" not in page.text


# --- what the code says ---------------------------------------------------------------------------


def test_localised__swedish_as_a_string_each_language_where_shown():
    catalogues = Catalogues.load(LOCALES)
    fi, en = catalogues.language("fi"), catalogues.language("en")
    tz = ZoneInfo("Europe/Stockholm")
    day, moment = Day(date(2026, 3, 2), weekday=True), Moment(datetime(2026, 3, 2, 17, 5, tzinfo=UTC), tz)
    assert (day, fi.localise(day), en.localise(day)) == (
        "måndag 2 mars 2026", "maanantai 2. maaliskuuta 2026", "Monday, 2 March 2026")
    assert (moment, fi.localise(moment), en.localise(moment)) == (
        "2 mars 2026 kl. 18.05", "2. maaliskuuta 2026 klo 18.05", "2 March 2026 at 18:05")
    number = Number(12000.5, "12\u00a0000,5")
    assert (number, en.localise(number)) == ("12\u00a0000,5", "12,000.5")
    unread = NP_("%(num)s oläst", "%(num)s olästa", 3)
    assert (unread, fi.localise(unread), en.localise(unread)) == ("3 olästa", "3 lukematonta", "3 unread")
    either = N_("Om du väljer %(names)s ska du inte välja något annat alternativ.",
                names=Alternatives(["”Inget”", "”Vet ej”"]))
    assert either == "Om du väljer ”Inget” eller ”Vet ej” ska du inte välja något annat alternativ."
    assert en.localise(either) == "If you choose ”Inget” or ”Vet ej”, do not choose any other option."
    schedule = schedule_text({"onsdag": "18:00", "måndag": "07:30"}, 2, None)
    assert schedule == "Måndag kl. 07.30 och onsdag kl. 18.00, var 2:e vecka."
    assert en.localise(schedule) == "Monday at 07:30 and Wednesday at 18:00, every 2 weeks."
    assert SWEDISH.localise(schedule) == schedule
    copied = copy.deepcopy({"message": unread})
    assert copied == {"message": "3 olästa"} and type(copied["message"]) is str


def test_builder_hints__marked_here_with_the_same_swedish_words():
    assert (TIME_HINT_TEXT, DURATION_HINT_TEXT) == (TIME_HINT, DURATION_HINT)


def test_use_language__a_catalogue_or_swedish_and_the_forced_one_wins(app_in):
    free, forced = app_in(None), app_in("en")
    assert free.state.stegvis.available_languages() == {"sv": "Svenska", "en": "English", "fi": "Suomi"}
    ctx = Ctx(free.state.stegvis, UnitOfWork(free.state.stegvis.db), NOW)
    assert ctx.language == "sv"
    assert (ctx.use_language("fi"), ctx.gettext("Logga ut"), ctx.language) == ("fi", "Kirjaudu ulos", "fi")
    assert (ctx.use_language("de"), ctx.gettext("Logga ut")) == ("sv", "Logga ut")
    assert ctx.ngettext("%(num)s oläst", "%(num)s olästa", 1) == "1 oläst"
    other = Ctx(forced.state.stegvis, UnitOfWork(forced.state.stegvis.db), NOW)
    assert other.use_language("fi") == "en"


STEP = "/moment/{e}/steg/start/mitt-mal"


@pytest.mark.parametrize(("language", "expected", "swedish"), [
    ("fi", ("Lomaketta ei lähetetty", "Beskriv ditt mål – Vastaa kysymykseen.", "<title>Virhe: Mitt mål",
            "Lähetä", "Tallenna luonnos", "(pakollinen)", "Kirjoita kommentti"),
     ("Formuläret skickades inte", "Svara på frågan", "Spara utkast", "måste besvaras", "Skriv en kommentar")),
    ("en", ("The form was not sent", "Beskriv ditt mål – Answer the question.", "<title>Error: Mitt mål",
            "Save draft", "(required)", "Write a comment"),
     ("Formuläret skickades inte", "Svara på frågan", "Spara utkast", "måste besvaras", "Skriv en kommentar")),
])
def test_refused_form__errors_in_the_language(app_in, language, expected, swedish):
    application = app_in(language)
    people = seed(application)
    browser = Browser(application)
    try:
        assert browser.login("anna").status_code == 303
        refused = browser.post(STEP.format(e=people.enrolment_a), {"_form": "mal", "_action": "submit",
                                                                  "namn": "Mitt mål", "roker": "nej"})
    finally:
        browser.close()
    assert refused.status_code == 422 and _html_lang(refused.text) == language
    for text in expected:
        assert text in refused.text
    for text in swedish:
        assert text not in refused.text


@pytest.mark.parametrize(("language", "wanted"), [("sv", "Fel: </span>Skriv ett meddelande först."),
                                                  ("fi", "Virhe: </span>Kirjoita ensin viesti.")])
def test_empty_reply__asks_for_a_message_in_the_language(app_in, language, wanted):
    """The patient's empty reply is refused with "write a message first", in the patient's language."""
    application = app_in(None if language == "sv" else language)
    people = seed(application)
    browser = Browser(application)
    try:
        assert browser.login("anna").status_code == 303
        sent = browser.post(f"/moment/{people.enrolment_a}/meddelanden", {"subject": "Fråga", "body": "Hej"})
        reply = browser.post(sent.headers["location"].split("?")[0], {"body": "  "})
    finally:
        browser.close()
    assert reply.status_code == 422
    assert f'<span class="rt-visually-hidden">{wanted}' in reply.text


def test_plan_page__schedule_dates_and_numbers_in_the_language(app_in):
    application = app_in("fi")
    people = seed(application)
    page = _visit(application, "anna", f"/moment/{people.enrolment_a}/aktivitetsplaner/{people.plans_a['steg']}")
    assert page.status_code == 200
    for text in ("Aikataulu", "Maanantaina klo 19.00 ja keskiviikkona klo 19.00, joka viikko.",
                 "Ajankohta maanantai 2. maaliskuuta 2026 klo 19.00", "Voit tehdä merkinnän viimeistään",
                 "(pakollinen)", "Tee merkintä"):
        assert text in page.text
    for text in ("Schema", "varje vecka", "måndag 2 mars", "Registrera", "Tillfälle"):
        assert text not in page.text


def test_log_and_account_pages__in_the_language(app_in):
    application = app_in("en")
    people = seed(application)
    browser = Browser(application)
    try:
        assert browser.login("anna").status_code == 303
        browser.get(f"/moment/{people.enrolment_a}")
        log = browser.get("/mina-uppgifter/logg").text
        account = browser.get("/mina-uppgifter").text
        sessions = browser.get("/mina-uppgifter/inloggningar").text
    finally:
        browser.close()
    assert "You opened the home page of your programme." in log and "Monday, 2 March 2026 at 10:00" in log
    assert "Du öppnade" not in log and "måndag" not in log
    assert "Notifications" in account and "Add the contact" in account and "Aviseringar" not in account
    assert "This login" in sessions and "Den här inloggningen" not in sessions


def test_staff_pages_sharing_patient_templates__swedish(app_in):
    """The password page is one template for both; for staff it stays Swedish whatever the language."""
    application = app_in("fi")
    seed(application)
    page = _visit(application, "tove", "/personal/profil/losenord")
    assert page.status_code == 200 and _html_lang(page.text) == "sv"
    assert "Nuvarande lösenord" in page.text and "Nykyinen salasana" not in page.text
    patient = _visit(application, "anna", "/mina-uppgifter/losenord")
    assert _html_lang(patient.text) == "fi" and "Nykyinen salasana" in patient.text


def test_api__swedish_whatever_the_language(app_in):
    application = app_in("fi")
    seed(application)
    browser = Browser(application)
    try:
        assert browser.login("anna").status_code == 303
        missing = browser.get("/api/v1/enrolments/999999")
    finally:
        browser.close()
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Sidan finns inte, eller så har du inte tillgång till den."}


def test_refused_before_any_route__in_the_forced_language(app_in):
    """A body refused by the request limits (no route, no context) still gets a page in the language."""
    application = app_in("en")
    browser = Browser(application)
    try:
        too_big = browser.client.post("/logga-in", content=b"x" * 2_000_000,
                                      headers={"content-type": "application/x-www-form-urlencoded"})
    finally:
        browser.close()
    assert too_big.status_code == 413 and _html_lang(too_big.text) == "en"
    assert "Too large" in too_big.text and "What you sent is too large." in too_big.text


def test_patient_notice__text_in_the_given_language(app_in):
    settings = app_in(None).state.stegvis.settings.model_copy(update={"public_url": "https://stegvis.example"})
    catalogues = Catalogues.load(LOCALES)
    assert patient_text(settings, "FRAMÅT") == (
        "Nytt meddelande från din behandlare",
        "Du har ett nytt meddelande från din behandlare i FRAMÅT. Logga in på https://stegvis.example för att läsa "
        "det.\n\nDet går inte att svara på det här meddelandet.")
    assert patient_text(settings, None, catalogues.language("fi")) == (
        "Uusi viesti ammattilaiselta",
        "Sinulle on uusi viesti ammattilaiselta ohjelmassasi. Kirjaudu osoitteessa https://stegvis.example, "
        "niin voit lukea sen.\n\nTähän viestiin ei voi vastata.")
