"""The builder's own words on pages and in PDFs (the page chrome) in the program's language (issue 18).

Stage 6/7, render and pdf. Input: the templates folder and a program's language. Output:
`Chrome`, which gives the Jinja2 environment its gettext (`jinja2.ext.i18n`, newstyle),
translates what the renderers compose in Python (module kinds, form hints, PDF subjects)
and writes dates and numbers the way the language does (Babel).

The text an author writes is translated by translators (`builder.translation`); what the
builder itself writes (a skip link, "Lyssna på sidan", the pager, "Skicka in", "Källor",
"Senast granskad 2 december 2026", the reviewers' pages …; not the therapist guide, which is
Swedish) comes from gettext catalogues with the Swedish text as
msgid, one per language: `templates/locales/<lang>/LC_MESSAGES/pages.po` (domain `pages`,
shipped with the templates package). Swedish needs none: it is the source. A language
without a catalogue gets the Swedish chrome (the build says so: PAGES-001). Catalogues are
read as .po (no compiled .mo in git), and an untranslated or fuzzy entry shows the Swedish
text. `docs/translations.md` says how to add a language.

Must not: read anything but the templates' catalogues, nor keep global state beyond a
cache keyed by a catalogue's bytes.
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import jinja2
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, get_day_names
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

#: The gettext domain of the page chrome (the runtime's pages have their own, `runtime`).
DOMAIN = "pages"
#: The language of the templates' own text, and of every msgid.
SOURCE_LANGUAGE = "sv"
#: Where the catalogues live, inside the templates folder.
LOCALES = "locales"


def N_(msgid: str) -> str:  # noqa: N802 (the gettext convention for "mark, translate later")
    """Mark a Swedish text for extraction into the catalogues; it is translated where it is shown."""
    return msgid


def _primary(language: str) -> str:
    return language.replace("_", "-").split("-")[0].lower()


def is_source_language(language: str) -> bool:
    """Whether a language is the templates' own (Swedish): its chrome needs no catalogue."""
    return _primary(language) == SOURCE_LANGUAGE


def _locale_names(language: str) -> list[str]:
    """Catalogue folder names to try for a BCP 47 tag, most specific first: fi-FI → fi_FI, fi."""
    parts = language.replace("_", "-").split("-")
    names = ["_".join([parts[0].lower(), *parts[1:]])] if len(parts) > 1 else []
    return [*names, parts[0].lower()]


def catalogue_path(templates: Path, language: str) -> Path | None:
    """The pages catalogue of a language in a templates folder (None: Swedish, or no catalogue)."""
    if is_source_language(language):
        return None
    for name in _locale_names(language):
        path = templates / LOCALES / name / "LC_MESSAGES" / f"{DOMAIN}.po"
        if path.is_file():
            return path
    return None


def catalogue_key(templates: Path, language: str) -> str:
    """Which catalogue file a language reads, relative to the templates ("" when none)."""
    path = catalogue_path(templates, language)
    return path.relative_to(templates).as_posix() if path is not None else ""


@functools.lru_cache(maxsize=16)
def _translations(data: bytes, locale: str) -> Translations:
    """gettext translations of a .po file's bytes (fuzzy entries left out: they show Swedish)."""
    catalog = read_po(BytesIO(data), locale=locale, domain=DOMAIN)
    mo = BytesIO()
    write_mo(mo, catalog, use_fuzzy=False)
    mo.seek(0)
    return Translations(mo, domain=DOMAIN)


def _babel_locale(language: str, strict: bool = False) -> Locale:
    """Babel's locale of a language tag (Swedish for one Babel does not know, unless `strict`)."""
    for name in _locale_names(language):
        try:
            return Locale.parse(name)
        except (UnknownLocaleError, ValueError):
            continue
    if strict:
        raise UnknownLocaleError(language)
    return Locale.parse(SOURCE_LANGUAGE)


@dataclass(frozen=True)
class Chrome:
    """The page chrome of one language: gettext, dates and numbers."""

    #: the program's language (BCP 47)
    language: str
    #: the language the chrome is shown in: the program's, or Swedish when it has no catalogue
    shown: str
    translations: gettext.NullTranslations
    #: the catalogue read (None: Swedish, or none found)
    catalogue: Path | None

    @property
    def missing(self) -> bool:
        """True when the program's language has no catalogue, so its chrome is Swedish (PAGES-001)."""
        return self.catalogue is None and not is_source_language(self.language)

    def gettext(self, message: str) -> str:
        """A Swedish text of the builder in the chrome's language."""
        return self.translations.gettext(message)

    def __call__(self, message: str, **values: object) -> str:
        """gettext and %-format: `chrome("Steg %(n)s", n=3)`."""
        text = self.translations.gettext(message)
        return text % values if values else text

    @functools.cached_property
    def locale(self) -> Locale:
        return _babel_locale(self.shown)

    def date(self, day: dt.date) -> str:
        """A date as text in the chrome's language: 2 december 2026, 2. joulukuuta 2026."""
        return format_date(day, "long", locale=self.locale)

    def number(self, x: float | int) -> str:
        """A number as the language writes it: 0,5 in Swedish, 0.5 in English (no grouping)."""
        if is_source_language(self.shown):
            return f"{x:g}".replace(".", ",")
        return format_decimal(x, locale=self.locale, group_separator=False)

    def weekday(self, index: int) -> str:
        """A weekday's name (0 = Monday) standing alone, as in a table's row: måndag, maanantai."""
        return get_day_names("wide", context="stand-alone", locale=self.locale)[index]

    @functools.cached_property
    def language_name(self) -> str:
        """The program's language named in itself, as a caption track's label: Svenska, Suomi."""
        try:
            name = _babel_locale(self.language, strict=True).get_language_name() or self.language
        except (UnknownLocaleError, ValueError):
            name = self.language
        return name[:1].upper() + name[1:]

    def quoted(self, text: str) -> str:
        """A text in the language's quotation marks: ”…” in Swedish and Finnish."""
        return self(N_("”%(text)s”"), text=text)

    def install(self, env: jinja2.Environment) -> None:
        """Give a Jinja2 environment (with `jinja2.ext.i18n`) this chrome's gettext.

        An environment renders one program at a time: the renderer installs its program's
        chrome before rendering."""
        env.install_gettext_translations(self.translations, newstyle=True)


#: The chrome of the templates as they are: Swedish.
SWEDISH = Chrome(SOURCE_LANGUAGE, SOURCE_LANGUAGE, gettext.NullTranslations(), None)


def chrome_for(templates: Path, language: str) -> Chrome:
    """The chrome of a program in `language` from the catalogues of a templates folder."""
    path = catalogue_path(templates, language)
    if path is None:
        return Chrome(language, SOURCE_LANGUAGE, gettext.NullTranslations(), None)
    return Chrome(language, language, _translations(path.read_bytes(), path.parent.parent.name), path)
