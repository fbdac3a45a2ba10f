"""Stage 1, load: read a program folder into a `SourceTree` of raw documents.

Input: a program directory. Output: `SourceTree` with parsed YAML (with positions),
step front matter and Markdown bodies (with the line the body starts on), and the
media files. Owns all file reading and YAML parsing; does not validate meaning.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from builder.diagnostics import Diagnostics
from builder.memo import ParseMemo
from builder.model import ModuleSource, SourceTree, StepSource
from builder.yamlsrc import YamlDoc, parse_yaml

PREFIXED = re.compile(r"^(\d+)-(.+)$")
IGNORED = re.compile(r"^(\.|_|~|#)|~$|\.swp$")
#: YAML files in media/ are films' storyboards.
FILM_SUFFIXES = (".yaml", ".yml")


def split_id(name: str) -> tuple[int, str]:
    """'03-fysisk-aktivitet' -> (3, 'fysisk-aktivitet'); an unprefixed name sorts last."""
    m = PREFIXED.match(name)
    return (int(m.group(1)), m.group(2)) if m else (10**6, name)


def _listdir(path: Path) -> list[Path]:
    if not path.is_dir():
        return []
    return sorted((p for p in path.iterdir() if not IGNORED.search(p.name)), key=lambda p: p.name)


class _Reader:
    def __init__(self, root: Path, display_root: str, diags: Diagnostics, memo: ParseMemo | None = None) -> None:
        self.root, self.display_root, self.diags = root, display_root, diags
        self.parse_yaml = memo.parse_yaml if memo is not None else parse_yaml
        self.files: dict[str, bytes] = {}

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def display(self, path: Path) -> str:
        rel = self.rel(path)
        return f"{self.display_root}/{rel}" if self.display_root not in ("", ".") else rel

    def text(self, path: Path) -> str | None:
        """Read a text file as UTF-8; diagnose encoding problems and emptiness."""
        data = path.read_bytes()
        self.files[self.rel(path)] = data
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            self.diags.add("FILE-001", self.display(path), line, 1)
            return None
        text = text.removeprefix("\ufeff")
        if not text.strip():
            self.diags.add("FILE-002", self.display(path), 1, 1)
            return None
        return text.replace("\r\n", "\n")

    def yaml(self, path: Path) -> YamlDoc | None:
        text = self.text(path)
        if text is None:
            return None
        doc = self.parse_yaml(text, self.display(path), self.diags)
        if doc is not None:
            doc.file = path
        return doc

    def step(self, path: Path, order: int, step_id: str) -> StepSource | None:
        text = self.text(path)
        if text is None:
            return None
        shown = self.display(path)
        lines = text.split("\n")
        if lines[0].rstrip() != "---":
            self.diags.add("STEP-001", shown, 1, 1)
            return StepSource(step_id, shown, path, self.rel(path), order, None, text, 1)
        end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
        if end is None:
            self.diags.add("STEP-003", shown, 1, 1)
            return StepSource(step_id, shown, path, self.rel(path), order, None, "", len(lines))
        front = self.parse_yaml("\n".join(lines[1:end]), shown, self.diags, line_offset=1)
        body = "\n".join(lines[end + 1 :])
        if not body.strip():
            self.diags.add("STEP-004", shown, end + 1, 1)
        return StepSource(step_id, shown, path, self.rel(path), order, front, body, end + 2)


def load_tree(root: Path, diags: Diagnostics, display_root: str | None = None,
              memo: ParseMemo | None = None) -> SourceTree:
    """Read a program folder. Every problem becomes a diagnostic; nothing raises.

    With a `memo` (`stegvis serve`), YAML whose text was parsed before is not parsed again.
    """
    root = root.resolve()
    if display_root is None:
        display_root = _display_root(root)
    r = _Reader(root, display_root, diags, memo)
    program_file = root / "program.yaml"
    program = None
    if program_file.is_file():
        program = r.yaml(program_file)
    else:
        diags.add("PROGRAM-001", r.display(program_file), 1, 1)

    modules: dict[str, list[ModuleSource]] = {}
    for folder in _listdir(root / "modules"):
        if not folder.is_dir():
            diags.add("FILE-003", r.display(folder), name=folder.name)
            continue
        _, module_id = split_id(folder.name)
        meta_file = folder / "module.yaml"
        meta = r.yaml(meta_file) if meta_file.is_file() else None
        module = ModuleSource(module_id, folder.name, r.display(folder), meta, r.display(meta_file),
                              meta_missing=not meta_file.is_file())
        for path in _listdir(folder):
            if path.name == "module.yaml":
                continue
            if path.suffix != ".md" or not path.is_file():
                diags.add("FILE-003", r.display(path), name=path.name)
                continue
            order, step_id = split_id(path.stem)
            step = r.step(path, order, step_id)
            if step is not None:
                module.steps.append(step)
        module.steps.sort(key=lambda s: (s.order, s.file.name))
        modules.setdefault(module_id, []).append(module)

    forms = _yaml_folder(r, root / "forms")
    plans = _yaml_folder(r, root / "activity-plans")

    media: dict[str, Path] = {}
    films: dict[str, YamlDoc] = {}
    media_root = root / "media"
    for dirpath, dirnames, filenames in os.walk(media_root):
        dirnames[:] = sorted(d for d in dirnames if not IGNORED.search(d))
        for name in sorted(filenames):
            if IGNORED.search(name):
                continue
            path = Path(dirpath) / name
            key = path.relative_to(media_root).as_posix()
            media[key] = path
            if path.suffix.lower() in FILM_SUFFIXES:  # a film's storyboard (builder.schema.film)
                doc = r.yaml(path)
                if doc is not None:
                    films[key] = doc
            else:
                r.files[r.rel(path)] = path.read_bytes()

    lexicon_file = root / "lexicon.yaml"
    lexicon = r.yaml(lexicon_file) if lexicon_file.is_file() else None
    return SourceTree(root, display_root, program, r.display(program_file), modules, forms, plans, media, r.files,
                      [lexicon] if lexicon else [], films=films)


def _yaml_folder(r: _Reader, folder: Path) -> dict[str, YamlDoc]:
    docs: dict[str, YamlDoc] = {}
    for path in _listdir(folder):
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            r.diags.add("FILE-003", r.display(path), name=path.name)
            continue
        doc = r.yaml(path)
        if doc is not None:
            docs[path.stem] = doc
    return docs


def _display_root(root: Path) -> str:
    """Show paths relative to the working directory when the program lies inside it."""
    try:
        rel = root.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return root.as_posix()
    return rel


def load_step(root: Path, display_root: str, path: Path, diags: Diagnostics,
              memo: ParseMemo | None = None) -> tuple[StepSource | None, bytes]:
    """Read one step file of a program folder loaded before, as `load_tree` reads it, and its bytes
    (`stegvis serve` reads only the files the watcher reports changed, issue 16)."""
    r = _Reader(root.resolve(), display_root, diags, memo)
    order, step_id = split_id(path.stem)
    step = r.step(path, order, step_id)
    return step, r.files.get(r.rel(path), b"")
