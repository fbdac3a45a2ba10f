"""The runtime in the patient's language (issue 18): gettext catalogues, the language of a page, dates.

Swedish is the source language: the runtime's own patient-facing strings are written in
Swedish in the templates and the code, and those Swedish strings are the msgids of the
catalogues `templates/runtime/locales/<lang>/LC_MESSAGES/runtime.po` (Finnish, English).
`runtime.pot` beside them is what `pybabel extract` (with `babel.cfg` at the repository's
root) makes of the sources; `make catalogues` refreshes both, and
`tests/runtime/test_i18n.py` fails when a catalogue is out of step or incomplete. Staff
pages (templates/runtime/staff/, runtime/staff/) are Swedish only and never extracted.

- `Catalogues` reads every `.po` once, when the app starts (no compiled `.mo` files in
  git), and keeps one `Language` (a `babel.support.Translations`) per language on the
  app state. A language without a catalogue gets Swedish.
- The language of a unit of work is `runtime.context.Ctx.language` ("sv" unless set):
  set it with `Ctx.use_language(code)` (an unknown code falls back to Swedish; the
  setting `force_language` overrides it, for tests and demonstrations). `runtime.web.render`
  renders a page in that language (`_`, `gettext`, `ngettext` and `{% trans %}` in
  templates; `lang=` of the layout), except the staff pages, which are Swedish.
- Code that makes a message without knowing who will read it (a service's refusal, a
  form's validation error, a date) makes a `Localised` string: `N_("Skriv %(what)s först.",
  what=…)`, `NP_(singular, plural, n)`, `Day(date)`, `Moment(datetime, tz)`. It *is* the
  Swedish text (a `str`: the API, the logs and the staff pages use it as it is) and knows
  how to say itself in another language: a page's template shows it in the page's
  language (the environment's `finalize`, `runtime.web.make_templates`).
- Dates and times are formatted with Babel per language in the app's time zone.

Must not: keep per-request or per-app state in module globals (`Catalogues` lives on the
app state; the only module-level cache is of a pure function, `format_day`).
"""

from __future__ import annotations

import functools
import gettext as gettext_module
from dataclasses import dataclass, field
from datetime import date, datetime, time
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time, get_day_names
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

#: The language the runtime's strings are written in (the msgids), and the fallback.
SOURCE_LANGUAGE = "sv"
#: The gettext domain of the runtime's catalogues.
DOMAIN = "runtime"
#: The Babel locale that formats a language's dates, times, numbers and lists, where it is not the code
#: itself: English as it is written in Europe ("2 March 2026", "18:05"), like the catalogue's British spelling.
FORMAT_LOCALES = {"en": "en_GB"}


def formatting_locale(code: str) -> str:
    """The Babel locale for dates, times, numbers and lists in the language `code`."""
    return FORMAT_LOCALES.get(code, code)


@dataclass(frozen=True)
class Language:
    """One language of the patient's pages: its code and its translations (Swedish: none needed)."""

    code: str
    translations: gettext_module.NullTranslations = field(compare=False)

    def gettext(self, message: str, /, **params: Any) -> str:
        """`message` (a Swedish msgid) in this language, `%(name)s` filled from `params` (localised too)."""
        text = self.translations.gettext(message)
        return text % {k: self.localise(v) for k, v in params.items()} if params else text

    def ngettext(self, singular: str, plural: str, n: int, /, **params: Any) -> str:
        """The form for `n` in this language; `%(num)s` is `n`."""
        text = self.translations.ngettext(singular, plural, n)
        return text % {"num": n, **{k: self.localise(v) for k, v in params.items()}}

    def localise(self, value: Any) -> Any:
        """A `Localised` value in this language; anything else as it is."""
        return value.translate(self) if isinstance(value, Localised) else value


#: Swedish, the strings as they are written.
SWEDISH = Language(SOURCE_LANGUAGE, NullTranslations())


class Localised(str):
    """A string that is Swedish as a `str` and can say itself in another language (`translate`)."""

    def translate(self, language: Language) -> str:  # noqa: D102 (see subclasses)
        raise NotImplementedError

    def __reduce__(self) -> tuple:
        """Copied or pickled, it is the Swedish string it stands for."""
        return (str, (str(self),))


class Text(Localised):
    """A message marked for the catalogues (made by `N_` or `NP_`), translated where it is shown."""

    msgid: str
    plural: str | None
    n: int | None
    params: dict[str, Any]

    def __new__(cls, msgid: str, params: dict[str, Any], plural: str | None = None, n: int | None = None) -> Text:
        """Use `N_` and `NP_`, which `pybabel extract` finds."""
        if plural is None:
            swedish = SWEDISH.gettext(msgid, **params)
        else:
            swedish = SWEDISH.ngettext(msgid, plural, n, **params)
        self = super().__new__(cls, swedish)
        self.msgid, self.plural, self.n, self.params = msgid, plural, n, params
        return self

    def translate(self, language: Language) -> str:
        """This message in `language` (its values too, when they are `Localised`)."""
        if self.plural is None:
            return language.gettext(self.msgid, **self.params)
        return language.ngettext(self.msgid, self.plural, self.n, **self.params)


