"""Print HTML of a program for the pdf stage: the program book of cover, contents, modules and steps.

Stage 7, pdf. Input: a checked `Program` and the `BuildConfig`. Output: a
`PrintDocument`, one HTML document made of fragments that each start on a new page,
with the list of PDFs (`PdfSpec`) that each take a run of consecutive fragments: the
whole program, every module (title page and its steps) and every step.

Each fragment is self-contained: its running header, links and page breaks do not
depend on the fragments around it, so the same laid-out pages serve the program, the
module and the step PDF (see `builder.render.pdf`). Media are referenced under their
content-hashed names, so the HTML alone says what a PDF shows.

Must not lay out or write PDFs, nor read anything but the program's source tree.
Every value a print template shows is computed here (no logic in templates).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import jinja2
from markupsafe import Markup, escape

from builder import __version__
from builder.config import BuildConfig
from builder.links import is_external, media_key, resolve_step_link, step_index
from builder.markdown import Directive
from builder.model import Module, Program, Step
from builder.paths import media_names, module_pdf, program_pdf, step_pdf
from builder.render.chrome import SWEDISH, Chrome, chrome_for
from builder.render.forms import QuestionView, form_view
from builder.render.html import CALLOUT, KIND, KIND_PLURAL, START, make_environment, outdated_note
from builder.render.markdown_html import MarkdownContext, render_text, render_tokens
from builder.render.sources import about_step
from builder.schema.form import Form

#: Base URL of print HTML. Media are relative to it (`media/<path>.<hash>.<ext>`, which
#: passes the HTML sanitiser); `builder.render.pdf` serves them from memory, never from disk.
BASE_URL = "file:///stegvis-media/"
#: Scales with more steps than this are printed as a line to write a number on.
MAX_SCALE_BOXES = 11
TEXTAREA_LINES = 5

_SENTINEL = "<!--stegvis:fragments-->"
_HEADING_ID = re.compile(r'<(h[1-6]) id="([^"]+)"')
# A link not yet followed by a note: `finish` may see a block's HTML a second time.
_LINK = re.compile(r'<a href="([^"]*)"((?: [a-z]+="[^"]*")*)>(.*?)</a>(?! <span class="link-)', re.S)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Fragment:
    """A piece of a print document that starts on a new page; `anchor` is the id of its first element."""

    anchor: str
    html: str


@dataclass(frozen=True)
class PdfSpec:
    """One PDF file: the fragments `first`..`last` (inclusive) of a print document."""

    path: str
    title: str
    subject: str
    first: int
    last: int


@dataclass(frozen=True)
class PrintDocument:
    """An HTML document for print: shell, fragments, and the PDFs cut from it."""

    head: str
    fragments: tuple[Fragment, ...]
    tail: str
    outputs: tuple[PdfSpec, ...]
    author: str
    lang: str
    date: str  # W3C date-time of SOURCE_DATE_EPOCH
    keywords: tuple[str, ...] = ()

    @property
    def html(self) -> str:
        """The whole document as one HTML string."""
        return self.head + "".join(f.html for f in self.fragments) + self.tail


# --- anchors and small helpers --------------------------------------------------------


def step_anchor(step: Step) -> str:
    """The id of a step in print HTML; ids have no '--', so this cannot collide."""
    return f"steg--{step.module_id}--{step.id}"


def module_anchor(module: Module) -> str:
    """The id of a module's title page in print HTML."""
    return f"modul--{module.id}"


def number(x: float | int) -> str:
    """A number the Swedish way: 0,5 rather than 0.5."""
    return f"{x:g}".replace(".", ",")


