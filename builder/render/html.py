"""HTML pages of a program package: steps, modules, forms, plans and the overview.

Input: a checked `Program` and the `BuildConfig`. Output: `Pages`, a mapping from
package path to bytes (HTML, CSS and media under content-hashed names), and for every
step its fragment: the body as HTML parts and form slots (`stegvis_package.model.Fragment`),
which the runtime shows inside its own layout without parsing a page. Jinja2
with autoescape and StrictUndefined; every value a template shows is computed here.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass

import jinja2
from markupsafe import Markup

from builder.config import BuildConfig
from builder.links import is_external, media_key, resolve_step_link, step_index
from builder.lix import lix_level, step_lix
from builder.markdown import Directive
from builder.model import Module, Program, Step
from builder.paths import audio_paths, form_page, media_names, module_page, plan_page, step_page, step_pdf
from builder.progress import NO_PROGRESS, Progress
from builder.reads import (
    CATALOGUE,
    FILM,
    FORM,
    FORM_USE,
    LINK,
    MODULE,
    MODULE_STEPS,
    NEXT,
    PLAN,
    PLANS,
    PREV,
    READOUT,
    SHARED,
    STEP,
    STRUCTURE,
    Reads,
)
from builder.render.chrome import N_, SWEDISH, Chrome, chrome_for, is_source_language
from builder.render.forms import band_tables, form_view
from builder.render.markdown_html import MarkdownContext, render_parts, render_text, render_tokens
from builder.render.parallel import Forked, can_fork
from builder.render.readout import Readout
from builder.render.sources import HEADING_ID, about_step
from builder.render.storyboard import FilmPlan
from builder.schema.activity_plan import ActivityPlan
from builder.schema.form import Form
from builder.speech.captions import srt_to_vtt
from stegvis_package import PACKAGE_FORMAT
from stegvis_package.model import Fragment, FragmentPart
from stegvis_package.paths import fragment_path

#: Swedish, marked for the pages catalogues (`builder.render.chrome`): translated where shown.
KIND = {"core": N_("Grundmodul"), "deepening": N_("Fördjupningsmodul")}
START = {"current": N_("Aktuell från start"), "upcoming": N_("Kommande (aktiveras av behandlaren)")}
CALLOUT = {"info": N_("Information"), "tip": N_("Tips"), "warning": N_("Viktigt")}
KIND_PLURAL = {"core": N_("Grundmoduler"), "deepening": N_("Fördjupningsmoduler")}
WEEKDAY_ORDER = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
STYLESHEET = "assets/stegvis.css"
READOUT_SCRIPT = "assets/readout.js"
#: The note on a translated step whose source changed since it was translated (issue 18), in
#: the translation's language (from its pages catalogue, like the rest of the chrome).
OUTDATED_NOTE = N_("Översättningen kan vara äldre än den svenska texten.")


def outdated_note(program: Program, step: Step, chrome: Chrome = SWEDISH) -> Markup | None:
    """The note of a translated step whose Swedish source changed since (None when it is current)."""
    translation = program.tree.translation
    if not translation or step.source.rel not in translation.get("outdated", ()):
        return None
    return Markup('<p class="translation-note" role="note">{}</p>\n').format(chrome(OUTDATED_NOTE))


#: With more pages than this to render, two processes share the work (a fork costs ~10 ms).
PARALLEL_PAGES = 64


def make_environment(config: BuildConfig) -> jinja2.Environment:
    """The templates' environment, with gettext (`jinja2.ext.i18n`) in Swedish until a
    renderer installs its program's chrome (`Chrome.install`)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(config.templates),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    SWEDISH.install(env)
    return env


@dataclass
class Crumb:
    title: str
    url: str | None


