"""The runtime in the patient's language (issue 18): gettext catalogues, the language of a page, dates.

Swedish is the source language: the runtime's own patient-facing strings are written in
Swedish in the templates and the code, and those Swedish strings are the msgids of the
catalogues `templates/runtime/locales/<lang>/LC_MESSAGES/runtime.po` (Finnish, English).
`runtime.pot` beside them is what `pybabel extract` (with `babel.cfg` at the repository's
root) makes of the sources; `make catalogues` refreshes both, and
`tests/runtime/test_i18n.py` fails when a catalogue is out of step or incomplete. Staff
pages (templates/runtime/staff/, runtime/staff/) are Swedish only and never extracted.

- `Catalogues` reads every `.po` once, when the app starts (no compiled `.mo` files in
  git), and keeps one `babel.support.Translations` per language on the app state.
  A language without a catalogue gets Swedish.
- The language of a unit of work is `runtime.context.Ctx.language` ("sv" unless set):
  set it with `Ctx.use_language(code)` (an unknown code falls back to Swedish; the
  setting `force_language` overrides it, for tests and demonstrations). `runtime.web.render`
  renders a page with that language's translations (`_`, `gettext`, `ngettext` and
  `{% trans %}` in templates; `lang=` of the layout), except the staff pages.
- `N_` marks a Swedish string for extraction where it is written (an `AppError` message,
  a constant) and translated where it is shown.
- Dates and times the patient sees are formatted per language with Babel in the app's
  time zone (`format_day`, `format_moment`).

Must not: keep per-request or per-app state in module globals (`Catalogues` lives on the app state).
"""

from __future__ import annotations

import gettext as gettext_module
from dataclasses import dataclass, field
from datetime import date, datetime
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

#: The language the runtime's strings are written in (the msgids), and the fallback.
SOURCE_LANGUAGE = "sv"
#: The gettext domain of the runtime's catalogues.
DOMAIN = "runtime"


def N_(message: str) -> str:  # noqa: N802 (gettext's name for a no-op marker)
    """Mark a Swedish string for extraction; it is translated later, where it is shown."""
    return message


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
    """The runtime's translations, one per language with a catalogue; Swedish is the strings themselves."""

    by_language: dict[str, gettext_module.NullTranslations] = field(
        default_factory=lambda: {SOURCE_LANGUAGE: NullTranslations()})
    #: The template callables of each language, made once (`template_callables`).
    _callables: dict[str, dict] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, folder: Path) -> Catalogues:
        """Read every `<folder>/<lang>/LC_MESSAGES/runtime.po` (once, at app start)."""
        found: dict[str, gettext_module.NullTranslations] = {SOURCE_LANGUAGE: NullTranslations()}
        for po_file in sorted(folder.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            found[po_file.parent.parent.name] = _load(po_file)
        return cls(found)

    def languages(self) -> list[str]:
        """The languages offered: Swedish first, then those with a catalogue, sorted."""
        return [SOURCE_LANGUAGE] + sorted(code for code in self.by_language if code != SOURCE_LANGUAGE)

    def language(self, code: str | None) -> str:
        """`code` when it has a catalogue (or is Swedish), else Swedish."""
        return code if code in self.by_language else SOURCE_LANGUAGE

    def translations(self, code: str | None) -> gettext_module.NullTranslations:
        """The translations of `code`; Swedish (the strings as written) when it has no catalogue."""
        return self.by_language.get(code or SOURCE_LANGUAGE) or self.by_language[SOURCE_LANGUAGE]

    def template_callables(self, code: str | None) -> dict:
        """`_`, `gettext` and `ngettext` for a template rendered in `code` (see `template_callables`)."""
        code = self.language(code)
        if code not in self._callables:
            self._callables[code] = template_callables(self.by_language[code])
        return self._callables[code]

    def available_languages(self) -> dict[str, str]:
        """Language code -> its name in that language ("sv": "Svenska", "fi": "Suomi", "en": "English")."""
        return {code: native_name(code) for code in self.languages()}


def template_callables(translations: gettext_module.NullTranslations) -> dict:
    """`_`, `gettext` and `ngettext` for one render, as jinja2.ext.i18n's "newstyle" callables.

    The runtime's Jinja2 environment is shared by every request (and thread), so the
    language is never installed on it (`install_gettext_callables` sets its globals, for
    all); `runtime.web.render` passes these in the render's values instead, where they hide
    the environment's Swedish ones. Newstyle: `_("Hej %(name)s", name=x)` fills and escapes
    the values; `{% trans %}` calls the same; a literal per cent sign is written `%%`.
    """

    @pass_context
    def gettext(context: Context, message: str, **variables: object) -> str:
        text = translations.gettext(message)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    @pass_context
    def ngettext(context: Context, singular: str, plural: str, num: int, **variables: object) -> str:
        variables.setdefault("num", num)
        text = translations.ngettext(singular, plural, num)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return {"_": gettext, "gettext": gettext, "ngettext": ngettext}


def native_name(code: str) -> str:
    """A language's name in itself, capitalised as a choice in a list: "Svenska", "Suomi", "English"."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


def format_day(day: date, language: str, weekday: bool = False, year: bool = True) -> str:
    """A day in words: "2 mars 2026", "2. maaliskuuta 2026", "March 2, 2026" (with `weekday`: "måndag 2 mars 2026")."""
    if weekday and year:
        return format_date(day, "full", locale=language)
    if year:
        return format_date(day, "long", locale=language)
    return format_skeleton("MMMMEEEEd" if weekday else "MMMMd", day, locale=language)


def format_clock(moment: datetime, tz: ZoneInfo, language: str) -> str:
    """The time of day in `tz`: "18.05" in Swedish and Finnish, "6:05 PM" in English."""
    local = moment.astimezone(tz)
    if language == SOURCE_LANGUAGE:
        return f"{local:%H.%M}"  # Swedish writes 18.05 (Språkrådet), not CLDR's 18:05
    return format_time(local.time(), "short", locale=language)


def format_moment(moment: datetime, tz: ZoneInfo, translations: gettext_module.NullTranslations, language: str,
                  weekday: bool = False) -> str:
    """A day and time: "2 mars 2026 kl. 18.05", "2. maaliskuuta 2026 klo 18.05", "March 2, 2026 at 6:05 PM"."""
    local = moment.astimezone(tz)
    return translations.gettext("%(day)s kl. %(time)s") % {
        "day": format_day(local.date(), language, weekday=weekday), "time": format_clock(local, tz, language)}
