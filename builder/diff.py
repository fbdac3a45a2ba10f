"""Version diffs between two built program packages (issue #6).

Input: two packages, each a folder `dist/<id>/<version>/`, a zip `dist/<id>-<version>.zip`
(entries under `<id>/<version>/`) or, during a build, the rendered files in memory.
Output: a `PackageDiff`, the classified `Change`s between them, written as a Swedish
changelog for reviewers (`format_text`) or as structured data (`diff_as_data`); and
the build's check that a new version number is large enough (`check_version_bump`,
diagnostic PACKAGE-002).

It reads only `manifest.json`, `program.json` and the step fragments of a package,
through the package contract's reader and verification (`stegvis_package`): a
diff compares what patients were given, not the sources (a package's `source/` files
are ignored; a changed source shows as a changed page anyway). The compatibility rules
live in `builder/compat.py`. This module must not write files.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

from builder.compat import (
    ADDED,
    MEANING,
    NONE,
    REMOVED,
    Level,
    classify,
    required_version,
    version_suffices,
)
from builder.diagnostics import Diagnostics
from stegvis_package.encoding import dumps
from stegvis_package.paths import MANIFEST, PROGRAM
from stegvis_package.reader import MemoryReader, NotAPackage, PackageReader
from stegvis_package.reader import open_package as open_reader
from stegvis_package.verify import PackageInvalid, Refusal, read_fragment, verify
from stegvis_package.versions import is_version, version_key

if TYPE_CHECKING:
    from builder.model import Program


class PackageError(Exception):
    """A path that is not a readable package (an environment error, exit code 2)."""

    def __init__(self, message: str, kind: Refusal | None = None) -> None:
        super().__init__(message)
        self.kind = kind  # why verification refused it, when it did


# --- Reading packages ---------------------------------------------------------------------


@dataclass(frozen=True)
class Package:
    """What a diff needs of one package: its program.json, manifest and step texts."""

    name: str  # how the package is named in messages
    program: dict  # program.json
    manifest: dict  # manifest.json
    articles: dict[str, str]  # step page path -> the HTML of its <article class="step">

    @property
    def program_id(self) -> str:
        """The program's id, from program.json (or the manifest)."""
        return str(self.program.get("program", {}).get("id") or self.manifest.get("program", {}).get("id", ""))

    @property
    def version(self) -> str:
        """The program's version, from program.json (or the manifest)."""
        return str(self.program.get("program", {}).get("version") or self.manifest.get("program", {}).get("version", ""))


def _load(reader: PackageReader, check: bool = True) -> Package:
    """What a diff needs of a package, through the one verification every reader uses."""
    try:
        if check:
            verified = verify(reader)
            program, manifest_bytes = verified.program_json, verified.manifest_bytes
        else:  # files this build has just made, in memory
            manifest_bytes = reader.read(MANIFEST) or b""
            program = json.loads(reader.read(PROGRAM) or b"{}")
        manifest = json.loads(manifest_bytes)
        articles = {}
        for _module, _section, step in _steps(program):
            data = reader.read(step["fragment"])
            fragment = read_fragment(data, step["fragment"]) if data is not None else None
            text = "".join(p.html or "" for p in fragment.parts) if fragment is not None else ""
            articles[step["page"]] = f'<article class="step">{text}</article>'
    except PackageInvalid as exc:
        raise PackageError(f"{reader.name} går inte att jämföra: {exc.reason}.", exc.kind) from exc
    return Package(reader.name, program, manifest, articles)


def open_package(path: Path) -> Package:
    """Read and verify a package folder or zip. Raises PackageError (in Swedish) when it is not one."""
    try:
        with open_reader(path) as reader:
            return _load(reader)
    except NotAPackage as exc:
        raise PackageError(f"{path} är inte ett programpaket: {exc}. Ange en paketmapp som "
                           "dist/<id>/<version>/ eller en zip som dist/<id>-<version>.zip.") from exc


def package_from_files(name: str, files: dict[str, bytes], manifest: dict) -> Package:
    """A package that is not written yet: the rendered files of a build and its manifest."""
    return _load(MemoryReader(name, files | {MANIFEST: dumps(manifest)}), check=False)


