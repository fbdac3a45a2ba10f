"""Print HTML of the therapist guide (metodstöd) and the patient brochure, from the program source.

Stage 7, pdf. Input: a checked `Program` and a `PrintRenderer` (shared with the
program book, for Markdown and templates). Output: two `PrintDocument`s, each one PDF.

The guide says what a therapist needs to run the program: its purpose and structure,
every module (kind, default start, sections and steps), every form (required, page
comments, what raises a flag, scoring bands), every activity plan with its default
schedule, the flags the therapist will see, the roles in a care unit and the
workflow from start to purge (issue #15, from the structure of a method support, in
our words), and the administrative metadata of program.yaml (`administration`: fee,
codes, journal wording; `support_contacts`; where to report a deviation). The brochure tells a patient what the program is, its
modules, how to log in and where to get help (`contacts` in program.yaml). Everything
program-specific comes from the source; nothing about a program is written here.

Must not lay out or write PDFs; no logic in the templates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from markupsafe import Markup

from builder.model import Program
from builder.paths import BROCHURE, GUIDE
from builder.render.chrome import SWEDISH
from builder.render.forms import BandTable, band_tables
from builder.render.html import KIND, START, WEEKDAY_ORDER
from builder.render.pdf_html import (
    KIND_PLURAL,
    Fragment,
    PdfSpec,
    PrintDocument,
    PrintRenderer,
    book_order,
    number,
)
from builder.schema.form import Form, Question

QUESTION_TYPES = {
    "text": "kort text",
    "textarea": "längre text (skrivuppgift)",
    "single": "ett val",
    "multi": "flera val",
    "scale": "skala",
    "number": "tal",
    "date": "datum",
    "time": "klockslag (TT:MM)",
    "duration": "tidslängd i minuter",
    "display": "text eller bild, ingen fråga",
}
YES_NO = {True: "Ja", False: "Nej"}


def contact_rows(program: Program, reachable_only: bool = False, staff: bool = False) -> list[dict[str, str]]:
    """Support contacts from program.yaml: name, what they help with, how to reach them.

    `reachable_only` keeps those with a phone number, an e-mail or a web address: the
    brochure cannot send a patient to a contact that says only where staff find it.
    `staff`: the support for staff (`support_contacts`) instead of the patients' contacts.
    """
    contacts = program.meta.support_contacts if staff else program.meta.contacts
    return [{"name": c.name, "role": " ".join((c.role or "").split()),
             "reach": ", ".join(part for part in (c.phone, c.email, c.hours, c.url) if part)}
            for c in contacts if not reachable_only or c.phone or c.email or c.url]


#: The roles of a care unit and what each does in Stegvis (runtime.services.access holds the policy).
ROLES = [
    ("Behandlare", "Startar moment och blir behandlare för dem, anpassar dem, granskar patientens arbete, "
                   "skriver till patienten, sätter moment i vidmakthållande och avslutar dem. Ser vårdenhetens "
                   "övriga moment men ändrar bara sina egna."),
    ("Invånaradministratör", "Ser och följer alla moment på vårdenheten, startar och avslutar moment, byter "
                             "behandlare (till exempel vid frånvaro) och lämnar över moment till en annan "
                             "vårdenhet."),
    ("Behörighetsadministratör", "Ger vårdenhetens personal roller och tar bort dem, lägger till och skapar "
                                 "konton."),
    ("Dataadministratör", "Gallrar avslutade moment när gallringsfristen har gått ut, ställer in vårdenhetens "
                          "gallringsfrister och tar fram loggutdrag åt patienter."),
]
JOURNAL_WHEN = {"start": "Vid start", "review": "Vid granskning", "end": "Vid vidmakthållande eller avslut"}


@dataclass
class GuideQuestion:
    label: str
    type: str
    required: bool
    condition: str | None
    options: list[str] = field(default_factory=list)


@dataclass
class GuideForm:
    anchor: str
    title: str
    description: Markup | None
    facts: list[tuple[str, str]]
    questions: list[GuideQuestion]
    scored: list[str] | None = None  # labels of the questions whose points are summed
    bands: list[BandTable] = field(default_factory=list)
    note: str | None = None


@dataclass
class GuidePlan:
    anchor: str
    title: str
    description: Markup | None
    fields: list[GuideQuestion]
    schedule: list[tuple[str, str]]
    results: list[tuple[str, str]]


def guide_question(q: Question, by_id: dict[str, Question], render_md: Callable[[str], Markup]) -> GuideQuestion:
    """One question as the therapist reads it: type, range, options with points, condition."""
    label = render_md(q.label).striptags() if q.type == "display" else q.label
    kind = QUESTION_TYPES[q.type]
    if q.type in ("scale", "number", "duration") and q.min is not None and q.max is not None:
        kind += f" {number(q.min)}–{number(q.max)}"
    if q.unit:
        kind += f" ({q.unit})"
    condition = None
    if q.show_if is not None:
        target = by_id[q.show_if.question]
        values = [q.show_if.equals] if q.show_if.any_of is None else q.show_if.any_of
        labels = {str(o.value): o.label for o in target.options or []}
        shown = " eller ".join(f"”{labels.get(str(v), v)}”" for v in values)
        condition = f"Visas bara när svaret på ”{target.label}” är {shown}."
    options = []
    for o in q.options or []:
        points = f" ({number(o.points)} p)" if o.points is not None else ""
        alone = " (väljs ensamt)" if o.exclusive and q.type == "multi" else ""
        options.append(f"{o.label}{points}{alone}")
    if q.type == "scale" and q.labels:
        options = [f"{number(v)} = {text}" for v, text in sorted(q.labels.items())]
    return GuideQuestion(label, kind, q.required, condition, options)


def _questions(questions: list[Question], render_md: Callable[[str], Markup]) -> list[GuideQuestion]:
    by_id = {q.id: q for q in questions}
    return [guide_question(q, by_id, render_md) for q in questions]


class GuideBuilder:
    """Computes every value the guide and brochure templates show."""

    def __init__(self, program: Program, renderer: PrintRenderer) -> None:
        self.program = program
        self.r = renderer
        self.env = renderer.env

    def render(self, template: str, **values) -> str:
        return self.env.get_template(f"print/guide/{template}").render(program=self.program.meta, **values)

    # -- chapters -------------------------------------------------------------------------
    def about(self) -> Fragment:
        p = self.program
        rows = [{"title": m.meta.title, "kind": KIND[m.meta.kind], "start": START[m.meta.start],
                 "steps": len(m.steps), "href": f"#guide--modul--{m.id}"} for m in book_order(p)]
        core = sum(1 for m in p.modules if m.meta.kind == "core")
        structure = (f"Programmet har {len(p.modules)} moduler ({core} grundmoduler och "
                     f"{len(p.modules) - core} fördjupningsmoduler) med sammanlagt {len(p.steps)} steg, "
                     f"{len(p.forms)} formulär och skrivuppgifter och {len(p.plans)} aktivitetsplaner.")
        return Fragment("kapitel--om", self.render(
            "about.html", anchor="kapitel--om", description=p.meta.description.strip(),
            structure=structure, modules=rows))

    def modules(self) -> Fragment:
        modules = []
        for m in book_order(self.program):
            sections = []
            for s in m.sections:
                steps = []
                for st in s.steps:
                    notes = [f"formulär: {self.program.forms[d.arg].form.title}"
                             for d in st.body.directives if d.name == "form"]
                    if not st.meta.visible:
                        notes.append("dolt från start")
                    if not st.meta.audio:
                        notes.append("ingen uppläsning")
                    steps.append({"title": st.meta.title, "notes": ", ".join(notes)})
                sections.append((s.title, steps))
            modules.append({"anchor": f"guide--modul--{m.id}", "title": m.meta.title,
                            "facts": [("Sort", KIND[m.meta.kind]), ("Start", START[m.meta.start]),
                                      ("Antal steg", str(len(m.steps)))],
                            "description": m.meta.description, "sections": sections})
        return Fragment("kapitel--moduler", self.render("modules.html", anchor="kapitel--moduler", modules=modules))

    def form(self, form_id: str, form: Form) -> GuideForm:
        used = [f"{m.meta.title}: {st.meta.title}" for m in self.program.modules for st in m.steps
                if any(d.name == "form" and d.arg == form_id for d in st.body.directives)]
        facts = [
            ("Obligatoriskt", YES_NO[form.required]),
            ("Sidkommentarer (patient och behandlare)", YES_NO[form.page_comments]),
            ("Flagga till behandlaren när det skickas in", YES_NO[form.flag_on_submit]),
            ("Antal frågor", str(sum(1 for q in form.questions if q.type != "display"))),
            ("Används i", "; ".join(used) or "inget steg"),
        ]
        view = GuideForm(f"guide--formular--{form_id}", form.title,
                         self.r.markdown(form.description) if form.description else None,
                         facts, _questions(form.questions, self.r.markdown))
        if form.scoring is not None:
            labels = {q.id: q.label for q in form.questions}
            view.scored = [labels[q] for q in form.scoring.questions]
            view.bands = band_tables(form.scoring)
            view.note = form.scoring.note
        return view

    def forms(self) -> Fragment:
        forms = [self.form(fid, fd.form) for fid, fd in self.program.forms.items()]
        return Fragment("kapitel--formular", self.render("forms.html", anchor="kapitel--formular", forms=forms))

    def plans(self) -> Fragment:
        plans = []
        for pid, pd in self.program.plans.items():
            plan, s = pd.plan, pd.plan.schedule
            days = ", ".join(f"{d} kl. {s.days[d]}" for d in WEEKDAY_ORDER if d in s.days)
            repeat = "varje vecka" if s.repeat_every_weeks == 1 else f"var {s.repeat_every_weeks}:e vecka"
            schedule = [
                ("Upprepas", repeat),
                ("Dagar och tider", days),
                ("Dagar för sen registrering", str(s.registration_window_days)),
                ("Flagga vid missad registrering", YES_NO[s.flag_missed]),
                ("Patienten kan kommentera", YES_NO[s.allow_comments]),
                ("Aktiverad från start", "Ja" if s.activated else "Nej, behandlaren aktiverar planen"),
            ]
            results = []
            if plan.results:
                field_label = {f.id: f.label for f in plan.fields}.get(plan.results.field, plan.results.field)
                results.append(("Visas i diagram", field_label))
                if plan.results.goal_from:
                    other = self.program.plans[plan.results.goal_from.plan].plan
                    results.append(("Mål", f"det mål patienten sätter i ”{other.title}”"))
                elif plan.results.goal is not None:
                    results.append(("Mål", number(plan.results.goal)))
            plans.append(GuidePlan(f"guide--plan--{pid}", plan.title,
                                   self.r.markdown(plan.description) if plan.description else None,
                                   _questions(plan.fields, self.r.markdown), schedule, results))
        return Fragment("kapitel--planer", self.render("plans.html", anchor="kapitel--planer", plans=plans))

    def flags(self) -> Fragment:
        forms, plans = self.program.forms, self.program.plans
        submitted = [fd.form.title for fd in forms.values() if fd.form.flag_on_submit]
        commented = [fd.form.title for fd in forms.values() if fd.form.page_comments]
        missed = [pd.plan.title for pd in plans.values() if pd.plan.schedule.flag_missed]
        rows = [
            ("Formulär inskickat", "när patienten skickar in formuläret", submitted or ["inget formulär i programmet"]),
            ("Nytt meddelande", "när patienten skriver ett meddelande till dig", ["alla patienter i programmet"]),
            ("Ny sidkommentar", "när patienten kommenterar formuläret", commented or ["inget formulär i programmet"]),
            ("Missad registrering", "när en registrering i aktivitetsplanen inte görs inom tiden",
             missed or ["ingen aktivitetsplan i programmet"]),
        ]
        return Fragment("kapitel--flaggor", self.render("flags.html", anchor="kapitel--flaggor", rows=rows))

    def roles(self) -> Fragment:
        return Fragment("kapitel--roller", self.render("roles.html", anchor="kapitel--roller", roles=ROLES))

    def workflow(self) -> Fragment:
        p = self.program
        current = [m.meta.title for m in book_order(p) if m.meta.start == "current"]
        start_modules = (f"Från start är {len(current)} av programmets {len(p.modules)} moduler aktuella: "
                         f"{', '.join(current)}. De andra gör du aktuella när det passar."
                         if current else "Ingen modul är aktuell från start: gör de moduler aktuella som "
                                         "patienten ska börja med.")
        waiting = [pd.plan.title for pd in p.plans.values() if not pd.plan.schedule.activated]
        plan_lines = []
        if waiting:
            plan_lines.append("Aktivitetsplaner som du aktiverar och ger ett startdatum innan patienten kan "
                              f"registrera: {', '.join(waiting)}.")
        if p.plans and len(waiting) < len(p.plans):
            plan_lines.append("De andra aktivitetsplanerna är aktiverade från start; ge dem ett startdatum.")
        return Fragment("kapitel--arbetsgang", self.render(
            "workflow.html", anchor="kapitel--arbetsgang", start_modules=start_modules, plan_lines=plan_lines))

    def administration(self) -> Fragment:
        admin = self.program.meta.administration
        journal = admin.journal if admin else None
        journal_view = None
        if journal is not None:
            journal_view = {
                "note": " ".join(journal.note_template.split()) if journal.note_template else None,
                "notes": [(label, " ".join(getattr(journal.notes, key).split()))
                          for key, label in JOURNAL_WHEN.items() if getattr(journal.notes, key)],
                "codes": [{"system": c.system, "code": c.code, "text": " ".join(c.text.split())}
                          for c in journal.codes]}
        return Fragment("kapitel--administration", self.render(
            "administration.html", anchor="kapitel--administration",
            fee=admin.patient_fee.strip() if admin and admin.patient_fee else None,
            codes=list(admin.codes) if admin else [], contacts=contact_rows(self.program),
            support=contact_rows(self.program, staff=True), journal=journal_view))

    def contents(self, chapters: list[tuple[str, str, list[tuple[str, str]]]]) -> Fragment:
        entries = [{"title": title, "href": f"#{anchor}",
                    "children": [{"title": t, "href": f"#{a}"} for t, a in children]}
                   for title, anchor, children in chapters]
        html = self.env.get_template("print/contents.html").render(anchor="innehall", groups=[(None, entries)])
        return Fragment("innehall", html)


def render_guide(program: Program, renderer: PrintRenderer) -> PrintDocument:
    """The therapist guide (metodstöd) as one print document and one PDF.

    In Swedish whatever the program's language, chrome included: it is for the staff of a
    Swedish care unit (a translation's titles and texts appear in its own language)."""
    SWEDISH.install(renderer.env)
    try:
        return _guide(program, renderer)
    finally:
        renderer.chrome.install(renderer.env)


def _guide(program: Program, renderer: PrintRenderer) -> PrintDocument:
    b = GuideBuilder(program, renderer)
    meta = program.meta
    chapters = [
        ("Om programmet", "kapitel--om", []),
        ("Moduler", "kapitel--moduler", [(m.meta.title, f"guide--modul--{m.id}") for m in book_order(program)]),
        ("Formulär och skrivuppgifter", "kapitel--formular",
         [(fd.form.title, f"guide--formular--{fid}") for fid, fd in program.forms.items()]),
        ("Aktivitetsplaner", "kapitel--planer",
         [(pd.plan.title, f"guide--plan--{pid}") for pid, pd in program.plans.items()]),
        ("Flaggor till behandlaren", "kapitel--flaggor", []),
        ("Roller och behörigheter", "kapitel--roller", []),
        ("Arbetsgång", "kapitel--arbetsgang", []),
        ("Administrativa uppgifter", "kapitel--administration", []),
    ]
    cover = Fragment("omslag", renderer.env.get_template("print/cover.html").render(
        anchor="omslag", program=meta, heading=meta.title, kicker="Metodstöd för behandlare",
        counts=f"Utgiven av {meta.publisher} tillsammans med programmet, version {meta.version}."))
    fragments = [cover, b.contents(chapters), b.about(), b.modules(), b.forms(), b.plans(), b.flags(), b.roles(),
                 b.workflow(), b.administration()]
    title = f"Metodstöd – {meta.title}"
    outputs = [PdfSpec(GUIDE, title, f"Metodstöd för behandlare i {meta.title}", 0, len(fragments) - 1)]
    return renderer.document(title, title, fragments, outputs, f"Metodstöd för behandlare i {meta.title}", "guide",
                             lang=SWEDISH.language)


def render_brochure(program: Program, renderer: PrintRenderer) -> PrintDocument:
    """The patient brochure: what the program is, its modules, logging in and getting help."""
    meta = program.meta
    groups = []
    for kind in ("core", "deepening"):
        modules = [{"title": m.meta.title, "description": m.meta.description}
                   for m in book_order(program) if m.meta.kind == kind]
        if modules:
            groups.append((renderer.chrome(KIND_PLURAL[kind]), kind == "deepening", modules))
    html = renderer.env.get_template("print/brochure.html").render(
        anchor="broschyr", program=meta, description=meta.description.strip(), groups=groups,
        has_forms=bool(program.forms), has_plans=bool(program.plans),
        contacts=contact_rows(program, reachable_only=True),
        listen=renderer.config.audio and any(st.meta.audio for st in program.steps))
    chrome = renderer.chrome
    title = chrome("%(program)s – information till dig som patient", program=meta.title)
    subject = chrome("Information till patienter om %(program)s", program=meta.title)
    outputs = [PdfSpec(BROCHURE, title, subject, 0, 0)]
    return renderer.document(title, meta.title, [Fragment("broschyr", html)], outputs, subject, "brochure")
