"""Translations (issue 18): the units of a program's text, the translation lock and its status.

A translation is a variant of a program (`translations/fi/program.yaml` with
`translates: ../../content` and `language: fi`): the same modules, steps, forms and plans
with the same ids, their text in another language. Its files lie at the same relative
paths as the base's. This module owns what a translation's text is made of:

- **Units**: one per block of a step (a heading, a paragraph, a list item's paragraph, a
  callout's paragraphs and title, a table row) and one per text value of front matter, module.yaml,
  forms and activity plans (`title`, `label`, `help`, option labels …). A unit's key is
  stable for a given structure: `b3` is a step's third block, `questions/stress/label` a
  form's question label (items keyed by their `id` or `value`, never by position).
- **Regeneration**: a translated file is the base's file with every unit's text replaced
  (`translated_file`): the Markdown keeps the base's line structure (list markers,
  directives, blank lines), the YAML is the base's data with the texts replaced, written
  by `dump_yaml`. Reading units from a translated file and regenerating it gives the same
  bytes, which makes the XLIFF round trip (`builder.xliff`) byte-stable.
- **The lock** (`translation.lock`, JSON): for every translated unit, the hash of the
  Swedish text it was translated from, and that text (so that a changed source is shown
  as a word diff without git). `translation_status` compares it with the base now.
- **Checks**: a translated file whose structure or ids differ from the base's is
  TRANS-003/TRANS-004; a unit translated from an older source is TRANS-001.

Input: texts and parsed data. Output: units, bytes, status records. Reads and writes no
files except the lock (`read_lock`, `write_lock`); must not resolve programs (resolve does).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from builder.diagnostics import Diagnostics, did_you_mean
from builder.diff import word_diff
from builder.markdown import parser
from builder.model import ModuleSource, SourceTree
from builder.yamlsrc import YamlDoc, dump_yaml, parse_yaml

#: The file in a translation's folder that records the source hash of every translated unit.
LOCK = "translation.lock"
LOCK_FORMAT = 1
#: Keys whose string values are text to translate, in front matter and YAML files.
TEXT_KEYS = frozenset({"title", "section", "readout", "description", "label", "help", "alt", "text", "note",
                       "unit", "labels"})
#: Keys of YAML that are never translated even when they hold text (ids, references, sources).
NEVER = frozenset({"id", "value", "sources", "reviewed", "show_if", "image", "field", "from"})
def source_hash(text: str) -> str:
    """The hash a translated unit records of its source text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Unit:
    """One piece of text to translate: its key in its file, its kind, its 1-based line and text."""

    key: str
    kind: str  # heading, paragraph, item, callout-title, front, yaml
    line: int
    text: str


@dataclass
class _Block:
    unit: Unit
    start: int  # 0-based index in the file's lines of the first line the unit's text is on
    prefixes: list[str]  # what precedes the text on each of its lines (markers, indentation)
    single_line: bool = False


# --- Markdown steps -----------------------------------------------------------------------

_HEADING = re.compile(r"^\s{0,3}#{1,6}[ \t]+")
_QUOTE = re.compile(r"^\s*(?:>\s?)*\s*")
_ITEM = re.compile(r"^\s*(?:>\s?)*\s*(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)")
_CALLOUT = re.compile(r"^(\s*:{3,}\s*callout\s+)(?:(info|tip|warning)(?:\s+|$))?")
_FENCE = re.compile(r"^\s*:{3,}\s*\S")


def _callout_title(line: str) -> str | None:
    """What precedes a callout's title on its fence line (None when it has no title)."""
    m = _CALLOUT.match(line.rstrip())
    if m is None or m.end() >= len(line.rstrip()):
        return None
    return m.group(0)


def _directive_key(line: str) -> str:
    parts = line.strip().lstrip(":").split()
    if parts and parts[0] == "callout":
        return "callout " + (parts[1] if len(parts) > 1 and parts[1] in ("info", "tip", "warning") else "")
    return " ".join(parts)
_FRONT_KEYS = ("title", "section", "readout")


