"""Cross references: forms, plans, media and links between steps, `:::` blocks, and films' storyboards."""

from __future__ import annotations

import posixpath
from pathlib import Path

from builder.diagnostics import Diagnostics, did_you_mean
from builder.links import is_external, link_target, media_key, step_index
from builder.markdown import CALLOUT_KINDS, DIRECTIVES, Directive, locate_in, walk
from builder.model import FilmDoc, Program, Step
from builder.speech.captions import parse_captions

#: Pictures a film can show (ffmpeg reads them; SVG through librsvg).
FILM_IMAGE_SUFFIXES = (".svg", ".png", ".jpg", ".jpeg")
#: More words of narration than this in one scene (about 25 seconds of one still picture) is a warning.
FILM_SCENE_WORDS = 60


class _RefChecker:
    def __init__(self, program: Program, diags: Diagnostics) -> None:
        self.program, self.diags = program, diags
        self.index = step_index(program)
        self.media = program.tree.media
        self.checked_captions: set[str] = set()
        self.used_films: set[str] = set()

    def check_media(self, target: str, path: str, line: int, col: int) -> str | None:
        key = media_key(target)
        if key is None:
            self.diags.add("REF-004", path, line, col, target=target)
            return None
        if key not in self.media:
            guess = did_you_mean(key, self.media)
            if not guess:
                same_name = sorted(k for k in self.media if Path(k).name == Path(key).name)
                guess = f" Menade du '{same_name[0]}'?" if same_name else ""
            self.diags.add("REF-003", path, line, col, target=target, suggestion=guess)
            return None
        return key

    def step(self, step: Step) -> None:
        for d in step.body.directives:
            self.directive(step, d)
        for kind, target, line, col in step_refs(step):
            if kind == "link":
                self.link(step, target, line, col)
            elif is_external(target):
                self.diags.add("REF-005", step.path, line, col, target=target)
            else:
                self.check_media(target, step.path, line, col)

    def link(self, step: Step, href: str, line: int, col: int) -> None:
        if is_external(href) or href.startswith("#"):
            return
        path = href.split("#", 1)[0]
        if ":" in path.split("/", 1)[0]:
            self.diags.add("REF-005", step.path, line, col, target=href)
        elif path.endswith(".md"):
            target = link_target(step, path)
            if target is None:
                self.diags.add("REF-004", step.path, line, col, target=href)
            elif target not in self.index:
                here = posixpath.dirname(step.source.rel)
                rels = {posixpath.relpath(rel, here): s for rel, s in self.index.items()}
                by_id = {s.id: rel for rel, s in rels.items()}
                guess = did_you_mean(path, rels) or (
                    f" Menade du '{by_id[Path(path).stem.split('-', 1)[-1]]}'?"
                    if Path(path).stem.split("-", 1)[-1] in by_id else "")
                self.diags.add("REF-002", step.path, line, col, target=href, suggestion=guess)
        else:
            self.check_media(path, step.path, line, col)

    def directive(self, step: Step, d: Directive) -> None:
        path = step.path
        if d.name not in DIRECTIVES:
            self.diags.add("BLOCK-001", path, d.line, name=d.name, suggestion=did_you_mean(d.name, DIRECTIVES))
            return
        if not d.closed:
            self.diags.add("BLOCK-004", path, d.line, name=d.name)
        for line, raw in d.bad_lines:
            self.diags.add("BLOCK-003", path, line, name=d.name, text=raw)
        for key, line in d.option_lines.items():
            if key not in DIRECTIVES[d.name]:
                allowed = ", ".join(sorted(DIRECTIVES[d.name])) or "inga"
                self.diags.add("BLOCK-006", path, line, name=d.name, key=key, allowed=allowed,
                               suggestion=did_you_mean(key, DIRECTIVES[d.name]))
        if d.name == "form":
            if not d.arg:
                self.diags.add("BLOCK-002", path, d.line, name="form", what="formulärets id",
                               hint="Skriv '::: form ID', där ID är filnamnet i forms/ utan .yaml.")
            elif d.arg not in self.program.forms:
                self.diags.add("REF-001", path, d.line, form=d.arg, suggestion=did_you_mean(d.arg, self.program.forms))
        elif d.name == "video":
            if not d.arg:
                self.diags.add("BLOCK-002", path, d.line, name="video", what="filmens adress",
                               hint="Skriv '::: video https://…' eller en sökväg inuti media/.")
            elif not is_external(d.arg):
                key = self.check_media(d.arg, path, d.line, 1)
                if key is not None and key in self.program.films:
                    self.storyboard_directive(step, d, key)
                    return
            self.captions(step, d)
        elif d.name == "audio":
            if not d.arg:
                self.diags.add("BLOCK-002", path, d.line, name="audio", what="ljudfilens sökväg",
                               hint="Skriv '::: audio ljud/namn.mp3' (sökvägen inuti media/).")
            else:
                self.check_media(d.arg, path, d.line, 1)
            if "transcript" not in d.options:
                self.diags.add("A11Y-006", path, d.line)
            else:
                self.check_media(d.options["transcript"], path, d.option_lines["transcript"], 1)
        elif d.name == "callout":
            kind = d.arg.split(" ", 1)[0]
            if kind not in CALLOUT_KINDS:
                self.diags.add("BLOCK-005", path, d.line, value=kind, suggestion=did_you_mean(kind, CALLOUT_KINDS))

    def storyboard_directive(self, step: Step, d: Directive, key: str) -> None:
        """A film made from a storyboard: its captions and transcript come from the storyboard."""
        self.used_films.add(key)
        for option in ("captions", "transcript"):
            if option in d.options:
                self.diags.add("FILM-005", step.path, d.option_lines[option], 1, target=d.arg, key=option)

    def storyboard(self, film: FilmDoc) -> None:
        """A storyboard's pictures exist and can be filmed; its scenes are not too long to watch."""
        doc = film.doc
        for i, scene in enumerate(film.storyboard.scenes):
            line, col = doc.locate(("scenes", i, "image"))
            key = self.check_media(scene.image, doc.path, line, col)
            if key is not None and Path(key).suffix.lower() not in FILM_IMAGE_SUFFIXES:
                self.diags.add("FILM-004", doc.path, line, col, target=scene.image)
            words = len(scene.narration.split())
            if words > FILM_SCENE_WORDS:
                self.diags.add("FILM-007", doc.path, *doc.locate(("scenes", i, "narration")), scene=i + 1,
                               words=words, limit=FILM_SCENE_WORDS)

    def check_captions(self, key: str, target: str, path: str, line: int) -> None:
        """Parse a caption file; problems are reported in the caption file itself."""
        suffix = Path(key).suffix.lower()
        if suffix not in (".vtt", ".srt"):
            self.diags.add("REF-008", path, line, 1, target=target)
            return
        if key in self.checked_captions:
            return
        self.checked_captions.add(key)
        shown = self.program.tree.display(f"media/{key}")
        try:
            text = self.media[key].read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            self.diags.add("FILE-001", shown, 1, 1)
            return
        for problem in parse_captions(text, srt=suffix == ".srt")[1]:
            self.diags.add(problem.code, shown, problem.line, 1, target=target, detail=problem.detail)

    def captions(self, step: Step, d: Directive) -> None:
        if "captions" not in d.options and "transcript" not in d.options:
            self.diags.add("A11Y-002", step.path, d.line)
        if "captions" in d.options:
            line = d.option_lines["captions"]
            target = d.options["captions"]
            key = self.check_media(target, step.path, line, 1)
            if key is not None:
                self.check_captions(key, target, step.path, line)
        if "transcript" in d.options:
            self.check_media(d.options["transcript"], step.path, d.option_lines["transcript"], 1)