class PageRenderer:
    """Renders every page of one program; knows where each page and file lands."""

    def __init__(self, program: Program, config: BuildConfig, readouts: dict[Step, Readout] | None = None,
                 env: jinja2.Environment | None = None, films: dict[str, FilmPlan] | None = None) -> None:
        self.program = program
        self.readouts = readouts or {}
        #: storyboard (path inside media/) -> the film made from it (issue 17)
        self.films = films or {}
        self.pdf = config.pdf  # link each step's PDF (its path follows from the step alone)
        self.env = env if env is not None else make_environment(config)
        #: the builder's own words in the program's language (issue 18)
        self.chrome = chrome_for(config.templates, program.meta.language)
        self.chrome.install(self.env)
        self.media = media_names(program)
        self.index = step_index(program)
        self.files: dict[str, bytes] = {}
        #: media files the step being rendered shows (its fragment lists them)
        self._media_used: set[str] | None = None
        #: what the page being rendered read (issue 12: incremental builds compare these)
        self.reads = Reads()
        #: page -> the keys it read, for every page rendered
        self.page_reads: dict[str, list[str]] = {}
        self._steps = program.steps  # a property that builds the list: once, not once per page
        self._position = {id(s): i for i, s in enumerate(self._steps)}

    def note(self, kind: str, name: str = "") -> None:
        """Note an input the page being rendered reads (see builder.reads)."""
        self.reads.note(kind, name)

    # -- urls ---------------------------------------------------------------------
    @staticmethod
    def rel(page: str, target: str) -> str:
        """Relative URL from one package page to another package path."""
        return posixpath.relpath(target, posixpath.dirname(page) or ".")

    def media_url(self, page: str, target: str) -> str:
        key = media_key(target)
        if key not in self.media:
            return target
        if self._media_used is not None:
            self._media_used.add(self.media[key])
        return self.rel(page, self.media[key])

    def context(self, page: str, step: Step | None = None) -> MarkdownContext:
        def link(href: str) -> str:
            if is_external(href) or href.startswith("#"):
                return href
            if href.split("#", 1)[0].endswith(".md") and step is not None:
                target = resolve_step_link(step, href, self.index)
                self.note(LINK, f"{step.module_id}/{step.id}\t{href.split('#', 1)[0]}")
                if target is not None:
                    fragment = "#" + href.split("#", 1)[1] if "#" in href else ""
                    return self.rel(page, step_page(target)) + fragment
            return self.media_url(page, href.split("#", 1)[0])

        readout = self.readouts.get(step) if step is not None else None
        return MarkdownContext(link=link, media=lambda src: self.media_url(page, src),
                               block=lambda d: self.block(page, step, d),
                               spans=readout.spans if readout is not None else {})

    def markdown(self, page: str, text: str) -> Markup:
        return render_text(text, self.context(page))

    # -- blocks -------------------------------------------------------------------
    def block(self, page: str, step: Step | None, d: Directive) -> str:
        if d.name == "form":
            self.note(FORM, d.arg)
            fd = self.program.forms[d.arg]
            view = form_view(d.arg, fd.form, lambda t: self.markdown(page, t), lambda m: self.media_url(page, m),
                             chrome=self.chrome)
            return self.env.get_template("blocks/form.html").render(form=view, form_page=self.rel(page, form_page(d.arg)))
        if d.name == "callout":
            kind, _, title = d.arg.partition(" ")
            body = render_tokens(d.body, self.context(page, step))
            return self.env.get_template("blocks/callout.html").render(
                kind=kind, kind_label=self.chrome(CALLOUT[kind]), title=title.strip() or None, body=body)
        if d.name == "video" and not is_external(d.arg) and media_key(d.arg) in self.films:
            return self.film(page, self.films[media_key(d.arg)], d)
        transcript = None
        if "transcript" in d.options:
            key = media_key(d.options["transcript"])
            text = self.program.tree.files[f"media/{key}"].decode("utf-8")
            transcript = self.markdown(page, text)
        src = d.arg if is_external(d.arg) else self.media_url(page, d.arg)
        captions = self.media_url(page, d.options["captions"]) if "captions" in d.options else None
        return self.env.get_template(f"blocks/{d.name}.html").render(
            src=src, title=d.options.get("title"), captions=captions, transcript=transcript,
            captions_language=self.program.meta.language, captions_label=self.chrome.language_name)

    def use(self, package_path: str) -> None:
        """Note a file the step being rendered shows (its fragment lists it; issue 17)."""
        if self._media_used is not None:
            self._media_used.add(package_path)

    def film(self, page: str, plan: FilmPlan, d: Directive) -> str:
        """A film made from a storyboard: player, captions and a transcript that says what is shown.

        Without a voice (`--no-audio`) there is no film, and the transcript is shown open instead.
        """
        self.note(FILM, plan.key)
        for path in (plan.mp4, plan.vtt, plan.transcript):
            if path is not None:
                self.use(path)
        return self.env.get_template("blocks/film.html").render(
            title=d.options.get("title") or plan.title,
            src=self.rel(page, plan.mp4) if plan.mp4 else None,
            captions=self.rel(page, plan.vtt) if plan.vtt else None,
            poster=self.media_url(page, plan.scenes[0].image) if plan.mp4 else None,
            transcript=self.rel(page, plan.transcript),
            captions_language=self.program.meta.language, captions_label=self.chrome.language_name,
            scenes=[{"alt": scene.alt, "narration": scene.narration} for scene in plan.scenes])

    # -- pages --------------------------------------------------------------------
    def render(self, template: str, page: str, **values) -> None:
        self.note(SHARED)  # templates, code, program metadata, media names, settings
        self.note(CATALOGUE, self.program.meta.language)  # the chrome's words in the page's language
        meta = self.program.meta
        values.setdefault("breadcrumb", [])
        values.setdefault("scripts", [])
        html = self.env.get_template(template).render(
            program=meta, root=self.rel(page, "index.html").removesuffix("index.html"),
            stylesheet=self.rel(page, STYLESHEET), overview=self.rel(page, "index.html"), **values)
        self.files[page] = html.encode("utf-8")

    def step(self, module: Module, position: int) -> None:
        step = module.steps[position]
        page = step_page(step)
        steps = self._steps
        i = self._position[id(step)]
        prev_step = steps[i - 1] if i > 0 else None
        next_step = steps[i + 1] if i + 1 < len(steps) else None
        key = f"{step.module_id}/{step.id}"
        for kind in (STEP, PREV, NEXT) + ((READOUT,) if self.readouts else ()):
            self.note(kind, key)
        self.note(MODULE, module.id)
        self._media_used = set()
        pieces = render_parts(step.body.tokens, self.context(page, step), lambda d: d.name == "form")
        note = outdated_note(self.program, step, self.chrome)
        if note is not None:
            pieces = [note, *pieces]
        body = Markup("").join(Markup(self.block(page, step, p)) if isinstance(p, Directive) else p for p in pieces)
        media, self._media_used = sorted(self._media_used), None
        about = self.about(step)
        readout = self.readouts.get(step)
        player = None
        if readout is not None and readout.sentences:
            mp3, vtt = audio_paths(step)
            player = {"mp3": self.rel(page, mp3), "vtt": self.rel(page, vtt)}
        tokens = step.body.tokens
        first_heading = bool(tokens) and tokens[0].type == "heading_open" and tokens[0].tag == "h1"
        fragment = Fragment(
            format=PACKAGE_FORMAT, module=step.module_id, step=step.id, page=page, title=step.meta.title,
            add_heading=not first_heading, media=media,
            parts=[FragmentPart(form=p.arg) if isinstance(p, Directive) else FragmentPart(html=str(p))
                   for p in pieces if isinstance(p, Directive) or p.strip()]
            + ([FragmentPart(html=str(about))] if about else []))
        self.files[fragment_path(step.module_id, step.id)] = (
            fragment.model_dump_json(exclude_none=True) + "\n").encode("utf-8")
        self.render(
            "step.html", page,
            title=f"{step.meta.title} – {module.meta.title}",
            step=step, module=module, body=body, add_heading=not first_heading, player=player, about=about,
            pdf=self.rel(page, step_pdf(step)) if self.pdf else None,
            scripts=[self.rel(page, READOUT_SCRIPT)] if player else [],
            breadcrumb=[Crumb(self.program.meta.title, self.rel(page, "index.html")),
                        Crumb(module.meta.title, self.rel(page, module_page(module))),
                        Crumb(step.meta.section, None), Crumb(step.meta.title, None)],
            prev=(prev_step.meta.title, self.rel(page, step_page(prev_step))) if prev_step else None,
            next=(next_step.meta.title, self.rel(page, step_page(next_step))) if next_step else None,
        )

    def about(self, step: Step) -> Markup | None:
        """The step's sources and last review as HTML after its body (issue 17), or None."""
        about = about_step(step, self.chrome)
        if not about:
            return None
        return Markup(self.env.get_template("blocks/sources.html").render(about=about, heading_id=HEADING_ID))

    def module(self, module: Module) -> None:
        page = module_page(module)
        self.note(MODULE, module.id)
        self.note(MODULE_STEPS, module.id)
        self.render(
            "module.html", page, title=module.meta.title, module=module,
            kind=self.chrome(KIND[module.meta.kind]), start=self.chrome(START[module.meta.start]),
            sections=[(s.title, [(st, self.rel(page, step_page(st))) for st in s.steps]) for s in module.sections],
            breadcrumb=[Crumb(self.program.meta.title, self.rel(page, "index.html")), Crumb(module.meta.title, None)],
        )

    def form(self, form_id: str) -> None:
        page = form_page(form_id)
        self.note(FORM, form_id)
        self.note(FORM_USE, form_id)
        fd = self.program.forms[form_id]
        used_in = [(s, self.rel(page, step_page(s))) for s in self.program.steps
                   if any(d.name == "form" and d.arg == form_id for d in s.body.directives)]
        view = form_view(form_id, fd.form, lambda t: self.markdown(page, t), lambda m: self.media_url(page, m),
                         chrome=self.chrome)
        self.render("form_page.html", page, title=self.chrome("Formulär: %(title)s", title=fd.form.title),
                    form=view, source=fd.form,
                    bands=band_tables(fd.form.scoring, self.chrome) if fd.form.scoring else [],
                    used_in=used_in, fhir=self.rel(page, f"fhir/Questionnaire-{form_id}.json"),
                    breadcrumb=[Crumb(self.program.meta.title, self.rel(page, "index.html")),
                                Crumb(self.chrome("Formulär"), None), Crumb(fd.form.title, None)])

    def plan(self, plan_id: str) -> None:
        page = plan_page(plan_id)
        self.note(PLAN, plan_id)
        self.note(PLANS)  # goal_from shows another plan's title
        pd = self.program.plans[plan_id]
        plan = pd.plan
        registration = form_view(plan_id, _plan_as_form(plan), lambda t: self.markdown(page, t),
                                 lambda m: self.media_url(page, m), prefix=f"p-{plan_id}", chrome=self.chrome)
        days = [(self.chrome.weekday(i), plan.schedule.days[d]) for i, d in enumerate(WEEKDAY_ORDER)
                if d in plan.schedule.days]
        goal = None
        if plan.results and plan.results.goal_from:
            other = self.program.plans[plan.results.goal_from.plan]
            goal = (self.chrome("Målet patienten sätter i %(plan)s", plan=self.chrome.quoted(other.plan.title)),
                    self.rel(page, plan_page(other.id)))
        elif plan.results and plan.results.goal is not None:
            goal = (f"{plan.results.goal:g}", None)
        charted = next((f.label for f in plan.fields if plan.results and f.id == plan.results.field), None)
        self.render("plan.html", page, title=self.chrome("Aktivitetsplan: %(title)s", title=plan.title), plan=plan,
                    description=self.markdown(page, plan.description) if plan.description else None,
                    registration=registration, days=days, goal=goal, charted=charted,
                    breadcrumb=[Crumb(self.program.meta.title, self.rel(page, "index.html")),
                                Crumb(self.chrome("Aktivitetsplaner"), None), Crumb(plan.title, None)])

    def overview(self) -> None:
        page = "index.html"
        self.note(STRUCTURE)
        for m in self.program.modules:
            self.note(MODULE_STEPS, m.id)  # which steps there are: an added or removed step shows here
        for st in self.program.steps:
            self.note(STEP, f"{st.module_id}/{st.id}")  # title, LIX, words and forms of every step
        for fid in self.program.forms:
            self.note(FORM, fid)
        for pid in self.program.plans:
            self.note(PLAN, pid)
        groups = []
        chrome = self.chrome
        swedish = is_source_language(self.program.meta.language)  # LIX is a Swedish measure
        for kind in ("core", "deepening"):
            modules = [m for m in self.program.modules if m.meta.kind == kind]
            if not modules:
                continue
            rows = []
            for m in modules:
                sections = []
                for s in m.sections:
                    steps = []
                    for st in s.steps:
                        value, words = step_lix(st)
                        steps.append({"step": st, "url": step_page(st), "lix": f"{value:.0f}" if swedish else None,
                                      "lix_level": lix_level(value), "words": words,
                                      "forms": [d.arg for d in st.body.directives if d.name == "form"]})
                    sections.append((s.title, steps))
                rows.append({"module": m, "url": module_page(m), "start": chrome(START[m.meta.start]),
                             "sections": sections})
            groups.append((chrome(KIND_PLURAL[kind]), rows))
        forms = [{"id": fid, "form": fd.form, "url": form_page(fid)} for fid, fd in self.program.forms.items()]
        plans = [{"id": pid, "plan": pd.plan, "url": plan_page(pid)} for pid, pd in self.program.plans.items()]
        self.render("overview.html", page, title=chrome("Översikt för granskare"), groups=groups, forms=forms, plans=plans,
                    step_count=len(self.program.steps))