def w3c_date(epoch: int) -> str:
    """SOURCE_DATE_EPOCH as a W3C date-time (what WeasyPrint reads from dcterms meta tags)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def book_order(program: Program) -> list[Module]:
    """Modules by kind (core, then deepening), each kind in program.yaml order."""
    return [m for kind in ("core", "deepening") for m in program.modules if m.meta.kind == kind]


def captions_text(vtt: str) -> str:
    """The spoken text of a WebVTT file: the cue text, without header, ids, timings or notes."""
    texts = []
    for block in re.split(r"\n\s*\n", vtt.replace("\r\n", "\n").strip())[1:]:
        lines = block.split("\n")
        timing = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing is not None:
            texts.extend(_TAG.sub("", line).strip() for line in lines[timing + 1:])
    return " ".join(t for t in texts if t)


# --- print views of forms ---------------------------------------------------------------


@dataclass
class PrintQuestion:
    """A question drawn as an answerable blank on paper."""

    view: QuestionView
    blank: str  # line, short, lines, date, choices, scale, scale-line, none
    lines: list[int] = field(default_factory=list)  # one item per ruled line
    hint: str | None = None
    round: bool = False  # round boxes: choose one
    legend: str | None = None  # what a scale's labelled values mean


@dataclass
class PrintForm:
    title: str
    description: Markup | None
    required: bool
    page_comments: bool
    questions: list[PrintQuestion]


def print_question(view: QuestionView, source, chrome: Chrome = SWEDISH) -> PrintQuestion:
    """How one question is printed: lines for free text, boxes for choices, the scale drawn;
    hints in `chrome`'s language."""
    number = chrome.number
    q = PrintQuestion(view=view, blank="none")
    if view.type == "text":
        short = source.max_length is not None and source.max_length <= 20
        q.blank = "short" if short else "line"
    elif view.type == "textarea":
        q.blank, q.lines = "lines", list(range(TEXTAREA_LINES))
    elif view.type == "date":
        q.blank, q.hint = "date", chrome("Skriv datumet som år-månad-dag.")
    elif view.type == "number":
        q.blank = "short"
        if source.min is not None and source.max is not None:
            q.hint = chrome("Skriv ett tal från %(min)s till %(max)s.", min=number(source.min), max=number(source.max))
        elif source.min is not None:
            q.hint = chrome("Skriv ett tal, minst %(min)s.", min=number(source.min))
        elif source.max is not None:
            q.hint = chrome("Skriv ett tal, högst %(max)s.", max=number(source.max))
    elif view.type in ("single", "multi"):
        q.blank, q.round = "choices", view.type == "single"
        q.hint = chrome("Välj ett alternativ.") if view.type == "single" else chrome("Välj så många du vill.")
    elif view.type == "scale":
        labels = sorted((source.labels or {}).items())
        q.legend = " · ".join(f"{number(v)} = {text}" for v, text in labels) or None
        if len(view.choices) <= MAX_SCALE_BOXES:
            q.blank, q.hint = "scale", chrome("Ringa in eller kryssa för ett värde.")
        else:
            q.blank = "scale-line"
            q.hint = chrome("Skriv ett tal från %(min)s till %(max)s.", min=number(source.min), max=number(source.max))
    if q.hint and view.help and q.hint.rstrip(".").lower() in view.help.lower():
        q.hint = None  # the author already said it
    return q


def print_form(form_id: str, form: Form, render_md: Callable[[str], Markup],
               media_url: Callable[[str], str], prefix: str, chrome: Chrome = SWEDISH) -> PrintForm:
    """A form as printed: the HTML form view plus how each question is drawn."""
    view = form_view(form_id, form, render_md, media_url, prefix=prefix, chrome=chrome)
    return PrintForm(
        title=view.title, description=view.description, required=view.required,
        page_comments=view.page_comments,
        questions=[print_question(v, q, chrome) for v, q in zip(view.questions, form.questions, strict=True)],
    )


# --- the renderer -------------------------------------------------------------------------


