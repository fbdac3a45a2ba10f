"""The enrolment's program in its language (issue 18): which package each part is shown from.

Input: the package store, an enrolment (its program version and `language`) and the
verified base package it is pinned to. Output: a `Reading`: for each module, step, form
and activity plan the patient sees, the package its text comes from.

An enrolment always stays on its base program: its modules, steps, answers, plans and
flags have the base's ids, and what the patient may see (current modules, hidden steps)
is decided on the base package. A translation package of the same program version
(`runtime.packages.PackageStore.translations`) only supplies the text: a step, form or
plan it has is shown from it; one it lacks is shown from the Swedish package, and the
page says that this part is not yet in the patient's language (`Reading.translated`).
A step the translation lists as outdated (its Swedish source changed since it was
translated) is still shown translated: the builder put a note on the step saying so, in
the patient's language, and a patient who chose Finnish is better served by a Finnish
text with that note than by a Swedish one.

Answers are checked, scored and flagged against the base's definitions only
(`runtime.services.patient`); the translation's definitions are for showing.

Must not: decide visibility from a translation package, or let a translation of another
program or version in (the store pairs them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from babel import Locale, UnknownLocaleError

from runtime.models import Enrolment, EnrolmentPlan
from runtime.packages import BASE_LANGUAGE, LANGUAGE_CODE, Package, PackageStore


@dataclass(frozen=True)
class Reading:
    """One enrolment's program as read in its language: the base package and the translation, if any."""

    base: Package
    language: str
    translation: Package | None

    @property
    def in_translation(self) -> bool:
        """Whether the enrolment reads another language than Swedish (so untranslated parts get a note)."""
        return self.language != BASE_LANGUAGE

    @property
    def title(self) -> str:
        """The program's title in the language (the base's when there is no translation)."""
        return (self.translation or self.base).title

    def module(self, module_id: str) -> dict | None:
        """A module of program.json for its title and description: the translation's when it has it."""
        return (self.translation and self.translation.module(module_id)) or self.base.module(module_id)

    def translated(self, module_id: str, step_id: str) -> bool:
        """Whether the step is shown in the enrolment's language (always, for Swedish)."""
        return not self.in_translation or (self.translation is not None
                                           and self.translation.step(module_id, step_id) is not None)

    def step(self, module_id: str, step_id: str) -> tuple[Package, tuple[dict, dict, dict]] | None:
        """The package a step is shown from and its (module, section, step): the translation's when it has it."""
        if self.translation is not None:
            found = self.translation.step(module_id, step_id)
            if found is not None:
                return self.translation, found
        found = self.base.step(module_id, step_id)
        return (self.base, found) if found is not None else None

    def form(self, form_id: str) -> tuple[Package, dict] | None:
        """The package a form is shown from and its definition (for labels, options and help texts)."""
        if self.translation is not None:
            found = self.translation.form(form_id)
            if found is not None:
                return self.translation, found
        found = self.base.form(form_id)
        return (self.base, found) if found is not None else None

    def form_translated(self, form_id: str) -> bool:
        """Whether the form is shown in the enrolment's language."""
        return not self.in_translation or (self.translation is not None and self.translation.form(form_id) is not None)

    def plan(self, plan: EnrolmentPlan) -> dict[str, Any] | None:
        """An activity plan's definition to show: the therapist's own (as written), else the translation's, else the base's."""
        if plan.definition:
            return plan.definition
        if not plan.plan_id:
            return None
        return (self.translation and self.translation.plan(plan.plan_id)) or self.base.plan(plan.plan_id)

    def plan_translated(self, plan: EnrolmentPlan) -> bool:
        """Whether the plan is shown in the enrolment's language (a therapist's own plan is as they wrote it)."""
        return (not self.in_translation or bool(plan.definition)
                or (self.translation is not None and plan.plan_id is not None
                    and self.translation.plan(plan.plan_id) is not None))


def reading(store: PackageStore, enrolment: Enrolment, base: Package) -> Reading:
    """The enrolment's program in its language; the translation is None when none is served (then all is Swedish)."""
    language = enrolment.language or BASE_LANGUAGE
    translation = None if language == BASE_LANGUAGE else store.translation(base.program_id, base.version, language)
    return Reading(base, language, translation)


def language_codes(store: PackageStore, program_id: str, version: str) -> list[str]:
    """The languages a program version can be read in: Swedish, then those with a served translation package."""
    return [BASE_LANGUAGE, *store.translations(program_id, version)]


def native_name(code: str) -> str:
    """A language's name in itself, as a choice in a list: "Svenska", "Suomi", "English" (the code if unknown)."""
    try:
        name = Locale.parse(code.replace("-", "_")).get_display_name(code.replace("-", "_")) or code
    except (ValueError, UnknownLocaleError):
        return code
    return name[:1].upper() + name[1:]


def swedish_name(code: str) -> str:
    """A language's Swedish name for the staff pages: "svenska", "finska" (the code if unknown)."""
    try:
        return Locale.parse(code.replace("-", "_")).get_display_name("sv") or code
    except (ValueError, UnknownLocaleError):
        return code


class LanguageRefused(ValueError):
    """A language the program version cannot be read in (the message is Swedish, for staff and the API)."""


def check_language(store: PackageStore, program_id: str, version: str, code: str | None) -> str:
    """`code` when the program version can be read in it ("" or None: Swedish); else LanguageRefused."""
    code = (code or "").strip() or BASE_LANGUAGE
    if not LANGUAGE_CODE.match(code):
        raise LanguageRefused("Välj ett språk i listan.")
    if code not in language_codes(store, program_id, version):
        raise LanguageRefused(f"Programmet finns inte på {swedish_name(code)} i den här versionen. "
                              "Välj svenska eller ett språk i listan.")
    return code