def step_refs(step: Step) -> list[tuple[str, str, int, int]]:
    """("link" | "image", target, line, col) of every link and image of a step, callouts included.

    Kept with the body (`derived.refs`), so that a step summarised by an earlier build has its
    references checked again without being parsed (issue 16).
    """
    derived = step.body.derived
    if derived.refs is None:
        lines, first = step.body.lines, step.body.line
        refs = []
        for tok in walk(step.body.tokens):
            if tok.type != "inline":
                continue
            for child in tok.children or []:
                if child.type == "link_open":
                    href = str(child.attrs.get("href", ""))
                    refs.append(("link", href, *locate_in(lines, tok.map, href, first)))
                elif child.type == "image":
                    src = str(child.attrs.get("src", ""))
                    refs.append(("image", src, *locate_in(lines, tok.map, src, first)))
        derived.refs = refs
    return derived.refs


def check_references(program: Program, diags: Diagnostics) -> None:
    """Every form, plan, media file and step that content points at must exist."""
    checker = _RefChecker(program, diags)
    used_forms = set()
    for step in program.steps:
        checker.step(step)
        used_forms.update(d.arg for d in step.body.directives if d.name == "form")
    for key, film in program.films.items():
        checker.storyboard(film)
        if key not in checker.used_films:
            diags.add("FILM-006", film.doc.path, target=key)
    for form_id, fd in program.forms.items():
        if form_id not in used_forms:
            diags.add("REF-007", fd.doc.path, form=form_id)
        for i, q in enumerate(fd.form.questions):
            if q.image:
                checker.check_media(q.image, fd.doc.path, *fd.doc.locate(("questions", i, "image")))
    for pd in program.plans.values():
        for i, q in enumerate(pd.plan.fields):
            if q.image:
                checker.check_media(q.image, pd.doc.path, *pd.doc.locate(("fields", i, "image")))
        goal_from = pd.plan.results.goal_from if pd.plan.results else None
        if goal_from is None:
            continue
        other = program.plans.get(goal_from.plan)
        if other is None:
            diags.add("REF-006", pd.doc.path, *pd.doc.locate(("results", "goal_from", "plan")),
                      plan=goal_from.plan, suggestion=did_you_mean(goal_from.plan, program.plans))
        elif goal_from.field not in {f.id for f in other.plan.fields}:
            diags.add("PLAN-005", pd.doc.path, *pd.doc.locate(("results", "goal_from", "field")),
                      plan=goal_from.plan, field=goal_from.field,
                      suggestion=did_you_mean(goal_from.field, [f.id for f in other.plan.fields]))
