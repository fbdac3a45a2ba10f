"""The program model: what load reads and what validate makes of it.

Layer: below every stage (see DESIGN.md, "Layers"). Types named by lifecycle: the raw
documents of a program folder (`StepSource`, `ModuleSource`, `SourceTree`, made by
`builder.load` and `builder.resolve`) and the validated program (`Step`, `Module`,
`Program`, made by `builder.validate`), which check, render and package read. Holds data
and what follows from it alone; must not import a stage, nor read files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from builder.markdown import ParsedBody
from builder.schema.activity_plan import ActivityPlan
from builder.schema.film import Storyboard
from builder.schema.form import Form
from builder.schema.module import ModuleMeta
from builder.schema.program import ProgramMeta
from builder.schema.step import StepMeta
from builder.yamlsrc import YamlDoc

# --- raw documents (load) ------------------------------------------------------------


@dataclass
class StepSource:
    id: str
    path: str  # display path
    file: Path
    rel: str  # path inside its program folder, e.g. "modules/03-fysisk-aktivitet/02-hur-mycket.md"
    order: int
    front: YamlDoc | None
    body: str
    body_line: int  # 1-based line of the body's first line


@dataclass
class ModuleSource:
    id: str
    folder: str  # folder name, e.g. "03-fysisk-aktivitet"
    path: str  # display path of the folder
    meta: YamlDoc | None
    meta_path: str
    steps: list[StepSource] = field(default_factory=list)
    meta_missing: bool = False  # no module.yaml (an error unless an overlay's base has one)


@dataclass
class SourceTree:
    root: Path
    display_root: str  # how paths are shown, e.g. "content"
    program: YamlDoc | None
    program_path: str
    modules: dict[str, list[ModuleSource]]  # id -> folders (more than one is an error)
    forms: dict[str, YamlDoc]
    plans: dict[str, YamlDoc]
    media: dict[str, Path]  # path inside media/ -> file
    files: dict[str, bytes]  # every source file read: path relative to root -> bytes
    lexicons: list[YamlDoc] = field(default_factory=list)  # lexicon.yaml files, base first
    #: films' storyboards: path inside media/ of every YAML file there -> its parsed document
    films: dict[str, YamlDoc] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)  # "module/step" hidden from start by an overlay
    base: dict | None = None  # for an overlay: the base's id, version, content hash and file hashes
    #: an overlay's regional words replaced in the files it inherits (`builder.terms.Replacement`,
    #: typed loosely here because this module sits below the stages; DESIGN.md, "Layers")
    terms: list = field(default_factory=list)
    #: for a translation (issue 18): its language, the base's id and version, and the paths of
    #: its files whose Swedish source changed since they were translated ("outdated")
    translation: dict | None = None

    def display(self, rel: str) -> str:
        return f"{self.display_root}/{rel}" if self.display_root not in ("", ".") else rel

    @property
    def content_hash(self) -> str:
        """sha256 over every source file (relative path and bytes), in sorted order."""
        h = hashlib.sha256()
        for rel in sorted(self.files):
            h.update(rel.encode() + b"\0" + hashlib.sha256(self.files[rel]).digest())
        return h.hexdigest()


# --- the validated program (validate) --------------------------------------------------


@dataclass(eq=False)  # hashable by identity: steps key the readout and audio maps
class Step:
    id: str
    module_id: str
    source: StepSource
    meta: StepMeta
    body: ParsedBody

    @property
    def path(self) -> str:
        return self.source.path

    @property
    def file(self) -> Path:
        return self.source.file


@dataclass
class Section:
    title: str
    steps: list[Step] = field(default_factory=list)


@dataclass
class Module:
    id: str
    source: ModuleSource
    meta: ModuleMeta
    steps: list[Step]

    @property
    def sections(self) -> list[Section]:
        """Sections in the order of their first step."""
        by_title: dict[str, Section] = {}
        for step in self.steps:
            by_title.setdefault(step.meta.section, Section(step.meta.section)).steps.append(step)
        return list(by_title.values())


@dataclass
class FormDoc:
    id: str
    doc: YamlDoc
    form: Form


@dataclass
class PlanDoc:
    id: str
    doc: YamlDoc
    plan: ActivityPlan


@dataclass
class FilmDoc:
    """A film's storyboard; `key` is its path inside media/ (e.g. "film/rorelse.yaml")."""

    key: str
    doc: YamlDoc
    storyboard: Storyboard


@dataclass
class Program:
    tree: SourceTree
    meta: ProgramMeta
    modules: list[Module]
    forms: dict[str, FormDoc]
    plans: dict[str, PlanDoc]
    lexicon_file: dict[str, str] = field(default_factory=dict)
    films: dict[str, FilmDoc] = field(default_factory=dict)  # storyboard key -> storyboard

    @property
    def lexicon(self) -> dict[str, str]:
        """The pronunciation lexicon: lexicon.yaml, then program.yaml's `lexicon` on top."""
        return self.lexicon_file | self.meta.lexicon

    @property
    def steps(self) -> list[Step]:
        return [s for m in self.modules for s in m.steps]
