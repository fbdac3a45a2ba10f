"""View models of forms and questions for the templates (no logic in templates).

The same views serve step pages, form pages and activity-plan pages, so a form
looks the same wherever it appears.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup

from builder.render.chrome import N_, SWEDISH, Chrome
from builder.schema.form import Form, Question, Scoring

REQUIRED_TEXT = N_("måste besvaras")
#: What the label says a time of day and a duration are written as (activity plans); Swedish,
#: translated into a program's language by its chrome (`builder.render.chrome`).
TIME_HINT = N_("klockslag, t.ex. 22:30")
DURATION_HINT = N_("timmar:minuter eller minuter, t.ex. 7:30 eller 45")


@dataclass
class Choice:
    id: str
    value: str
    label: str
    checked: bool = False


@dataclass
class QuestionView:
    id: str  # html id of the input (or of the fieldset)
    name: str
    type: str
    label: str
    required: bool
    help: str | None
    help_id: str | None
    widget: str  # input, textarea, radio, checkbox, display
    input_type: str | None = None
    choices: list[Choice] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)
    unit: str | None = None
    condition: str | None = None  # Swedish sentence for show_if
    show_if: dict | None = None
    html: Markup | None = None  # display questions: rendered text
    image: str | None = None
    alt: str | None = None
    scale_ends: tuple[str, str] | None = None


@dataclass
class FormView:
    id: str
    title: str
    description: Markup | None
    required: bool
    page_comments: bool
    flag_on_submit: bool
    questions: list[QuestionView]
    heading_id: str


#: How a band list of `bands_by_sex` is named in captions: "Tolkning av summan för kvinnor".
SEX_PLURAL = {"kvinna": "kvinnor", "man": "män"}
#: The captions of the interpretation tables (translated by a page's chrome).
BAND_CAPTIONS = {None: N_("Tolkning av summan"), "kvinna": N_("Tolkning av summan för kvinnor"),
                 "man": N_("Tolkning av summan för män")}


@dataclass
class BandTable:
    caption: str
    rows: list[tuple[str, str, str]]  # (range, label, text)


def band_tables(scoring: Scoring, chrome: Chrome = SWEDISH) -> list[BandTable]:
    """The interpretation tables of a score: one, or one per sex (empty when there are no bands)."""
    out = []
    for sex, bands in scoring.band_sets().items():
        if bands:
            caption = chrome(BAND_CAPTIONS[sex or None])
            out.append(BandTable(caption, [(f"{_fmt(b.min)}–{_fmt(b.max)}", b.label, b.text or "") for b in bands]))
    return out


def _fmt(x: float | int) -> str:
    return f"{x:g}".replace(".", ",")


def _choices(q: Question, base: str) -> list[Choice]:
    if q.type in ("single", "multi"):
        return [Choice(f"{base}-{i + 1}", str(o.value), o.label) for i, o in enumerate(q.options or [])]
    # scale: one radio per step, labelled with the number and any end label
    step = q.step or 1
    labels = q.labels or {}
    values, v = [], q.min
    while v <= q.max + 1e-9 and len(values) < 101:
        values.append(v)
        v = round(v + step, 10)
    out = []
    for i, value in enumerate(values):
        text = _fmt(value)
        if value in labels:
            text = f"{text} – {labels[value]}"
        out.append(Choice(f"{base}-{i + 1}", _fmt(value), text))
    return out


def either(labels: list[str], chrome: Chrome = SWEDISH) -> str:
    """Quoted labels joined by "eller": ”Ja” eller ”Nej”."""
    joiner = chrome("eller")
    return f" {joiner} ".join(chrome.quoted(label) for label in labels)


def exclusive_note(labels: list[str], chrome: Chrome = SWEDISH) -> str | None:
    """The sentence that tells which options of a multi question are chosen alone (None: none are).

    The runtime says the same (runtime.views); the server refuses such an option with another.
    """
    if not labels:
        return None
    return chrome("Om du väljer %(options)s ska du inte välja något annat alternativ.",
                  options=either(labels, chrome))


def question_view(q: Question, prefix: str, by_id: dict[str, Question], render_md, media_url,
                  chrome: Chrome = SWEDISH) -> QuestionView:
    """A template-ready view of one question; `prefix` makes html ids unique per page; the
    sentences the builder adds are in `chrome`'s language."""
    base = f"{prefix}-{q.id}"
    note = exclusive_note([o.label for o in q.options or [] if o.exclusive], chrome) if q.type == "multi" else None
    help_text = " ".join(t for t in (q.help, note) if t) or None
    help_id = f"{base}-hjalp" if help_text else None
    view = QuestionView(id=base, name=q.id, type=q.type, label=q.label, required=q.required, help=help_text,
                        help_id=help_id, widget="input")
    if q.type == "text":
        view.input_type = "text"
    elif q.type == "textarea":
        view.widget = "textarea"
    elif q.type == "date":
        view.input_type = "date"
    elif q.type in ("time", "duration"):
        # Plain text, not <input type="time">: a patient types 22:30 or 7 h 30 min the same way
        # in every browser and screen reader; the server reads it (issue 17: diaries).
        view.input_type = "text"
        hint = TIME_HINT if q.type == "time" else DURATION_HINT
        view.unit = chrome(hint)
        view.attrs = {"inputmode": "numeric" if q.type == "time" else "text", "autocomplete": "off"}
    elif q.type == "number":
        view.input_type = "number"
        view.unit = q.unit
        view.attrs = {k: _fmt(v).replace(",", ".") for k, v in (("min", q.min), ("max", q.max), ("step", q.step)) if v is not None}
        if q.step is None:
            view.attrs["step"] = "any"
    elif q.type in ("single", "scale"):
        view.widget = "radio"
        view.choices = _choices(q, base)
        if q.type == "scale":
            labels = q.labels or {}
            view.scale_ends = (labels.get(q.min, ""), labels.get(q.max, ""))
    elif q.type == "multi":
        view.widget = "checkbox"
        view.choices = _choices(q, base)
    elif q.type == "display":
        view.widget = "display"
        view.html = render_md(q.label)
        view.image = media_url(q.image) if q.image else None
        view.alt = q.alt
    if q.max_length:
        view.attrs["maxlength"] = str(q.max_length)
    if q.show_if is not None:
        target = by_id[q.show_if.question]
        values = [q.show_if.equals] if q.show_if.any_of is None else q.show_if.any_of
        labels = {str(o.value): o.label for o in target.options or []}
        view.condition = chrome("Besvara bara om du svarade %(answers)s på frågan %(question)s.",
                                answers=either([str(labels.get(str(v), v)) for v in values], chrome),
                                question=chrome.quoted(target.label))
        view.show_if = {"question": target.id, "values": [str(v) for v in values]}
    return view


def form_view(form_id: str, form: Form, render_md, media_url, prefix: str | None = None,
              chrome: Chrome = SWEDISH) -> FormView:
    """View of a whole form; `render_md` renders Markdown text, `media_url` maps media paths,
    `chrome` says the builder's own sentences (hints, conditions) in the program's language."""
    prefix = prefix or f"f-{form_id}"
    by_id = {q.id: q for q in form.questions}
    return FormView(
        id=prefix,
        title=form.title,
        description=render_md(form.description) if form.description else None,
        required=form.required,
        page_comments=form.page_comments,
        flag_on_submit=form.flag_on_submit,
        questions=[question_view(q, prefix, by_id, render_md, media_url, chrome) for q in form.questions],
        heading_id=f"{prefix}-rubrik",
    )