# --- The readable text of a step page -----------------------------------------------------

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_INLINE = {"a", "abbr", "b", "bdi", "cite", "code", "del", "dfn", "em", "i", "ins", "kbd", "mark", "q", "s",
           "small", "span", "strong", "sub", "sup", "time", "u"}
#: Not read as text: forms are compared question by question, players and films have no text of their own.
_SKIP_TAGS = {"audio", "video", "form", "script", "style", "template", "button", "select", "textarea"}
_SKIP_CLASSES = {"form", "readout"}


class _StepText(HTMLParser):
    """Collects the text of the first `<article class="step">`, leaving out forms and players."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[str] = []
        self.article: int | None = None  # stack depth of the article while inside it
        self.skip: int | None = None  # stack depth of the element being left out
        self.done = False

    def _reading(self) -> bool:
        return self.article is not None and self.skip is None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        classes = set((dict(attrs).get("class") or "").split())
        if tag in _VOID:
            if self._reading() and tag == "img":
                alt = (dict(attrs).get("alt") or "").strip()
                self.parts.append(f" [Bild: {alt}] " if alt else " [Bild] ")
            elif self._reading():
                self.parts.append(" ")
            return
        self.stack.append(tag)
        if self.article is None:
            if tag == "article" and "step" in classes:
                self.article = len(self.stack)
            return
        if self.skip is None and (tag in _SKIP_TAGS or classes & _SKIP_CLASSES):
            self.skip = len(self.stack)
        if tag not in _INLINE and self._reading():
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if self.done or tag in _VOID or tag not in self.stack:
            return
        while self.stack:
            depth = len(self.stack)
            popped = self.stack.pop()
            if self.skip is not None and depth <= self.skip:
                self.skip = None
            if self.article is not None and depth <= self.article:
                self.article, self.done = None, True
            if popped == tag:
                break
        if tag not in _INLINE and self._reading():
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.done and self._reading():
            self.parts.append(data)


def step_text(html: str) -> str:
    """The readable text of a step page: its `<article class="step">` without forms and players.

    Images count as "[Bild: alt text]"; whitespace is collapsed to single spaces.
    """
    parser = _StepText()
    parser.feed(html)
    parser.close()
    return " ".join("".join(parser.parts).split())


def word_diff(old: str, new: str, context: int = 4) -> list[str]:
    """Word-level differences, one line per place: "… ord {-gammalt-}{+nytt+} ord …"."""
    a, b = old.split(), new.split()
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    hunks = []
    for group in matcher.get_grouped_opcodes(context):
        words = ["…"] if group[0][1] > 0 or group[0][3] > 0 else []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                words.extend(a[i1:i2])
                continue
            removed = "{-" + " ".join(a[i1:i2]) + "-}" if i2 > i1 else ""
            added = "{+" + " ".join(b[j1:j2]) + "+}" if j2 > j1 else ""
            words.append(removed + added)
        if group[-1][2] < len(a) or group[-1][4] < len(b):
            words.append("…")
        hunks.append(" ".join(words))
    return hunks


# --- Changes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One difference between two packages, with its compatibility level and a Swedish line."""

    level: Level
    area: str  # program, module, step, form, question, plan, field, media
    action: str  # added, removed, changed
    ref: str  # e.g. "start/mitt-mal" (module/step), "mal/roker" (form/question)
    message: str
    field: str | None = None
    old: object = None
    new: object = None
    word_diff: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        """The change as JSON data; a text change carries its word diff instead of both texts."""
        data = {"level": self.level.label, "area": self.area, "action": self.action, "ref": self.ref,
                "field": self.field, "message": self.message}
        if self.word_diff:
            data["word_diff"] = list(self.word_diff)
        else:
            data |= {"old": self.old, "new": self.new}
        return data


@dataclass
class PackageDiff:
    """Every change from the old package to the new, and what they mean for the version."""

    old_id: str
    old_version: str
    new_id: str
    new_version: str
    changes: list[Change] = field(default_factory=list)

    @property
    def level(self) -> Level:
        """The overall class: the highest level of any change (NONE when nothing changed)."""
        return max((c.level for c in self.changes), default=NONE)

    @property
    def required_version(self) -> str | None:
        """The smallest version after the old one that the changes allow (None: no changes)."""
        return required_version(self.old_version, self.level) if is_version(self.old_version) else None

    @property
    def version_ok(self) -> bool:
        """Whether the new version number is large enough for the changes."""
        if not (is_version(self.old_version) and is_version(self.new_version)):
            return self.level is NONE
        return version_suffices(self.old_version, self.new_version, self.level)

    def counts(self) -> dict[str, int]:
        """How many changes of each level, major first."""
        return {lvl.label: sum(1 for c in self.changes if c.level is lvl) for lvl in (Level.MAJOR, Level.MINOR, Level.PATCH)}