class PrintRenderer:
    """Renders print HTML for one program: fragments of the book, blocks, Markdown."""

    def __init__(self, program: Program, config: BuildConfig) -> None:
        self.program = program
        self.config = config
        self.env: jinja2.Environment = make_environment(config)
        #: the builder's own words in the program's language (issue 18)
        self.chrome = chrome_for(config.templates, program.meta.language)
        self.chrome.install(self.env)
        self.media = media_names(program)
        self.media_paths = set(self.media.values())
        self.index = step_index(program)
        self.date = w3c_date(config.source_date_epoch)
        self.notes: dict[str, str] = {}  # step anchor -> where the step is, for printed links

    # -- media and links ------------------------------------------------------------------
    def media_url(self, src: str) -> str:
        """A media path as its content-hashed name, `media/...` (unknown paths stay as they are)."""
        key = media_key(src)
        return self.media[key] if key in self.media else src

    def media_files(self) -> dict[str, bytes]:
        """Absolute print URL of every media file -> bytes, for the PDF renderer's URL fetcher."""
        return {BASE_URL + name: self.program.tree.files[f"media/{key}"] for key, name in self.media.items()}

    def context(self, step: Step | None, anchor: str | None) -> MarkdownContext:
        def link(href: str) -> str:
            if is_external(href):
                return href
            if href.startswith("#"):
                return f"#{anchor}--{href[1:]}" if anchor else href
            path, _, fragment = href.partition("#")
            if path.endswith(".md") and step is not None:
                target = resolve_step_link(step, href, self.index)
                if target is not None:
                    return "#" + step_anchor(target) + (f"--{fragment}" if fragment else "")
            return self.media_url(path)

        return MarkdownContext(link=link, media=self.media_url, block=lambda d: self.block(step, anchor, d))

    def markdown(self, text: str) -> Markup:
        """Markdown outside steps (descriptions, transcripts), rendered for print."""
        return self.finish(render_text(text, self.context(None, None)), None)

    def finish(self, html: str, anchor: str | None) -> Markup:
        """Make ids unique in the book and links sensible on paper.

        A link to another step gets a note saying which step it is; a web link shows its
        address; a link to a media file becomes plain text.
        """
        if anchor:
            html = _HEADING_ID.sub(lambda m: f'<{m.group(1)} id="{anchor}--{m.group(2)}"', html)

        def link(m: re.Match) -> str:
            href, attrs, text = m.group(1), m.group(2), m.group(3)
            if href in self.media_paths:
                return text
            tag = f'<a href="{href}"{attrs}>{text}</a>'
            if href.startswith("#"):
                target = "--".join(href[1:].split("--")[:3])
                note = self.notes.get(target) if target != anchor else None
                return f'{tag} <span class="link-note">({escape(note)})</span>' if note else tag
            shown = re.sub(r"^(https?://|mailto:|tel:)", "", href).rstrip("/")
            plain = _TAG.sub("", text).strip()
            if shown and shown not in plain and href not in plain:
                return f'{tag} <span class="link-url">({escape(shown)})</span>'
            return tag

        return Markup(_LINK.sub(link, html))

    # -- blocks ---------------------------------------------------------------------------
    def block(self, step: Step | None, anchor: str | None, d: Directive) -> str:
        prefix = f"{anchor or 'fristaende'}--"
        if d.name == "form":
            fd = self.program.forms[d.arg]
            form = print_form(d.arg, fd.form, self.markdown, self.media_url, prefix=prefix + d.arg, chrome=self.chrome)
            return self.env.get_template("print/blocks/form.html").render(form=form)
        if d.name == "callout":
            kind, _, title = d.arg.partition(" ")
            body = render_tokens(d.body, self.context(step, anchor))
            return self.env.get_template("print/blocks/callout.html").render(
                kind=kind, kind_label=self.chrome(CALLOUT[kind]), title=title.strip() or None, body=body)
        film = self.program.films.get(media_key(d.arg) or "") if d.name == "video" and not is_external(d.arg) else None
        if film is not None:  # a film made from a storyboard: on paper, what it shows and says (issue 17)
            text = Markup("").join(
                Markup("<p><em>{}</em><br>{}</p>").format(
                    self.chrome("Bild %(number)s: %(text)s", number=i, text=" ".join(s.alt.split())),
                    " ".join(s.narration.split()))
                for i, s in enumerate(film.storyboard.scenes, 1))
            return self.env.get_template("print/blocks/video.html").render(
                title=d.options.get("title") or film.storyboard.title, url=None, text=text)
        text = None
        files = self.program.tree.files
        if "transcript" in d.options:
            key = media_key(d.options["transcript"])
            if f"media/{key}" in files:
                text = self.markdown(files[f"media/{key}"].decode("utf-8"))
        elif "captions" in d.options:
            key = media_key(d.options["captions"])
            if f"media/{key}" in files:
                text = Markup("<p>") + captions_text(files[f"media/{key}"].decode("utf-8")) + Markup("</p>")
        url = d.arg if is_external(d.arg) else None
        return self.env.get_template(f"print/blocks/{d.name}.html").render(
            title=d.options.get("title"), url=url, text=text)

    # -- fragments ------------------------------------------------------------------------
    def step(self, module: Module, step: Step) -> Fragment:
        anchor = step_anchor(step)
        body = self.finish(render_tokens(step.body.tokens, self.context(step, anchor)), anchor)
        note = outdated_note(self.program, step, self.chrome)  # a translation older than its source (issue 18)
        if note is not None:
            body = note + body
        tokens = step.body.tokens
        first_heading = bool(tokens) and tokens[0].type == "heading_open" and tokens[0].tag == "h1"
        about = about_step(step, self.chrome)
        # Sources and last review after the body (issue 17); web links show their address on paper.
        about_html = self.finish(self.env.get_template("blocks/sources.html").render(
            about=about, heading_id=f"{anchor}--kallor"), None) if about else None
        html = self.env.get_template("print/step.html").render(
            anchor=anchor, module=module.meta.title, section=step.meta.section, title=step.meta.title,
            add_heading=not first_heading, body=body, about=about_html)
        return Fragment(anchor, html)

    def module(self, module: Module) -> Fragment:
        anchor = module_anchor(module)
        sections = [(s.title, [{"title": st.meta.title, "href": "#" + step_anchor(st),
                                "hidden": not st.meta.visible} for st in s.steps]) for s in module.sections]
        html = self.env.get_template("print/module.html").render(
            anchor=anchor, module=module.meta, kind=self.chrome(KIND[module.meta.kind]),
            start=self.chrome(START[module.meta.start]),
            sections=sections, step_count=len(module.steps))
        return Fragment(anchor, html)

    def cover(self) -> Fragment:
        meta = self.program.meta
        modules = self.program.modules
        counts = self.chrome("%(modules)s moduler, %(steps)s steg, %(forms)s formulär och %(plans)s aktivitetsplaner",
                             modules=len(modules), steps=len(self.program.steps), forms=len(self.program.forms),
                             plans=len(self.program.plans))
        html = self.env.get_template("print/cover.html").render(
            anchor="omslag", program=meta, counts=counts, heading=meta.title, kicker=None)
        return Fragment("omslag", html)

    def contents(self) -> Fragment:
        groups = []
        for kind in ("core", "deepening"):
            modules = [m for m in book_order(self.program) if m.meta.kind == kind]
            if modules:
                groups.append((self.chrome(KIND_PLURAL[kind]), [
                    {"title": m.meta.title, "href": "#" + module_anchor(m),
                     "children": [{"title": st.meta.title, "href": "#" + step_anchor(st)} for st in m.steps]}
                    for m in modules]))
        html = self.env.get_template("print/contents.html").render(anchor="innehall", groups=groups)
        return Fragment("innehall", html)

    def document(self, title: str, running: str, fragments: list[Fragment], outputs: list[PdfSpec],
                 description: str, kind: str, lang: str | None = None) -> PrintDocument:
        """Wrap fragments in the print shell (metadata in <head>, running title on <body>);
        `lang` when the document is not in the program's language (the Swedish guide)."""
        meta = self.program.meta
        direction = meta.direction if lang is None else "ltr"
        lang = lang or meta.language
        shell = self.env.get_template("print/document.html").render(
            lang=lang, direction=direction, title=title, author=meta.publisher, description=description,
            generator=f"Stegvis {__version__}", date=self.date, running=running, kind=kind,
            keywords=", ".join((meta.title, meta.publisher, meta.version)), fragments=Markup(_SENTINEL))
        head, tail = shell.split(_SENTINEL)
        return PrintDocument(head=head, fragments=tuple(fragments), tail=tail, outputs=tuple(outputs),
                             author=meta.publisher, lang=lang, date=self.date,
                             keywords=(meta.title, meta.publisher, meta.version))