def _plan_as_form(plan: ActivityPlan) -> Form:
    """An activity plan's registration fields, shown like a form."""
    return Form(title=plan.title, questions=plan.fields)


def render_pages(program: Program, config: BuildConfig, readouts: dict[Step, Readout] | None = None,
                 only: set[str] | None = None, progress: Progress = NO_PROGRESS, jobs: int = 1,
                 env: jinja2.Environment | None = None, reads: dict[str, list[str]] | None = None,
                 films: dict[str, FilmPlan] | None = None,
                 rendered: dict[str, tuple[bytes, list[str]]] | None = None) -> dict[str, bytes]:
    """Every HTML page, step fragment (`fragments/<module>/<step>.json`), the stylesheet and
    the media files of a program.

    With `readouts`, step pages get a player and their sentences are marked for highlighting.
    With `only` (package paths), just those HTML pages are rendered (an incremental build
    takes the others from the previous one); the stylesheet and media always come along.
    With `jobs` > 1 and many pages, a forked child renders every other page (issue #7).
    `env` (from `make_environment`, kept by `stegvis serve`) saves compiling the templates again.
    `reads`, when given, receives for every page (and fragment) rendered the keys of the inputs
    it read (see `builder.reads`).
    `films` (`builder.render.storyboard.film_plans`): the films made from storyboards, whose
    players, captions and transcripts the steps show; the transcripts are written here, the
    films themselves by `builder.render.film`.
    `rendered`: step pages and fragments already rendered, with what they read, for this same
    program and settings (`render_step_pages` in the workers of a sharded build); they are
    taken as they are.
    """
    r = PageRenderer(program, config, readouts, env, films)
    rendered = rendered or {}
    tasks: list[tuple[str, Callable, tuple]] = [("index.html", r.overview, ())]
    for module in program.modules:
        tasks.append((module_page(module), r.module, (module,)))
        tasks += [(step_page(step), r.step, (module, i)) for i, step in enumerate(module.steps)]
    # A step's task writes its page and its fragment (same inputs, so they are planned together).
    extra = {step_page(step): (fragment_path(step.module_id, step.id),) for step in program.steps}
    tasks += [(form_page(form_id), r.form, (form_id,)) for form_id in program.forms]
    tasks += [(plan_page(plan_id), r.plan, (plan_id,)) for plan_id in program.plans]
    tasks = [t for t in tasks if only is None or t[0] in only or not only.isdisjoint(extra.get(t[0], ()))]
    done = {t[0] for t in tasks if all(out in rendered for out in (t[0], *extra.get(t[0], ())))}
    for page in done:
        for out in (page, *extra.get(page, ())):
            r.files[out], r.page_reads[out] = rendered[out]
    tasks = [t for t in tasks if t[0] not in done]

    def render(part: list[tuple[str, Callable, tuple]], report: Progress) -> tuple[dict[str, bytes], dict]:
        for page, fn, args in part:
            r.reads = Reads()
            fn(*args)
            for out in (page, *extra.get(page, ())):
                r.page_reads[out] = r.reads.keys
            report.advance()
        outputs = [out for page, _, _ in part for out in (page, *extra.get(page, ()))]
        return {out: r.files[out] for out in outputs}, {out: r.page_reads[out] for out in outputs}

    progress.start("Sidor", len(tasks) + len(done))
    if jobs > 1 and len(tasks) >= PARALLEL_PAGES and can_fork():
        # Interleaved halves: neighbouring pages cost about the same. The child shares the
        # parsed program copy-on-write and sends back only bytes.
        child = Forked(render, tasks[1::2], NO_PROGRESS)
        render(tasks[0::2], progress)
        files, page_reads = child.result()
        r.files.update(files)
        r.page_reads.update(page_reads)
        progress.advance(len(tasks[1::2]))
    else:
        render(tasks, progress)
    progress.advance(len(done))
    progress.done()
    if reads is not None:
        reads.update(r.page_reads)
    r.files[STYLESHEET] = (config.templates / "stegvis.css").read_bytes()
    if readouts:
        r.files[READOUT_SCRIPT] = (config.templates / "readout.js").read_bytes()
    for key, name in r.media.items():
        data = program.tree.files[f"media/{key}"]
        r.files[name] = srt_to_vtt(data.decode("utf-8")) if key.lower().endswith(".srt") else data
    for plan in (films or {}).values():
        r.files[plan.transcript] = plan.transcript_text.encode("utf-8")
    return r.files


def render_step_pages(program: Program, config: BuildConfig, steps: list[Step],
                      films: dict[str, FilmPlan] | None = None) -> dict[str, tuple[bytes, list[str]]]:
    """The pages and fragments of some steps, each with what it read, for `render_pages(rendered=…)`.

    For the workers of a sharded build (issue 16), which render their steps before the whole
    program is checked: a step whose page cannot be rendered yet (say, it embeds a form that
    does not exist, which check reports) is left out, and is rendered, or not, after check
    like any other page. Without readouts (no audio): players and highlighting need them.
    """
    r = PageRenderer(program, config, None, None, films)
    positions = {id(step): (module, i) for module in program.modules for i, step in enumerate(module.steps)}
    out: dict[str, tuple[bytes, list[str]]] = {}
    for step in steps:
        module, i = positions[id(step)]
        r.reads = Reads()
        try:
            r.step(module, i)
        except Exception:  # noqa: BLE001 (speculative work; the page is rendered after check instead)
            r._media_used = None
            continue
        for page in (step_page(step), fragment_path(step.module_id, step.id)):
            out[page] = (r.files.pop(page), r.reads.keys)
    return out