#: Swedish nouns per area: (singular, added, removed) with the gender's participles.
_THINGS = {
    "module": ("Modul", "tillagd", "borttagen"),
    "step": ("Steg", "tillagt", "borttaget"),
    "form": ("Formulär", "tillagt", "borttaget"),
    "question": ("Fråga", "tillagd", "borttagen"),
    "plan": ("Aktivitetsplan", "tillagd", "borttagen"),
    "field": ("Fält", "tillagt", "borttaget"),
    "media": ("Mediefil", "tillagd", "borttagen"),
    "program": ("Program", "tillagt", "borttaget"),
}

#: Swedish names of fields in changelog lines.
_FIELDS = {
    "id": "id", "title": "titel", "description": "beskrivning", "publisher": "utgivare", "language": "språk",
    "lexicon": "uttalslexikon", "readability": "läsbarhetsgräns", "contacts": "kontakter",
    "administration": "avgift och koder", "kind": "modultyp", "start": "start", "visible": "synligt från start",
    "section": "avsnitt", "audio": "uppläsning", "reviewed": "granskning", "forms": "formulär",
    "required": "obligatorisk", "page_comments": "sidkommentarer", "flag_on_submit": "flagga vid inskick",
    "type": "frågetyp", "label": "text", "help": "hjälptext", "show_if": "visas om", "min": "min", "max": "max",
    "step": "steglängd", "labels": "skaletiketter", "unit": "enhet", "max_length": "största antal tecken",
    "image": "bild", "alt": "alternativtext", "order": "ordning", "text": "text",
    "scoring": "poängräkning", "scoring.questions": "poängräkningens frågor",
    "scoring.limits": "tolkningsbandens gränser", "scoring.bands": "tolkningsband", "scoring.note": "poängnotering",
    "schedule.repeat_every_weeks": "schema: upprepa var n:e vecka", "schedule.days": "schema: dagar och tider",
    "schedule.registration_window_days": "schema: dagar att registrera", "schedule.flag_missed":
    "schema: flagga missad registrering", "schedule.allow_comments": "schema: kommentarer",
    "schedule.activated": "schema: aktiverad från start", "results": "resultat",
    "option.value": "svarsvärde", "option.points": "poäng", "option.exclusive": "väljs ensamt", "option.label": "svarsalternativets text",
    "option.order": "svarsalternativens ordning",
}

_VALUE_NAMES = {"core": "grundmodul", "deepening": "fördjupningsmodul", "current": "aktuell", "upcoming": "kommande"}