def N_(message: str, /, **params: Any) -> Text:  # noqa: N802 (gettext's name for a deferred message)
    """A Swedish message for the catalogues, translated where it is shown; `%(name)s` from `params`."""
    return Text(message, params)


def NP_(singular: str, plural: str, n: int, /, **params: Any) -> Text:  # noqa: N802
    """`N_` with a plural: the form for `n` (`%(num)s`) in the language it is shown in."""
    return Text(singular, params, plural, n)


class Day(Localised):
    """A day in words: "2 mars 2026" (with `weekday`: "måndag 2 mars 2026"; without `year`: "2 mars")."""

    day: date
    options: tuple[bool, bool]

    def __new__(cls, day: date, weekday: bool = False, year: bool = True) -> Day:
        """The day, Swedish as a string."""
        self = super().__new__(cls, format_day(day, SOURCE_LANGUAGE, weekday, year))
        self.day, self.options = day, (weekday, year)
        return self

    def translate(self, language: Language) -> str:
        """The day in `language`: "2. maaliskuuta 2026", "2 March 2026"."""
        return format_day(self.day, language.code, *self.options)


class Moment(Localised):
    """A day and time of day in a time zone: "2 mars 2026 kl. 18.05"."""

    moment: datetime
    tz: ZoneInfo
    weekday: bool

    def __new__(cls, moment: datetime, tz: ZoneInfo, weekday: bool = False) -> Moment:
        """The moment, Swedish as a string."""
        self = super().__new__(cls, format_moment(moment, tz, SWEDISH, weekday))
        self.moment, self.tz, self.weekday = moment, tz, weekday
        return self

    def translate(self, language: Language) -> str:
        """The moment in `language`: "2. maaliskuuta 2026 klo 18.05", "2 March 2026 at 18:05"."""
        return format_moment(self.moment, self.tz, language, self.weekday)


class Deferred(Localised):
    """A text made by a function of the language: `make(SWEDISH)` as a string, `make(language)` where shown.

    For texts put together from several translated parts (a schedule, a list of choices);
    `make` uses `language.gettext` / `language.ngettext`, which `pybabel extract` finds.
    """

    make: Any

    def __new__(cls, make: Any) -> Deferred:
        """`make`: Language -> str."""
        self = super().__new__(cls, make(SWEDISH))
        self.make = make
        return self

    def translate(self, language: Language) -> str:
        """The text made in `language`."""
        return self.make(language)


class Number(Localised):
    """A number as written in a language: "1,5" and "12 000" in Swedish and Finnish, "1.5" and "12,000" in English."""

    value: float | int

    def __new__(cls, value: float | int, swedish: str) -> Number:
        """The number, with its Swedish form as the caller writes it (the runtime's own rules, kept as they were)."""
        self = super().__new__(cls, swedish)
        self.value = value
        return self

    def translate(self, language: Language) -> str:
        """The number in `language` (Babel's decimal format)."""
        if language.code == SOURCE_LANGUAGE:
            return str(self)
        return format_decimal(self.value, locale=formatting_locale(language.code), decimal_quantization=False)


class Alternatives(Localised):
    """Choices joined by "or": "”Ja” eller ”Nej”" ("”Kyllä” tai ”Ei”", "”Yes” or ”No”")."""

    items: tuple[str, ...]

    def __new__(cls, items: list[str]) -> Alternatives:
        """The items (already quoted as they should be shown), joined the Swedish way: " eller " between each."""
        self = super().__new__(cls, " eller ".join(items))  # as the builder's pages say it (builder.render.forms)
        self.items = tuple(items)
        return self

    def translate(self, language: Language) -> str:
        """The items joined in `language` (Babel's "or" list)."""
        if language.code == SOURCE_LANGUAGE:
            return str(self)
        return format_list([language.localise(i) for i in self.items], style="or",
                           locale=formatting_locale(language.code))


@functools.lru_cache(maxsize=4096)
def format_day(day: date, language: str, weekday: bool = False, year: bool = True) -> str:
    """A day in words in `language` (Babel's long or full date; without the year, its skeleton)."""
    locale = formatting_locale(language)
    if weekday and year:
        return format_date(day, "full", locale=locale)
    if year:
        return format_date(day, "long", locale=locale)
    return format_skeleton("MMMMEEEEd" if weekday else "MMMMd", day, locale=locale)


