"""program.yaml: the program's identity, module order, lexicon and metadata."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, RootModel
from pydantic_core import PydanticCustomError

from builder.schema.common import Id, Model

SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


def check_semver(value: str) -> str:
    if not SEMVER.match(value):
        raise PydanticCustomError("semver", "not semver {value}", {"value": value})
    return value


class LexiconFile(RootModel[dict[str, str]]):
    """lexicon.yaml: written form -> spoken form."""

    model_config = ConfigDict(strict=True)


class Contact(Model):
    name: str
    role: str | None = None
    phone: str | None = None
    email: str | None = None
    hours: str | None = None
    url: str | None = None


class Code(Model):
    system: str
    code: str
    text: str


class JournalNotes(Model):
    """The text the region asks for in the record at each point of the workflow (issue #15)."""

    start: str | None = Field(None, description="Journaltext när programmet startas.")
    review: str | None = Field(None, description="Journaltext när behandlaren granskar patientens arbete.")
    end: str | None = Field(None, description="Journaltext vid vidmakthållande eller avslut.")


class JournalCode(Model):
    code: str
    text: str
    system: str | None = None


class Journal(Model):
    """How the region documents the program in the medical record: wording and codes (issue #15)."""

    note_template: str | None = Field(None, description=(
        "Hur programmet journalförs, med regionens ord (till exempel sökord, mall och vad en "
        "sammanfattning ska ta upp)."))
    notes: JournalNotes = JournalNotes()
    codes: list[JournalCode] = Field([], description=(
        "Koder som behandlaren anger i journalen eller vårdkontaktregistreringen, t.ex. AN5, AN24, ZV044."))


class Administration(Model):
    patient_fee: str | None = None
    codes: list[Code] = []
    journal: Journal | None = None


#: Plain-language ("klarspråk") hints: a word or phrase and what to write instead.
PLAIN_LANGUAGE = {
    "erhålla": "få", "erhåller": "får", "erhöll": "fick", "tillhandahålla": "ge", "tillhandahåller": "ger",
    "avseende": "om", "i enlighet med": "enligt", "ombesörja": "se till", "föreligga": "finnas",
    "föreligger": "finns", "i syfte att": "för att", "vederbörande": "den det gäller", "emellertid": "men",
    "beakta": "tänka på", "inneha": "ha", "nyttja": "använda", "nyttjar": "använder", "erforderlig": "nödvändig",
    "tillse": "se till", "därest": "om", "såsom": "som", "icke": "inte", "skall": "ska", "torde": "bör",
    "i dagsläget": "nu", "på grund av att": "eftersom", "med anledning av": "på grund av",
}

#: Spellings of common abbreviations: a variant and the form the program uses.
SPELLING = {"t ex": "t.ex.", "t. ex.": "t.ex.", "tex.": "t.ex.", "bl a": "bl.a.", "bl. a.": "bl.a.",
            "d v s": "dvs.", "d.v.s.": "dvs.", "m m": "m.m.", "o s v": "osv.", "o.s.v.": "osv.", "ca.": "ca"}


class Readability(Model):
    lix_warning: Annotated[int, Field(ge=10, le=100)] = 50
    max_sentence_words: Annotated[int, Field(ge=5, le=200)] = 25
    plain_language: dict[str, str] = {}  # added to the built-in hints (an empty value drops one)
    spelling: dict[str, str] = {}  # added to the built-in spellings
    terms: list[str] = []  # program terms always written this way, e.g. FRAMÅT

    def plain_language_hints(self) -> dict[str, str]:
        return {k: v for k, v in (PLAIN_LANGUAGE | self.plain_language).items() if v}

    def spellings(self) -> dict[str, str]:
        return {k: v for k, v in (SPELLING | self.spelling).items() if v}


class Removal(Model):
    modules: list[str] = []
    steps: list[str] = []  # "module/step"
    forms: list[str] = []
    activity_plans: list[str] = []


class Hiding(Model):
    steps: list[str] = []  # "module/step"


class OverlaySpec(Model):
    """The overlay-only keys of an overlay's program.yaml (the rest is ProgramMeta's)."""

    extends: str
    remove: Removal = Removal()
    hide: Hiding = Hiding()
    #: Regional words in the text the overlay inherits: the base's word -> the region's
    #: (`vårdcentral: hälsocentral`). Checked by `builder.terms` (OVERLAY-104..107), not here.
    terms: dict[str, str] = Field(default={}, description=(
        "Regionens ord i den text som överlagringen ärver: basens ord → regionens, t.ex. "
        "vårdcentral: hälsocentral. Böjningar (vårdcentralen, vårdcentraler …) och stor "
        "bokstav följer med. Se docs/overlays.md."))


class TranslationSpec(Model):
    """The translation-only keys of a translation's program.yaml (issue 18; docs/translations.md)."""

    translates: str = Field(description="Basprogrammets mapp, räknat från översättningens mapp, t.ex. ../../content.")
    language: str = Field(description="Översättningens språk (BCP 47), t.ex. fi, smj, ar, fa.")


#: Keys an overlay must set itself, so that nobody publishes a region's version under the base's name.
OVERLAY_REQUIRED = ("id", "title", "version", "publisher")


#: Languages written right to left: their pages and PDFs get dir="rtl" (issue 18).
RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur", "ps", "ckb", "yi", "dv"})


def text_direction(language: str) -> str:
    """'rtl' for a language written right to left (Arabic, Persian …), else 'ltr'."""
    return "rtl" if language.split("-")[0].lower() in RTL_LANGUAGES else "ltr"


class ProgramMeta(Model):
    id: Id
    title: str
    # A number such as 1.0 is read as text so that the author gets the semver hint.
    version: Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, (int, float)) else v),
                       AfterValidator(check_semver)]
    language: str = "sv"
    publisher: str
    description: str = ""
    modules: list[str]
    lexicon: dict[str, str] = {}
    readability: Readability = Readability()
    contacts: list[Contact] = []
    #: Support for staff (issue #15): shown on the staff pages and in the therapist guide, never to patients.
    support_contacts: list[Contact] = Field([], description=(
        "Support för vårdpersonal (regional och nationell support): visas för personalen i tjänsten och i "
        "metodstödet, aldrig för patienter."))
    administration: Administration | None = None
    silence: list[str] = []

    @property
    def direction(self) -> str:
        """The writing direction of the program's language: 'rtl' or 'ltr' (the pages' `dir`)."""
        return text_direction(self.language)