def _show(value: object, limit: int = 80) -> str:
    """A value as a reviewer reads it: ”text”, ja/nej, numbers, (inget)."""
    if value is None:
        text = "(inget)"
    elif isinstance(value, bool):
        text = "ja" if value else "nej"
    elif isinstance(value, str):
        text = _VALUE_NAMES.get(value) or f"”{value}”"
    elif isinstance(value, int | float):
        text = str(value)
    elif isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        text = ", ".join(map(str, value)) or "(inga)"
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Differ:
    """Walks two program.json documents and collects classified changes."""

    def __init__(self, old: Package, new: Package) -> None:
        self.old, self.new = old, new
        self.changes: list[Change] = []

    def added(self, area: str, ref: str, value: dict | str, extra: str = "", level: Level = ADDED) -> None:
        thing, added, _ = _THINGS[area]
        title = _title(value)
        named = f" ”{title}”" if title else ""
        self.changes.append(Change(level, area, "added", ref, f"{thing} {added}: {ref}{named}{extra}", new=value))

    def removed(self, area: str, ref: str, value: dict | str, extra: str = "", level: Level = REMOVED) -> None:
        thing, _, removed = _THINGS[area]
        title = _title(value)
        named = f" ”{title}”" if title else ""
        self.changes.append(Change(level, area, "removed", ref, f"{thing} {removed}: {ref}{named}{extra}", old=value))

    def changed(self, area: str, ref: str, key: str, old: object, new: object, title: str | None = None,
                level: Level | None = None) -> None:
        if old == new:
            return
        level = classify(area, key, old, new) if level is None else level
        thing = _THINGS[area][0]
        named = f" ”{title}”" if title else ""
        message = f"{f'{thing} {ref}'.strip()}{named}: {_FIELDS.get(key, key)} {_show(old)} → {_show(new)}"
        self.changes.append(Change(level, area, "changed", ref, message, key, old, new))

    def order(self, area: str, ref: str, what: str, old: list, new: list, key: str = "order") -> None:
        """An order change among the items both sides have (additions and removals are reported apart)."""
        common_old = [x for x in old if x in set(new)]
        common_new = [x for x in new if x in set(old)]
        if common_old != common_new:
            message = f"{what}: {_show(common_old)} → {_show(common_new)}"
            self.changes.append(Change(classify(area, key, common_old, common_new), area, "changed", ref, message,
                                       key, common_old, common_new))

    # program.json parts

    def program(self) -> None:
        old = {k: v for k, v in self.old.program.get("program", {}).items() if k != "version"}
        new = {k: v for k, v in self.new.program.get("program", {}).items() if k != "version"}
        for key in sorted(set(old) | set(new)):
            self.changed("program", "", key, old.get(key), new.get(key))

    def modules(self) -> None:
        old = {m["id"]: m for m in self.old.program.get("modules", [])}
        new = {m["id"]: m for m in self.new.program.get("modules", [])}
        self.order("module", "", "Modulernas ordning", list(old), list(new))
        for mid, m in new.items():
            if mid not in old:
                steps = sum(len(s.get("steps", [])) for s in m.get("sections", []))
                self.added("module", mid, m, f" ({_show(m.get('kind'))}, {steps} steg)")
        for mid, m in old.items():
            if mid not in new:
                steps = sum(len(s.get("steps", [])) for s in m.get("sections", []))
                self.removed("module", mid, m, f" ({steps} steg)")
                continue
            n = new[mid]
            for key in ("title", "description", "kind", "start"):
                self.changed("module", mid, key, m.get(key), n.get(key), title=n.get("title"))

    def steps(self) -> None:
        old_modules = {m["id"] for m in self.old.program.get("modules", [])}
        new_modules = {m["id"] for m in self.new.program.get("modules", [])}
        old = {f"{m['id']}/{st['id']}": (s, st) for m, s, st in _steps(self.old.program)}
        new = {f"{m['id']}/{st['id']}": (s, st) for m, s, st in _steps(self.new.program)}
        for mid in sorted(old_modules & new_modules):
            self.order("step", mid, f"Stegens ordning i modul {mid}", [k for k in old if k.startswith(f"{mid}/")],
                       [k for k in new if k.startswith(f"{mid}/")])
        for ref, (section, st) in new.items():
            if ref not in old and ref.split("/")[0] in old_modules:
                self.added("step", ref, st, f" (avsnitt ”{section.get('title')}”)")
        for ref, (_section, st) in old.items():
            if ref not in new and ref.split("/")[0] in new_modules:
                self.removed("step", ref, st)
        for ref, (section, st) in new.items():
            if ref not in old:
                continue
            old_section, ost = old[ref]
            title = st.get("title")
            self.changed("step", ref, "title", ost.get("title"), title)
            self.changed("step", ref, "section", old_section.get("title"), section.get("title"), title)
            for key in ("visible", "audio", "reviewed"):
                self.changed("step", ref, key, ost.get(key), st.get(key), title)
            old_forms, new_forms = ost.get("forms", []), st.get("forms", [])
            if old_forms != new_forms:
                self.changed("step", ref, "forms", old_forms, new_forms, title)
            self.text(ref, title, self.old.articles.get(ost.get("page"), ""),
                      self.new.articles.get(st.get("page"), ""))

    def text(self, ref: str, title: str | None, old_html: str, new_html: str) -> None:
        if old_html == new_html:
            return
        old, new = step_text(old_html), step_text(new_html)
        if old == new:
            return
        hunks = tuple(word_diff(old, new))
        named = f" ”{title}”" if title else ""
        self.changes.append(Change(classify("step", "text", old, new), "step", "changed", ref,
                                   f"Steg {ref}{named}: text ändrad", "text", word_diff=hunks))

    def forms(self) -> None:
        old, new = self.old.program.get("forms", {}), self.new.program.get("forms", {})
        for fid in sorted(set(new) - set(old)):
            self.added("form", fid, new[fid], f" ({len(new[fid].get('questions', []))} frågor)")
        for fid in sorted(set(old) - set(new)):
            self.removed("form", fid, old[fid])
        for fid in sorted(set(old) & set(new)):
            o, n = old[fid], new[fid]
            title = n.get("title")
            self.changed("form", fid, "title", o.get("title"), title)
            for key in ("description", "required", "page_comments", "flag_on_submit"):
                self.changed("form", fid, key, o.get(key), n.get(key), title)
            self.questions("question", fid, o.get("questions", []), n.get("questions", []))
            self.scoring(fid, title, o.get("scoring"), n.get("scoring"))

    def scoring(self, fid: str, title: str | None, old: dict | None, new: dict | None) -> None:
        if old is None or new is None:
            self.changed("form", fid, "scoring", old, new, title)
            return
        self.changed("form", fid, "scoring.questions", old.get("questions"), new.get("questions"), title)
        old_bands, new_bands = _band_sets(old), _band_sets(new)
        limits = [[(who, b.get("min"), b.get("max")) for who, b in bands] for bands in (old_bands, new_bands)]
        shown = [", ".join(f"{who}{b.get('min')}–{b.get('max')} {b.get('label')}" for who, b in bands)
                 for bands in (old_bands, new_bands)]
        if limits[0] != limits[1]:
            self.changed("form", fid, "scoring.limits", shown[0], shown[1], title)
        elif old_bands != new_bands:
            self.changed("form", fid, "scoring.bands", old_bands, new_bands, title)
        self.changed("form", fid, "scoring.note", old.get("note"), new.get("note"), title)

    def questions(self, area: str, owner: str, old_list: list[dict], new_list: list[dict]) -> None:
        old = {q["id"]: q for q in old_list}
        new = {q["id"]: q for q in new_list}
        what = "Frågornas ordning i formulär" if area == "question" else "Fältens ordning i aktivitetsplan"
        self.order(area, owner, f"{what} {owner}", list(old), list(new))
        for qid, q in new.items():
            if qid not in old:
                required = ", måste besvaras" if q.get("required") else ""
                self.added(area, f"{owner}/{qid}", q, f" ({q.get('type')}{required})")
        for qid, q in old.items():
            if qid not in new:
                self.removed(area, f"{owner}/{qid}", q)
        for qid, q in new.items():
            if qid in old:
                self.question(area, f"{owner}/{qid}", old[qid], q)

    def question(self, area: str, ref: str, old: dict, new: dict) -> None:
        label = new.get("label")
        for key in ("type", "label", "required", "help", "show_if", "min", "max", "step", "unit", "max_length",
                    "labels", "image", "alt"):
            default = False if key == "required" else None
            self.changed(area, ref, key, old.get(key, default), new.get(key, default),
                         title=None if key == "label" else label)
        self.options(area, ref, label, old.get("options") or [], new.get("options") or [])

    def options(self, area: str, ref: str, label: str | None, old_list: list[dict], new_list: list[dict]) -> None:
        old = {o["value"]: o for o in old_list}
        new = {o["value"]: o for o in new_list}
        gone = [v for v in old if v not in new]
        came = [v for v in new if v not in old]
        # An option whose value changed but whose text stayed is one change, not a removal and an addition.
        by_label = {new[v].get("label"): v for v in came}
        for v in list(gone):
            if old[v].get("label") in by_label:
                w = by_label.pop(old[v].get("label"))
                self.changed(area, ref, "option.value", v, w, title=label)
                gone.remove(v)
                came.remove(w)
        thing = _THINGS[area][0]
        for v in came:
            points = f", {new[v]['points']} poäng" if new[v].get("points") is not None else ""
            self.changes.append(Change(ADDED, area, "added", ref,
                                       f"{thing} {ref} ”{label}”: svarsalternativ tillagt: {_show(v)} "
                                       f"({new[v].get('label')}{points})", "option", None, new[v]))
        for v in gone:
            self.changes.append(Change(REMOVED, area, "removed", ref,
                                       f"{thing} {ref} ”{label}”: svarsalternativ borttaget: {_show(v)} "
                                       f"({old[v].get('label')})", "option", old[v], None))
        for v in (v for v in new if v in old):
            self.changed(area, ref, "option.label", old[v].get("label"), new[v].get("label"), title=label)
            self.changed(area, ref, "option.points", old[v].get("points"), new[v].get("points"),
                         title=f"{label}” svar ”{v}")
            self.changed(area, ref, "option.exclusive", bool(old[v].get("exclusive")), bool(new[v].get("exclusive")),
                         title=f"{label}” svar ”{v}")
        self.order(area, ref, f"Svarsalternativens ordning i {_THINGS[area][0].lower()} {ref}", list(old), list(new),
                   key="option.order")

    def plans(self) -> None:
        old = self.old.program.get("activity_plans", {})
        new = self.new.program.get("activity_plans", {})
        for pid in sorted(set(new) - set(old)):
            self.added("plan", pid, new[pid])
        for pid in sorted(set(old) - set(new)):
            self.removed("plan", pid, old[pid])
        for pid in sorted(set(old) & set(new)):
            o, n = old[pid], new[pid]
            title = n.get("title")
            self.changed("plan", pid, "title", o.get("title"), title)
            self.changed("plan", pid, "description", o.get("description"), n.get("description"), title)
            self.questions("field", pid, o.get("fields", []), n.get("fields", []))
            old_s, new_s = o.get("schedule") or {}, n.get("schedule") or {}
            for key in sorted(set(old_s) | set(new_s)):
                self.changed("plan", pid, f"schedule.{key}", old_s.get(key), new_s.get(key), title)
            self.changed("plan", pid, "results", o.get("results"), n.get("results"), title)

    def media(self) -> None:
        old, new = _media(self.old.manifest), _media(self.new.manifest)
        for key in sorted(set(new) - set(old)):
            self.added("media", key, new[key], level=classify("media", "file", None, key))
        for key in sorted(set(old) - set(new)):
            self.removed("media", key, old[key], level=classify("media", "file", key, None))
        for key in sorted(set(old) & set(new)):
            if old[key] != new[key]:
                self.changes.append(Change(classify("media", "file", old[key], new[key]), "media", "changed", key,
                                           f"Mediefil {key}: nytt innehåll", "file", old[key], new[key]))