def render_book(program: Program, config: BuildConfig, renderer: PrintRenderer | None = None) -> PrintDocument:
    """The program book: cover, contents, and per module (by kind) a title page and its steps.

    Its outputs are the program PDF, one PDF per module and one per step, each a run
    of consecutive fragments.
    """
    r = renderer or PrintRenderer(program, config)
    meta = program.meta
    modules = book_order(program)
    for m in modules:
        for st in m.steps:
            r.notes[step_anchor(st)] = r.chrome("steget %(step)s i modulen %(module)s",
                                                step=r.chrome.quoted(st.meta.title), module=r.chrome.quoted(m.meta.title))
    fragments = [r.cover(), r.contents()]
    outputs: list[PdfSpec] = []
    for m in modules:
        first = len(fragments)
        fragments.append(r.module(m))
        for st in m.steps:
            fragments.append(r.step(m, st))
            outputs.append(PdfSpec(step_pdf(st), f"{st.meta.title} – {meta.title}",
                                   r.chrome("Ett steg i modulen %(module)s", module=m.meta.title),
                                   len(fragments) - 1, len(fragments) - 1))
        outputs.append(PdfSpec(module_pdf(program, m), f"{m.meta.title} – {meta.title}",
                               r.chrome("En modul i %(program)s", program=meta.title), first, len(fragments) - 1))
    outputs.append(PdfSpec(program_pdf(program), meta.title, meta.description.strip() or meta.title,
                           0, len(fragments) - 1))
    return r.document(meta.title, meta.title, fragments, outputs, meta.description.strip(), "book")