def format_clock(moment: datetime, tz: ZoneInfo, language: str) -> str:
    """The time of day in `tz`: "18.05" in Swedish and Finnish, "18:05" in English."""
    return format_time_of_day(moment.astimezone(tz).time(), language)


def format_time_of_day(clock: time, language: str) -> str:
    """A time of day: "18.05" in Swedish and Finnish, "18:05" in English."""
    if language == SOURCE_LANGUAGE:
        return f"{clock:%H.%M}"  # Swedish writes 18.05 (Språkrådet), not CLDR's 18:05
    return format_time(clock, "short", locale=formatting_locale(language))


def weekday_name(index: int, language: str) -> str:
    """The name of a weekday (0 is Monday) in `language`, as within a sentence: "måndag", "maanantai", "Monday"."""
    return get_day_names("wide", locale=formatting_locale(language))[index]


def format_moment(moment: datetime, tz: ZoneInfo, language: Language, weekday: bool = False) -> str:
    """A day and time in `language`, in `tz`."""
    local = moment.astimezone(tz)
    return language.gettext("%(day)s kl. %(time)s", day=format_day(local.date(), language.code, weekday),
                            time=format_clock(local, tz, language.code))


# --- catalogues ----------------------------------------------------------------------------------


def catalogue_folder(templates: Path) -> Path:
    """Where the runtime's catalogues live: templates/runtime/locales/ (shipped in the wheel)."""
    return templates / "locales"


def _load(po_file: Path) -> Translations:
    """A `.po` file as Translations: read with Babel, compiled to a `.mo` in memory."""
    with po_file.open("rb") as handle:
        catalogue = read_po(handle, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalogue, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@dataclass
class Catalogues:
    """The runtime's languages: Swedish, and one per catalogue found."""

    by_language: dict[str, Language] = field(default_factory=lambda: {SOURCE_LANGUAGE: SWEDISH})
    #: The template callables of each language, made once (`template_callables`).
    _callables: dict[str, dict] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, folder: Path) -> Catalogues:
        """Read every `<folder>/<lang>/LC_MESSAGES/runtime.po` (once, at app start)."""
        found = {SOURCE_LANGUAGE: SWEDISH}
        for po_file in sorted(folder.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            code = po_file.parent.parent.name
            found[code] = Language(code, _load(po_file))
        return cls(found)

    def languages(self) -> list[str]:
        """The languages offered: Swedish first, then those with a catalogue, sorted."""
        return [SOURCE_LANGUAGE] + sorted(code for code in self.by_language if code != SOURCE_LANGUAGE)

    def language(self, code: str | None) -> Language:
        """The language `code` when it has a catalogue (or is Swedish), else Swedish."""
        return self.by_language.get(code or SOURCE_LANGUAGE) or SWEDISH

    def template_values(self, code: str | None) -> dict[str, Any]:
        """What a template rendered in `code` needs: `page_language` (for lang=), `_language`, `_`, `ngettext`."""
        language = self.language(code)
        if language.code not in self._callables:
            self._callables[language.code] = {"page_language": language.code, "_language": language,
                                              **template_callables(language)}
        return self._callables[language.code]

    def available_languages(self) -> dict[str, str]:
        """Language code -> its name in that language ("sv": "Svenska", "fi": "Suomi", "en": "English")."""
        return {code: native_name(code) for code in self.languages()}


def template_callables(language: Language) -> dict[str, Any]:
    """`_`, `gettext` and `ngettext` for one render, as jinja2.ext.i18n's "newstyle" callables.

    The runtime's Jinja2 environment is shared by every request (and thread), so the
    language is never installed on it (`install_gettext_callables` sets its globals, for
    all); `runtime.web.render` passes these in the render's values instead, where they hide
    the environment's Swedish ones. Newstyle: `_("Hej %(name)s", name=x)` fills and escapes
    the values; `{% trans %}` calls the same; a literal per cent sign is written `%%`.
    """
    translations = language.translations

    @pass_context
    def gettext(context: Context, message: str, /, **variables: Any) -> str:
        text = translations.gettext(message)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % {k: language.localise(v) for k, v in variables.items()}

    @pass_context
    def ngettext(context: Context, singular: str, plural: str, num: int, /, **variables: Any) -> str:
        variables.setdefault("num", num)
        text = translations.ngettext(singular, plural, num)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % {k: language.localise(v) for k, v in variables.items()}

    return {"_": gettext, "gettext": gettext, "ngettext": ngettext}


@pass_context
def localise_output(context: Context, value: Any) -> Any:
    """The Jinja2 environment's `finalize`: a `Localised` value in the language of the page being rendered."""
    if isinstance(value, Localised):
        language = context.get("_language")
        return value.translate(language) if isinstance(language, Language) else value
    return value


def native_name(code: str) -> str:
    """A language's name in itself, capitalised as a choice in a list: "Svenska", "Suomi", "English"."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]