def _title(value: dict | str) -> str | None:
    return value.get("title") or value.get("label") if isinstance(value, dict) else None


def _steps(program: dict):
    """(module, section, step) of a program.json, in order."""
    for m in program.get("modules", []):
        for s in m.get("sections", []):
            for st in s.get("steps", []):
                yield m, s, st


_HASHED = re.compile(r"\.[0-9a-f]{10}(?=\.[^./]+$)")


def _media(manifest: dict) -> dict[str, str]:
    """media/ files by their name without the content hash -> sha256."""
    files = manifest.get("files", {})
    return {_HASHED.sub("", path): entry.get("sha256") for path, entry in files.items() if path.startswith("media/")}


#: Order of the changelog's headings.
AREAS = {
    "program": "Program", "module": "Moduler", "step": "Steg", "form": "Formulär", "question": "Frågor",
    "plan": "Aktivitetsplaner", "field": "Fält i aktivitetsplaner", "media": "Mediefiler",
}


def diff_packages(old: Package, new: Package) -> PackageDiff:
    """Every change from `old` to `new`, classified; by area (AREAS), major first, then program order."""
    differ = _Differ(old, new)
    differ.program()
    differ.modules()
    differ.steps()
    differ.forms()
    differ.plans()
    differ.media()
    order = list(AREAS)
    # Stable sort: by area, the weightiest first, then in the order of the program.
    changes = sorted(differ.changes, key=lambda c: (order.index(c.area), -c.level))
    return PackageDiff(old.program_id, old.version, new.program_id, new.version, changes)


