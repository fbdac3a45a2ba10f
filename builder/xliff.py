"""XLIFF 2.0 exchange with translators (issue 18): `stegvis translate export|import|status`.

- **export**: one XLIFF 2.0 file per language. One `<file>` per base file that has text
  (`original` = its path in the program), one `<unit>` per unit of `builder.translation`
  (`name` = the unit's key), with the Swedish source, the translation's text as target when
  there is one, and a note of where the source stands (`content/…/01-valkommen.md:7`).
  Markdown inline markup becomes XLIFF inline codes: emphasis, strong and links `<pc>`
  (the markup kept in `<originalData>`), code spans, escapes, line breaks and a table
  row's cell separators `<ph>`.
  A target whose source is as it was translated is `state="translated"`; one whose source
  changed since, or that was never locked, `state="initial"` (with the old source as a note).
- **import**: writes the targets back into the translation's folder: each base file whose
  units all have a target becomes the translated file (`builder.translation.translated_file`),
  and the lock records, for every unit whose segment is not `initial`, the hash of the
  source the translator saw. A file or lock that would not change is not written: import of
  an unchanged export changes nothing, and export → import → export gives identical bytes.
- **status**: the translated files whose units' Swedish changed since (with word diffs).

translate-toolkit (`translate.storage.xliff2`) reads the files and their units, states and
targets; the inline codes are built and read here with lxml. Input: a translation folder
(a program.yaml with `translates:`) and an XLIFF file. Output: bytes, files in the
translation's folder, reports. Must not build packages.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from builder.diagnostics import Diagnostics
from builder.model import SourceTree
from builder.translation import (
    LOCK,
    FileStatus,
    LockEntry,
    Unit,
    file_status,
    file_units,
    is_step,
    read_lock,
    reviewed_of,
    source_hash,
    translated_file,
    write_lock,
)
from builder.yamlsrc import parse_yaml

NS = "urn:oasis:names:tc:xliff:document:2.0"
_Q = f"{{{NS}}}"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
SCHEMA_COMMENT = "# yaml-language-server: $schema="


class TranslationError(Exception):
    """A translation folder or XLIFF file that cannot be used (a usage error, in Swedish)."""


# --- inline Markdown <-> XLIFF inline codes -----------------------------------------------


@dataclass
class Code:
    """Inline markup: a pair around text (`pc`: start and end markup) or a placeholder (`ph`)."""

    start: str
    end: str | None = None  # None: a placeholder
    children: list = field(default_factory=list)
    line_break: bool = False


_ESCAPE = re.compile(r"\\[\s\S]")
_CODE = re.compile(r"(`+)[\s\S]+?\1")
_AUTOLINK = re.compile(r"<(?:https?://|mailto:)[^>\s]+>")
_LINK = re.compile(r"(!?\[)((?:[^\[\]\\]|\\.|\[[^\]]*\])*)(\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\))")
_STRONG = re.compile(r"(\*\*|__)(?=\S)([\s\S]+?)(?<=\S)\1")
_EM = re.compile(r"(\*|_)(?=[^\s*_])([\s\S]*?[^\s\\])\1")


def parse_inline(text: str) -> list:
    """Markdown inline text as a list of strings and `Code`s; `to_markdown` gives it back."""
    out: list = []
    buf: list[str] = []
    i = 0

    def flush() -> None:
        if buf:
            out.append("".join(buf))
            buf.clear()

    while i < len(text):
        ch = text[i]
        if ch == "\n":
            flush()
            out.append(Code("\n", line_break=True))
            i += 1
            continue
        m = None
        if ch == "\\":
            m = _ESCAPE.match(text, i)
            if m:
                flush()
                out.append(Code(m.group(0)))
        elif ch == "`":
            m = _CODE.match(text, i)
            if m:
                flush()
                out.append(Code(m.group(0)))
        elif ch == "<":
            m = _AUTOLINK.match(text, i)
            if m:
                flush()
                out.append(Code(m.group(0)))
        elif ch in "![":
            m = _LINK.match(text, i)
            if m:
                flush()
                out.append(Code(m.group(1), m.group(3), parse_inline(m.group(2))))
        elif ch == "|":  # a table's cell separator: kept as it is, like the table around it
            flush()
            out.append(Code("|"))
            i += 1
            continue
        elif ch in "*_":
            prev = text[i - 1] if i else " "
            m = _STRONG.match(text, i) or _EM.match(text, i)
            if m and ch == "_" and (prev.isalnum() or (m.end() < len(text) and text[m.end()].isalnum())):
                m = None  # intra-word underscores are not emphasis
            if m:
                flush()
                out.append(Code(m.group(1), m.group(1), parse_inline(m.group(2))))
        if m:
            i = m.end()
        else:
            buf.append(ch)
            i += 1
    flush()
    return out


def to_markdown(nodes: list) -> str:
    return "".join(n if isinstance(n, str) else n.start + to_markdown(n.children) + (n.end or "") for n in nodes)


class _Codes:
    """The inline codes of one unit: ids in order, and the markup each data id holds."""

    def __init__(self) -> None:
        self.data: list[tuple[str, str]] = []  # (data id, markup)
        self.source: list[tuple[str, Code]] = []  # (code id, code) in the source's order
        self.count = 0

    def _data(self, markup: str) -> str:
        for did, m in self.data:
            if m == markup:
                return did
        did = f"d{len(self.data) + 1}"
        self.data.append((did, markup))
        return did

    def new_id(self) -> str:
        self.count += 1
        return str(self.count)

    def write(self, parent: etree._Element, nodes: list, used: set[str] | None = None) -> None:
        """Append `nodes` to `parent` as text and inline codes. With `used` (a target), a code
        takes the id of the first unused source code with the same markup."""
        last = None
        for n in nodes:
            if isinstance(n, str):
                if last is None:
                    parent.text = (parent.text or "") + n
                else:
                    last.tail = (last.tail or "") + n
                continue
            cid = None
            if used is not None:
                cid = next((c for c, code in self.source if c not in used and code.start == n.start
                            and code.end == n.end), None)
            if cid is None:
                cid = self.new_id()
                if used is None:
                    self.source.append((cid, n))
            if used is not None:
                used.add(cid)
            if n.end is None:
                el = etree.SubElement(parent, _Q + "ph", id=cid, dataRef=self._data(n.start))
                if n.line_break:
                    el.set("type", "fmt")
                    el.set("subType", "xlf:lb")
            else:
                el = etree.SubElement(parent, _Q + "pc", id=cid, dataRefStart=self._data(n.start),
                                      dataRefEnd=self._data(n.end))
                self.write(el, n.children, used)
            last = el


def _read_inline(el: etree._Element, data: dict[str, str]) -> str:
    """An XLIFF source or target (or inline element's content) as Markdown."""
    parts = [el.text or ""]
    for child in el:
        if not isinstance(child.tag, str):  # comments, processing instructions
            parts.append(child.tail or "")
            continue
        tag = etree.QName(child).localname
        if tag == "pc":
            parts += [data.get(child.get("dataRefStart", ""), ""), _read_inline(child, data),
                      data.get(child.get("dataRefEnd", ""), "")]
        elif tag in ("ph", "sc", "ec"):
            parts.append(data.get(child.get("dataRef", ""), ""))
        else:  # mrk, sm/em: their content
            parts.append(_read_inline(child, data))
        parts.append(child.tail or "")
    return "".join(parts)


# --- the translation and its base ---------------------------------------------------------


@dataclass
class Translation:
    """A translation folder, its language and its resolved base (the Swedish program)."""

    folder: Path
    language: str
    base: SourceTree
    display: str  # how the translation's folder is shown, e.g. "translations/fi"

    def source_files(self) -> list[str]:
        """The base's files with text, in program order: module.yaml and steps, forms, plans."""
        tree = self.base
        order = [m for m in tree.program.data.get("modules", []) if isinstance(m, str)]
        rels: list[str] = []
        for mid in order + sorted(set(tree.modules) - set(order)):
            for src in tree.modules.get(mid, []):
                meta = f"modules/{src.folder}/module.yaml"
                if meta in tree.files:
                    rels.append(meta)
                rels += [s.rel for s in src.steps]
        rels += [f"forms/{doc.file.name}" for _, doc in sorted(tree.forms.items())]
        rels += [f"activity-plans/{doc.file.name}" for _, doc in sorted(tree.plans.items())]
        return rels

    def source_text(self, rel: str) -> str:
        return self.base.files[rel].decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n")

    def schema_of(self, rel: str) -> str | None:
        """The editor schema the base's YAML file names, relative to the translated file (None: none)."""
        first = self.source_text(rel).split("\n", 1)[0]
        if not first.startswith(SCHEMA_COMMENT):
            return None
        tree = self.base
        docs = {f"forms/{d.file.name}": d for d in tree.forms.values()} | {
            f"activity-plans/{d.file.name}": d for d in tree.plans.values()} | {
            f"modules/{s.folder}/module.yaml": s.meta for srcs in tree.modules.values() for s in srcs if s.meta}
        source = getattr(docs.get(rel), "file", None)
        if source is None:
            return None
        target = (Path(source).parent / first[len(SCHEMA_COMMENT):].strip()).resolve()
        return Path(os.path.relpath(target, (self.folder / rel).parent.resolve())).as_posix()

    def translated_text(self, rel: str) -> str | None:
        path = self.folder / rel
        return path.read_text("utf-8") if path.is_file() else None


def open_translation(folder: Path, diags: Diagnostics | None = None) -> Translation:
    """A translation folder with its base resolved (raises TranslationError)."""
    from builder.resolve import resolve_program  # the base is resolved like any program

    program = folder / "program.yaml"
    if not program.is_file():
        raise TranslationError(f"{folder} har ingen program.yaml (en översättning har translates: och language:).")
    doc = parse_yaml(program.read_text("utf-8"), str(program), Diagnostics())
    data = doc.data if doc is not None and isinstance(doc.data, dict) else {}
    translates, language = data.get("translates"), data.get("language")
    if not isinstance(translates, str) or not isinstance(language, str):
        raise TranslationError(f"{program} är ingen översättning: den behöver translates: (basens mapp) och language:.")
    diags = diags if diags is not None else Diagnostics()
    base = resolve_program(folder / translates, diags)
    if base is None or base.program is None or diags.has_errors():
        raise TranslationError(f"Basprogrammet {translates} (translates: i {program}) går inte att läsa.")
    return Translation(folder, language, base, _shown(folder))


def _shown(folder: Path) -> str:
    try:
        return folder.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return folder.as_posix()


# --- export -------------------------------------------------------------------------------


def _text_el(parent: etree._Element, tag: str, indent: str) -> etree._Element:
    el = etree.SubElement(parent, _Q + tag)
    el.tail = indent
    return el


def export_xliff(tr: Translation) -> bytes:
    """The XLIFF 2.0 file of a translation: every unit of the base, with targets where translated."""
    from translate.storage.xliff2 import Xliff2File

    store = Xliff2File(sourcelanguage=str(tr.base.program.data.get("language", "sv")), targetlanguage=tr.language)
    root = store.document.getroot()
    for old in list(root):
        root.remove(old)
    root.text = "\n  "
    lock = read_lock(tr.folder)
    files = [rel for rel in tr.source_files() if file_units(rel, tr.source_text(rel))]
    for n, rel in enumerate(files, 1):
        file_el = etree.SubElement(root, _Q + "file", id=f"f{n}", original=rel)
        file_el.text = "\n    "
        file_el.tail = "\n  " if n < len(files) else "\n"
        units = file_units(rel, tr.source_text(rel))
        translated = tr.translated_text(rel)
        targets = _targets(rel, translated, units) if translated is not None else {}
        for i, unit in enumerate(units, 1):
            last = i == len(units)
            _unit(file_el, f"u{i}", unit, targets.get(unit.key), lock.get(rel, {}).get(unit.key),
                  tr.base.display(rel), "\n  " if last else "\n    ")
    data = etree.tostring(store.document, xml_declaration=True, encoding="UTF-8")
    return data + b"\n"


def _targets(rel: str, translated: str, units: list[Unit]) -> dict[str, str]:
    """The translation's text of each unit. A YAML file's keys are ids (`questions/stress/label`),
    so its texts carry over by key when the base adds or removes some; a step's keys are
    positions (`b3`), so its texts are taken only when it has the base's units."""
    mine = file_units(rel, translated)
    if is_step(rel) and [(u.key, u.kind) for u in mine] != [(u.key, u.kind) for u in units]:
        return {}
    keys = {u.key for u in units}
    return {u.key: u.text for u in mine if u.key in keys}


def _unit(file_el: etree._Element, uid: str, unit: Unit, target: str | None, locked: LockEntry | None,
          where: str, tail: str) -> None:
    unit_el = etree.SubElement(file_el, _Q + "unit", id=uid, name=unit.key)
    unit_el.text = "\n      "
    unit_el.tail = tail
    notes = _text_el(unit_el, "notes", "\n      ")
    notes.text = "\n        "
    note = _text_el(notes, "note", "\n      ")
    note.set("category", "location")
    note.text = f"{where}:{unit.line}"
    current = locked is not None and locked.hash == source_hash(unit.text)
    if target is not None and locked is not None and not current:
        note.tail = "\n        "
        old = _text_el(notes, "note", "\n      ")
        old.set("category", "previous-source")
        old.text = locked.source
    codes = _Codes()
    source_nodes = parse_inline(unit.text)
    target_nodes = parse_inline(target) if target is not None else None
    data_el = _text_el(unit_el, "originalData", "\n      ")
    segment = _text_el(unit_el, "segment", "\n    ")
    segment.set("state", "translated" if target is not None and current else "initial")
    segment.text = "\n        "
    source = _text_el(segment, "source", "\n      ")
    source.set(XML_SPACE, "preserve")
    codes.write(source, source_nodes)
    if target_nodes is not None:
        source.tail = "\n        "
        target_el = _text_el(segment, "target", "\n      ")
        target_el.set(XML_SPACE, "preserve")
        codes.write(target_el, target_nodes, used=set())
    if codes.data:
        data_el.text = "\n        "
        for k, (did, markup) in enumerate(codes.data):
            d = _text_el(data_el, "data", "\n        " if k + 1 < len(codes.data) else "\n      ")
            d.set("id", did)
            d.text = markup
    else:
        unit_el.remove(data_el)


# --- import -------------------------------------------------------------------------------


@dataclass
class ImportResult:
    written: list[str] = field(default_factory=list)  # files of the translation written
    unchanged: list[str] = field(default_factory=list)
    incomplete: list[tuple[str, int, int]] = field(default_factory=list)  # (file, with target, units)
    unknown: list[str] = field(default_factory=list)  # files of the XLIFF that the base does not have
    lock_written: bool = False


@dataclass
class _Segment:
    source: str
    target: str | None
    state: str


def read_xliff(data: bytes) -> tuple[str | None, dict[str, dict[str, _Segment]]]:
    """The target language and, per original file and unit key, source, target and state."""
    from translate.storage.xliff2 import Xliff2File

    try:
        store = Xliff2File.parsestring(data)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise TranslationError(f"XLIFF-filen går inte att läsa: {exc}") from exc
    out: dict[str, dict[str, _Segment]] = {}
    for unit in store.units:
        segment = unit.xmlelement
        unit_el = segment.getparent()
        file_el = unit_el.getparent() if unit_el is not None else None
        if file_el is None or unit_el.get("name") is None or file_el.get("original") is None:
            continue
        codes = {d.get("id"): d.text or "" for d in unit_el.iter(_Q + "data")}
        source_el, target_el = segment.find(_Q + "source"), segment.find(_Q + "target")
        source = _read_inline(source_el, codes) if source_el is not None else ""
        target = _read_inline(target_el, codes) if target_el is not None else None
        out.setdefault(file_el.get("original"), {})[unit_el.get("name")] = _Segment(
            source, target, segment.get("state") or "initial")
    return store.gettargetlanguage(), out


def import_xliff(tr: Translation, data: bytes) -> ImportResult:
    """Write an XLIFF file's targets into the translation (see the module docstring)."""
    language, segments = read_xliff(data)
    if language and language != tr.language:
        raise TranslationError(f"XLIFF-filen är på språket {language}, men {tr.display} är på {tr.language}.")
    result = ImportResult()
    lock = read_lock(tr.folder)
    known = set(tr.source_files())
    result.unknown = sorted(set(segments) - known)
    for rel in tr.source_files():
        if rel not in segments:
            continue
        units = file_units(rel, tr.source_text(rel))
        got = segments[rel]
        targets = {u.key: got[u.key].target for u in units if u.key in got and got[u.key].target is not None}
        if len(targets) < len(units):
            if targets:
                result.incomplete.append((rel, len(targets), len(units)))
            continue
        entries = dict(lock.get(rel, {}))
        for u in units:
            seg = got[u.key]
            if seg.state != "initial":
                entries[u.key] = LockEntry(source_hash(seg.source), seg.source)
        lock[rel] = {k: v for k, v in entries.items() if k in targets}
        path = tr.folder / rel
        old = path.read_text("utf-8") if path.is_file() else None
        reviewed = reviewed_of(rel, old) if old is not None else None
        text = translated_file(rel, tr.source_text(rel), targets, tr.language, reviewed, tr.schema_of(rel))
        if text == old:
            result.unchanged.append(rel)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
        result.written.append(rel)
    result.lock_written = write_lock(tr.folder, lock, tr.language)
    return result


# --- status -------------------------------------------------------------------------------


def translation_status(tr: Translation) -> list[FileStatus]:
    """Every translated file whose units' source changed since they were translated."""
    lock = read_lock(tr.folder)
    out = []
    for rel in tr.source_files():
        if tr.translated_text(rel) is None:
            continue
        status = file_status(rel, tr.source_text(rel), lock.get(rel, {}))
        if status.stale:
            out.append(status)
    return out


__all__ = ["LOCK", "TranslationError", "export_xliff", "import_xliff", "open_translation", "translation_status"]
