"""The runtime in the patient's language (issue 18): catalogues complete and in step, pages per language.

- The catalogues (templates/runtime/locales/) hold exactly what `pybabel extract` finds in
  the sources today (babel.cfg), and every Finnish and English entry is translated, not
  fuzzy, with the same placeholders as its Swedish msgid (Babel's own checkers).
- A patient's page in Finnish or English carries `lang=` of that language and none of the
  Swedish chrome; Swedish pages are as before (the rest of the runtime suite); staff pages
  stay Swedish whatever the language; a language without a catalogue is Swedish.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from runtime.app import create_app
from runtime.i18n import SOURCE_LANGUAGE, Catalogues
from runtime.settings import TEMPLATES
from tests.runtime.conftest import ROOT, Browser, make_settings, seed

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
    assert extracted, "nothing marked for translation"
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