def _split_front(text: str) -> tuple[list[str], int]:
    """The file's lines and the index of the line that closes the front matter (0: none)."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return lines, 0
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), 0)
    return lines, end


def _front_data(lines: list[str], end: int) -> tuple[dict, dict[str, int]]:
    """Front matter as data, and the 1-based line of each top-level key."""
    if not end:
        return {}, {}
    doc = parse_yaml("\n".join(lines[1:end]), "front", Diagnostics(), line_offset=1)
    data = doc.data if doc is not None and isinstance(doc.data, dict) else {}
    return data, {k: doc.locate((k,))[0] for k in data} if doc is not None else {}


def _body_blocks(lines: list[str], first: int) -> list[_Block]:
    """The blocks of a Markdown body whose first line is `lines[first]`."""
    body = lines[first:]
    blocks: list[_Block] = []
    _walk_blocks(parser().parse("\n".join(body)), body, first, blocks, quoted=False)
    return blocks


def _walk_blocks(tokens, body: list[str], offset: int, out: list[_Block], quoted: bool) -> None:
    item_starts: list[int] = []
    depth = 0
    for tok in tokens:
        if tok.type == "blockquote_open":
            depth += 1
        elif tok.type == "blockquote_close":
            depth -= 1
        elif tok.type == "list_item_open" and tok.map:
            item_starts.append(tok.map[0])
        elif tok.type == "heading_open" and tok.map:
            s = tok.map[0]
            prefix = _HEADING.match(body[s]) if tok.markup.startswith("#") else None
            head = prefix.group(0) if prefix else re.match(r"^\s*", body[s]).group(0)
            text = body[s][len(head):]
            if tok.markup.startswith("#"):
                text = re.sub(r"[ \t]+#+[ \t]*$", "", text)
            out.append(_Block(Unit("", "heading", offset + s + 1, text), offset + s, [head], single_line=True))
        elif tok.type == "paragraph_open" and tok.map:
            s, e = tok.map
            in_item = bool(item_starts) and item_starts[-1] == s
            prefixes, texts = [], []
            for j in range(s, min(e, len(body))):
                pattern = _ITEM if (j == s and in_item) else _QUOTE if (quoted or depth) else re.compile(r"^\s*")
                m = pattern.match(body[j])
                prefixes.append(m.group(0))
                texts.append(body[j][m.end():])
            kind = "item" if in_item else "paragraph"
            out.append(_Block(Unit("", kind, offset + s + 1, "\n".join(texts)), offset + s, prefixes))
        elif tok.type == "colon_fence" and tok.map:
            s, e = tok.map
            title = _callout_title(body[s]) if tok.info.strip().startswith("callout") else None
            if title is not None:
                out.append(_Block(Unit("", "callout-title", offset + s + 1, body[s][len(title):]), offset + s,
                                  [title], single_line=True))
            if tok.info.strip().startswith("callout"):
                inner = body[s + 1:e - 1] if e - 1 > s else []
                _walk_blocks(parser().parse("\n".join(inner)), inner, offset + s + 1, out, quoted or depth > 0)
        elif tok.type == "tr_open" and tok.map:
            # A table row is one unit; its cell separators are inline codes (builder.xliff).
            s = tok.map[0]
            m = re.match(r"^\s*(?:>\s?)*\s*", body[s])
            out.append(_Block(Unit("", "table-row", offset + s + 1, body[s][m.end():]), offset + s, [m.group(0)],
                              single_line=True))
        elif tok.type == "list_item_close" and item_starts:
            item_starts.pop()


def step_units(text: str) -> list[Unit]:
    """The units of a step file: its front matter's texts, then its blocks in order."""
    return [b.unit for b in _step_blocks(text)[0]]


def _step_blocks(text: str) -> tuple[list[_Block], list[str], int, dict]:
    lines, end = _split_front(text)
    data, key_lines = _front_data(lines, end)
    blocks = [_Block(Unit(f"front/{k}", "front", key_lines.get(k, 1), data[k]), -1, [])
              for k in _FRONT_KEYS if isinstance(data.get(k), str)]
    body = _body_blocks(lines, end + 1 if end else 0)
    for n, b in enumerate(body, 1):
        b.unit = Unit(f"b{n}", b.unit.kind, b.unit.line, b.unit.text)
    return blocks + body, lines, end, data