# --- Output -------------------------------------------------------------------------------


def format_text(d: PackageDiff) -> str:
    """The Swedish changelog for reviewers: changes by area, their class, and the version they need."""
    old = f"{d.old_id} {d.old_version}"
    new = f"{d.new_version}" if d.new_id == d.old_id else f"{d.new_id} {d.new_version}"
    if not d.changes:
        return f"{old} → {new}: inga ändringar."
    n = len(d.changes)
    lines = [f"{old} → {new}: {n} {'ändring' if n == 1 else 'ändringar'}, klass {d.level.label}."]
    for area, heading in AREAS.items():
        items = [c for c in d.changes if c.area == area]
        if not items:
            continue
        lines += ["", heading]
        for c in items:
            lines.append(f"  [{c.level.label}] {c.message}")
            lines += [f"          {hunk}" for hunk in c.word_diff]
    counts = ", ".join(f"{v} {k}" for k, v in d.counts().items() if v)
    lines += ["", f"Klass: {d.level.label} – {MEANING[d.level]}. Ändringar per klass: {counts}."]
    if d.required_version:
        verdict = "räcker" if d.version_ok else "räcker inte"
        lines.append(f"Minsta tillåtna version efter {d.old_version}: {d.required_version}. "
                     f"Version {d.new_version} {verdict}.")
    return "\n".join(lines)