def translated_step(source: str, targets: dict[str, str], reviewed: object = None) -> str:
    """The base's step file with every unit's text replaced by `targets` (key -> text).

    The front matter is the base's data with the texts replaced, without its `reviewed`
    stamp (the translation's own `reviewed`, when given, is kept); the body keeps the
    base's lines around the blocks. Raises KeyError when a unit has no target.
    """
    blocks, lines, end, data = _step_blocks(source)
    lines = list(lines)
    for b in sorted((b for b in blocks if b.start >= 0), key=lambda b: b.start, reverse=True):
        new = targets[b.unit.key].split("\n")
        if b.single_line:
            new = [" ".join(part.strip() for part in new)]
        first = b.prefixes[0]
        cont = b.prefixes[1] if len(b.prefixes) > 1 else re.sub(r"[^>\s]", " ", first)
        written = [first + new[0]] + [(cont + t) if t else t for t in new[1:]]
        lines[b.start:b.start + len(b.prefixes)] = written
    if end:
        front = {k: v for k, v in data.items() if k != "reviewed"}
        for k in _FRONT_KEYS:
            if isinstance(front.get(k), str):
                front[k] = targets[f"front/{k}"]
        if reviewed is not None:
            front["reviewed"] = reviewed
        lines[0:end + 1] = ["---", *dump_yaml(front).rstrip("\n").split("\n"), "---"]
    return "\n".join(lines)


def step_structure(text: str) -> list[str]:
    """What must be equal in a step and its translation: the kinds of its blocks, its
    directives, and its front matter's keys other than texts and `reviewed`."""
    blocks, lines, end, data = _step_blocks(text)
    body_lines = lines[end + 1:] if end else lines
    directives = [_directive_key(line) for line in body_lines if _FENCE.match(line)]
    front = sorted(k for k in data if k not in ("reviewed", *_FRONT_KEYS))
    kinds = [f"{b.unit.kind}:{_cells(b.unit.text)}" if b.unit.kind == "table-row" else b.unit.kind
             for b in blocks if b.start >= 0]
    return kinds + ["::" + d for d in directives] + ["front:" + k for k in front]


def _cells(row: str) -> int:
    """The number of cell separators in a table row (escaped pipes and code spans aside)."""
    return len(re.findall(r"(?<!\\)\|", re.sub(r"(`+)[\s\S]*?\1", "", row)))


# --- YAML: module.yaml, forms, activity plans ---------------------------------------------


def _item_key(item: object, index: int) -> str:
    if isinstance(item, dict):
        for k in ("id", "value", "name"):
            if isinstance(item.get(k), (str, int)) and not isinstance(item.get(k), bool):
                return str(item[k])
    return str(index)


def _walk_yaml(data: object, path: tuple, loc: tuple, out: list[tuple[str, tuple, str]], text: bool = False) -> None:
    if isinstance(data, dict):
        for k, v in data.items():
            if k in NEVER:
                continue
            _walk_yaml(v, (*path, str(k)), (*loc, k), out, text=k in TEXT_KEYS or text)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            _walk_yaml(v, (*path, _item_key(v, i)), (*loc, i), out, text=False)
    elif isinstance(data, str) and text:
        out.append(("/".join(path), loc, data))


def _yaml_texts(data: object) -> list[tuple[str, tuple, str]]:
    out: list[tuple[str, tuple, str]] = []
    _walk_yaml(data, (), (), out)
    return out


def yaml_units(text: str, path: str = "yaml") -> list[Unit]:
    """The units of a module.yaml, form or activity plan: every text value, keyed by its path."""
    doc = parse_yaml(text, path, Diagnostics())
    if doc is None:
        return []
    return [Unit(key, "yaml", doc.locate(loc)[0], value) for key, loc, value in _yaml_texts(doc.data)]


def translated_yaml(source: str, targets: dict[str, str], header: str, reviewed: object = None) -> str:
    """The base's YAML data with every text replaced by `targets`, written by `dump_yaml`
    after `header` (a comment). Raises KeyError when a unit has no target."""
    doc = parse_yaml(source, "yaml", Diagnostics())
    data = _replace(doc.data if doc is not None else {}, (), targets)
    if isinstance(data, dict):
        data.pop("reviewed", None)
        if reviewed is not None:
            data["reviewed"] = reviewed
    return header + dump_yaml(data)


def _replace(data: object, path: tuple, targets: dict[str, str], text: bool = False) -> object:
    if isinstance(data, dict):
        out = {}
        for k, v in data.items():
            if k in NEVER:
                out[k] = v
            else:
                out[k] = _replace(v, (*path, str(k)), targets, text=k in TEXT_KEYS or text)
        return out
    if isinstance(data, list):
        return [_replace(v, (*path, _item_key(v, i)), targets) for i, v in enumerate(data)]
    if isinstance(data, str) and text:
        return targets["/".join(path)]
    return data


def yaml_structure(text: str) -> object:
    """A YAML file's data with every text replaced by a marker, without `reviewed`: what
    must be equal in a form (or plan, module) and its translation (ids, options, types)."""
    doc = parse_yaml(text, "yaml", Diagnostics())
    data = doc.data if doc is not None else None
    keys = {key for key, _, _ in _yaml_texts(data)}
    marked = _replace(data, (), {k: "·" for k in keys})
    if isinstance(marked, dict):
        marked.pop("reviewed", None)
    return marked


# --- one file of either kind --------------------------------------------------------------


def is_step(rel: str) -> bool:
    return rel.endswith(".md")


def file_units(rel: str, text: str) -> list[Unit]:
    """The units of a step (.md) or YAML file."""
    return step_units(text) if is_step(rel) else yaml_units(text, rel)


def file_structure(rel: str, text: str) -> object:
    return step_structure(text) if is_step(rel) else yaml_structure(text)


def yaml_header(rel: str, language: str) -> str:
    return f"# Översättning ({language}) av {rel}: samma id:n som basens fil, bara texterna översatta.\n"


def translated_file(rel: str, source: str, targets: dict[str, str], language: str, reviewed: object = None,
                    schema: str | None = None) -> str:
    """The translation of the base's file `rel` (text `source`) with `targets` (key -> text).

    `schema`: the JSON Schema of a YAML file, relative to the translated file, for editors
    (its first line, as in the base's files)."""
    if is_step(rel):
        return translated_step(source, targets, reviewed)
    header = (f"# yaml-language-server: $schema={schema}\n" if schema else "") + yaml_header(rel, language)
    return translated_yaml(source, targets, header, reviewed)


def reviewed_of(rel: str, text: str) -> object:
    """The translation's own `reviewed` stamp in a translated file (None when it has none)."""
    if is_step(rel):
        lines, end = _split_front(text)
        return _front_data(lines, end)[0].get("reviewed")
    doc = parse_yaml(text, rel, Diagnostics())
    return doc.data.get("reviewed") if doc is not None and isinstance(doc.data, dict) else None


# --- the lock -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LockEntry:
    hash: str
    source: str