def diff_as_data(d: PackageDiff) -> dict:
    """The same changelog as structured data (`stegvis diff --format json`)."""
    return {
        "old": {"program": d.old_id, "version": d.old_version},
        "new": {"program": d.new_id, "version": d.new_version},
        "level": d.level.label,
        "required_version": d.required_version,
        "version_ok": d.version_ok,
        "counts": d.counts(),
        "changes": [c.as_dict() for c in d.changes],
    }


def changelog(old: Path, new: Path, fmt: str = "text") -> str:
    """`stegvis diff OLD NEW`: read two packages and return the changelog as text or JSON.

    Raises PackageError when either path is not a readable package.
    """
    d = diff_packages(open_package(old), open_package(new))
    if fmt == "json":
        return json.dumps(diff_as_data(d), ensure_ascii=False, indent=2)
    return format_text(d)


# --- The build's version check ------------------------------------------------------------


def find_previous(out: Path, program_id: str, version: str) -> Path | None:
    """The newest package `out/<program_id>/<v>/` with a version v lower than `version`."""
    folder = out / program_id
    if not folder.is_dir() or not is_version(version):
        return None
    lower = [p for p in folder.iterdir()
             if p.is_dir() and is_version(p.name) and (p / MANIFEST).is_file()
             and version_key(p.name) < version_key(version)]
    return max(lower, key=lambda p: version_key(p.name), default=None)


def check_version_bump(program: Program, files: dict[str, bytes], manifest: dict, out: Path,
                       previous: Path | None, diags: Diagnostics) -> bool:
    """Whether the build may write its package: False, with PACKAGE-002, when the version is too small.

    The previous package is `previous` when it is a package of the same program, else the
    newest package of the program in `out` with a lower version. No previous package, or
    one of the same version (PACKAGE-001's business), means nothing to check.
    Raises PackageError when the previous package cannot be read.
    """
    meta = program.meta
    old = open_package(previous) if previous is not None else None
    if old is None or old.program_id != meta.id:
        path = find_previous(out, meta.id, meta.version)
        try:
            old = open_package(path) if path is not None else None
        except PackageError as exc:
            if exc.kind is not Refusal.FORMAT:
                raise
            old = None  # found, not named: a package of an older format cannot be compared, nor is it asked for
    if old is None or not is_version(old.version) or version_key(old.version) == version_key(meta.version):
        return True
    d = diff_packages(old, package_from_files(f"{meta.id} {meta.version}", files, manifest))
    if d.version_ok:
        return True
    first = next(c for c in d.changes if c.level is d.level)
    line, col = program.tree.program.locate(("version",)) if program.tree.program is not None else (1, 1)
    diags.add("PACKAGE-002", program.tree.program_path, line, col, version=meta.version, previous=old.version,
              level=d.level.label, count=d.counts()[d.level.label], change=first.message,
              required=d.required_version, meaning=MEANING[d.level])
    return False


def _band_sets(scoring: dict) -> list[tuple[str, dict]]:
    """A scoring's bands as (who, band): who is "" for `bands`, "kvinnor: " or "män: " for `bands_by_sex`."""
    by_sex = scoring.get("bands_by_sex")
    if by_sex:
        return [(f"{plural}: ", b) for sex, plural in (("kvinna", "kvinnor"), ("man", "män"))
                for b in by_sex.get(sex, [])]
    return [("", b) for b in scoring.get("bands", [])]