def read_lock(folder: Path) -> dict[str, dict[str, LockEntry]]:
    """A translation's lock: file -> unit key -> what it was translated from (empty when none)."""
    try:
        raw = json.loads((folder / LOCK).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    files = raw.get("files") if isinstance(raw, dict) else None
    out: dict[str, dict[str, LockEntry]] = {}
    for rel, units in (files or {}).items():
        if isinstance(units, dict):
            out[rel] = {k: LockEntry(str(v.get("hash", "")), str(v.get("source", "")))
                        for k, v in units.items() if isinstance(v, dict)}
    return out


def lock_bytes(lock: dict[str, dict[str, LockEntry]], language: str) -> bytes:
    data = {"format": LOCK_FORMAT, "language": language,
            "note": "Källtexten (svenska) som varje översatt enhet översattes från, och dess hash. "
                    "Skrivs av stegvis translate import; stegvis translate status jämför med basen.",
            "files": {rel: {k: {"hash": e.hash, "source": e.source} for k, e in sorted(units.items())}
                      for rel, units in sorted(lock.items()) if units}}
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def write_lock(folder: Path, lock: dict[str, dict[str, LockEntry]], language: str) -> bool:
    """Write the lock when it differs from the one on disk; whether it was written."""
    data = lock_bytes(lock, language)
    path = folder / LOCK
    if path.is_file() and path.read_bytes() == data:
        return False
    path.write_bytes(data)
    return True


# --- status -------------------------------------------------------------------------------


@dataclass
class StaleUnit:
    """A unit whose source changed since it was translated (or that was never translated)."""

    key: str
    line: int  # in the base's file
    status: str  # changed, new, removed
    diff: list[str] = field(default_factory=list)


@dataclass
class FileStatus:
    rel: str
    stale: list[StaleUnit]


def file_status(rel: str, source: str, lock: dict[str, LockEntry]) -> FileStatus:
    """How a translated file stands against its base's text now."""
    stale = []
    units = file_units(rel, source)
    for u in units:
        entry = lock.get(u.key)
        if entry is None:
            stale.append(StaleUnit(u.key, u.line, "new"))
        elif entry.hash != source_hash(u.text):
            stale.append(StaleUnit(u.key, u.line, "changed", word_diff(entry.source, u.text)))
    keys = {u.key for u in units}
    stale += [StaleUnit(k, 1, "removed") for k in sorted(lock) if k not in keys]
    return FileStatus(rel, stale)


# --- a translation on its base (resolve) --------------------------------------------------

#: program.yaml keys only a translation has.
TRANSLATION_KEYS = ("translates",)


def merge_translation(base: SourceTree, tr: SourceTree, diags: Diagnostics) -> SourceTree | None:
    """The translated program: the base's modules, steps, forms and plans that the
    translation has (same ids, the translation's text), nothing else.

    A module is shipped when the translation has its folder; a step of it that is not
    translated is left out (TRANS-002), so no Swedish text is shipped as if it were the
    translation's. A file the base does not have is TRANS-003, one whose ids or structure
    differ TRANS-004; units whose Swedish changed since they were translated (per the
    lock) are TRANS-001 and mark the file outdated (its page shows a note).
    """
    doc = tr.program
    language = doc.data.get("language")
    if not isinstance(language, str) or not language.strip():
        diags.add("TRANS-005", doc.path, *doc.locate(()), key="language")
        return None
    lock = read_lock(tr.root)
    files = dict(base.files)
    by_folder = {src.folder: (mid, src) for mid, srcs in base.modules.items() for src in srcs}
    modules: dict[str, list[ModuleSource]] = {}
    used: set[str] = set()
    ok = True

    def compare(rel: str, shown: str) -> bool:
        mine, theirs = tr.files[rel].decode("utf-8", "replace"), base.files[rel].decode("utf-8", "replace")
        problem = structure_problem(rel, theirs, mine)
        if problem:
            diags.add("TRANS-004", shown, 1, 1, problem=problem)
            return False
        return True

    for srcs in tr.modules.values():
        for src in srcs:
            found = by_folder.get(src.folder)
            if found is None:
                diags.add("TRANS-003", src.path, 1, 1, what="Modulen", name=src.folder,
                          suggestion=did_you_mean(src.folder, by_folder))
                ok = False
                continue
            mid, base_src = found
            steps = {s.file.name: s for s in src.steps}
            for name in sorted(set(steps) - {s.file.name for s in base_src.steps}):
                diags.add("TRANS-003", steps[name].path, 1, 1, what="Steget", name=name,
                          suggestion=did_you_mean(name, [s.file.name for s in base_src.steps]))
                ok = False
            kept = []
            for s in base_src.steps:
                mine = steps.get(s.file.name)
                if mine is None:
                    diags.add("TRANS-002", src.path, 1, 1, step=s.file.name, language=language)
                    continue
                ok &= compare(mine.rel, mine.path)
                kept.append(mine)
                used.add(mine.rel)
            meta_rel = f"modules/{src.folder}/module.yaml"
            if src.meta_missing:
                diags.add("TRANS-006", src.path, 1, 1, name=src.folder)
                ok = False
                continue
            ok &= compare(meta_rel, src.meta_path)
            used.add(meta_rel)
            if kept:
                modules[mid] = [replace(base_src, meta=src.meta, meta_path=src.meta_path, path=src.path, steps=kept)]
    forms: dict[str, YamlDoc] = {}
    plans: dict[str, YamlDoc] = {}
    for folder, mine, theirs, out, what in (("forms", tr.forms, base.forms, forms, "Formuläret"),
                                             ("activity-plans", tr.plans, base.plans, plans, "Aktivitetsplanen")):
        for name, d in sorted(mine.items()):
            rel = f"{folder}/{d.file.name}"
            if name not in theirs or rel not in base.files:
                diags.add("TRANS-003", d.path, 1, 1, what=what, name=name, suggestion=did_you_mean(name, theirs))
                ok = False
                continue
            ok &= compare(rel, d.path)
            out[name] = d
            used.add(rel)
    if not ok:
        return None
    outdated = []
    for rel in sorted(used):
        status = file_status(rel, base.files[rel].decode("utf-8"), lock.get(rel, {}))
        changed = [u for u in status.stale if u.status != "removed"]
        if changed:
            outdated.append(rel)
            diags.add("TRANS-001", tr.display(rel), 1, 1, count=len(changed), source=base.display(rel))
    order = [m for m in base.program.data.get("modules", []) if isinstance(m, str) and m in modules]
    data = {k: v for k, v in base.program.data.items() if k not in ("lexicon", "modules")}
    data |= {k: v for k, v in doc.data.items() if k not in TRANSLATION_KEYS}
    data["modules"] = order
    if "id" not in doc.data:  # its own package, next to the base's: dist/<base id>-<language>/
        data["id"] = f"{base.program.data.get('id')}-{language}"
    merged_doc = YamlDoc(path=doc.path, data=data)
    anchor = doc.locate(("translates",))
    for loc in base.program.values:
        merged_doc.values[loc] = anchor
    merged_doc.values.update(doc.values)
    merged_doc.keys.update(doc.keys)
    files |= tr.files
    files["base:program.yaml"] = base.files.get("program.yaml", b"")
    lock_file = tr.root / LOCK
    if lock_file.is_file():
        files[LOCK] = lock_file.read_bytes()
    return SourceTree(
        root=tr.root, display_root=tr.display_root, program=merged_doc, program_path=tr.program_path,
        modules=modules, forms=forms, plans=plans, media=dict(base.media) | tr.media, films=dict(tr.films),
        files=files, lexicons=list(tr.lexicons), hidden=set(base.hidden),
        base={"id": base.program.data.get("id"), "version": str(base.program.data.get("version")),
              "content_hash": base.content_hash,
              "files": {rel: hashlib.sha256(data).hexdigest() for rel, data in sorted(base.files.items())}},
        translation={"language": language, "of": base.program.data.get("id"),
                     "version": str(base.program.data.get("version")), "outdated": outdated},
    )


def structure_problem(rel: str, source: str, translated: str) -> str | None:
    """What differs between a base file and its translation other than text (None: nothing)."""
    a, b = file_structure(rel, source), file_structure(rel, translated)
    if a == b:
        return None
    if is_step(rel):
        for i, (x, y) in enumerate(zip(a, b, strict=False), 1):
            if x != y:
                return f"del {i} är {_part(y)} i översättningen men {_part(x)} i basen"
        return f"översättningen har {len(b)} delar, basen {len(a)}"
    return _yaml_difference(a, b) or "id:n eller värden skiljer sig"


def _part(kind: str) -> str:
    names = {"heading": "en rubrik", "paragraph": "ett stycke", "item": "en listpunkt",
             "callout-title": "en rutas rubrik"}
    if kind.startswith("table-row:"):
        return f"en tabellrad med {kind.split(':')[1]} lodstreck"
    if kind.startswith("::"):
        return f"blocket ”::: {kind[2:]}”"
    if kind.startswith("front:"):
        return f"nyckeln {kind[6:]}"
    return names.get(kind, kind)


def _yaml_difference(a: object, b: object, path: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in b:
                return f"{path}{k} saknas i översättningen"
            if k not in a:
                return f"{path}{k} finns inte i basen"
            found = _yaml_difference(a[k], b[k], f"{path}{k}.")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path.rstrip('.')} har {len(b)} poster i översättningen men {len(a)} i basen"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _yaml_difference(x, y, f"{path}{_item_key(x, i)}.")
            if found:
                return found
        return None
    if a != b:
        return f"{path.rstrip('.')} är {b!r} i översättningen men {a!r} i basen"
    return None
