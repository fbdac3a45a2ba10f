"""Regional vocabulary (issue 17): an overlay's `terms:` applied to the text it inherits.

Part of the resolve stage, used by `builder.resolve` (rewriting the files an overlay
inherits) and `builder.drift` (occurrences in the base's files, for the lock). Input: a
terms map (`{vårdcentral: hälsocentral}`) and a file's text. Output: the rewritten text
and every replacement, with its line, column and the sentence before and after.

What is matched (docs/overlays.md, "Regionala ord"): a term's word as a whole word,
case-insensitively in three forms (as written, with a capital first letter, in
capitals), followed by a Swedish inflection ending (`SUFFIX`), whose letters are kept.
The longest term wins where two could match. Only text is rewritten: in a step's
Markdown everything but code, link and image targets, URLs, e-mail addresses and the
arguments and settings of `:::` blocks (a block's `title:` is text); in YAML the values
of text keys (`TEXT_KEYS`, and the texts of a scale's `labels`), never ids, values,
paths or `reviewed`. Lines are never added or removed, so every position stays valid.

Must not read files or add diagnostics except about the terms themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

import yaml

try:  # the C composer keeps the same marks (character indices)
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _Loader

from builder.diagnostics import Diagnostics
from builder.markdown import parser
from builder.model import ModuleSource, SourceTree, StepSource
from builder.yamlsrc import YamlDoc, parse_yaml

#: Swedish inflection endings that may follow a term's word (then an optional genitive s):
#: vårdcentral·en, ·er, ·erna, ·ens, ·ernas, ·s; region·en; Västerbotten·s; adjectives ·a, ·e, ·t.
SUFFIX = r"(?:[aeo]?rna|[aeo]?r|en|et|na|n|t|a|e)?s?"
#: YAML keys whose values are text a patient or therapist reads (at any depth).
TEXT_KEYS = frozenset({"title", "section", "readout", "description", "label", "help", "alt", "text", "note"})
#: YAML keys whose mapping values are all texts (a scale's `labels: {0: Inte alls}`).
TEXT_MAPS = frozenset({"labels"})
#: YAML keys never looked into: who reviewed, when, and the hash; a step's sources (the titles
#: and publishers of other people's documents, cited as they are).
SKIPPED_KEYS = frozenset({"reviewed", "sources"})
#: Characters a term may have: letters, digits, spaces, hyphens and full stops (nothing that
#: means something in Markdown or YAML, so a replacement can never change a file's structure).
TERM_CHARS = re.compile(r"[\w .\-]+")

_MASK = "\x00"
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_LINK_TARGET = re.compile(r"\]\([^)\n]*\)|\]\[[^\]\n]*\]")
_REF_DEFINITION = re.compile(r"^ {0,3}\[[^\]\n]+\]:.*$")
_AUTOLINK = re.compile(r"<[A-Za-z][A-Za-z0-9+.\-]{1,31}:[^<>\s]*>|<[^<>\s@]+@[^<>\s]+>")
_URL = re.compile(r"(?:\b[A-Za-z][A-Za-z0-9+.\-]*://|\bwww\.)[^\s<>\]]*")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_OPTION = re.compile(r"^(\s*)([A-Za-z_][\w-]*)(\s*:\s*)")
_SENTENCE_END = re.compile(r"[.!?…](?=\s|$)")
_FENCE_END = re.compile(r"\s*:{3,}\s*")


# --- the terms ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    source: str  # the base's word, e.g. "vårdcentral"
    target: str  # the region's word, e.g. "hälsocentral"
    pattern: re.Pattern[str]

    def replacement(self, stem: str) -> str | None:
        """The target in the case the found word has, or None for a case form not matched."""
        found = " ".join(stem.split())
        if found == self.source:
            return self.target
        if found == _upper_first(self.source):
            return _upper_first(self.target)
        if found == self.source.upper() and len(self.source) > 1:
            return self.target.upper()
        return None


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def make_term(source: str, target: str) -> Term:
    """A term and its pattern: whole words, any run of spaces where the term has a space."""
    stem = r"[ \t]+".join(re.escape(word) for word in source.split())
    suffix = SUFFIX if source[-1:].isalpha() else ""
    return Term(source, target, re.compile(rf"(?<!\w)({stem})({suffix})(?!\w)", re.IGNORECASE))


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    term: Term
    found: str  # the word as it stood, ending included
    replaced: str


class Vocabulary:
    """A set of terms, matched together: at each place the longest match wins."""

    def __init__(self, terms: dict[str, str]) -> None:
        self.terms = [make_term(s, t) for s, t in sorted(terms.items(), key=lambda kv: (-len(kv[0]), kv[0]))]

    def __bool__(self) -> bool:
        return bool(self.terms)

    def as_dict(self) -> dict[str, str]:
        return {t.source: t.target for t in sorted(self.terms, key=lambda t: t.source)}

    def matches(self, text: str) -> list[Match]:
        """Non-overlapping matches in `text` (masked characters are never part of one)."""
        found: list[Match] = []
        for term in self.terms:
            for m in term.pattern.finditer(text):
                replaced = term.replacement(m.group(1))
                if replaced is not None:
                    found.append(Match(m.start(), m.end(), term, m.group(0), replaced + m.group(2)))
        found.sort(key=lambda m: (m.start, -(m.end - m.start)))
        chosen: list[Match] = []
        for m in found:
            if not chosen or m.start >= chosen[-1].end:
                chosen.append(m)
        return chosen


def check_terms(doc: YamlDoc, diags: Diagnostics) -> dict[str, str]:
    """The usable terms of an overlay's `terms:` (OVERLAY-104..107 for the others)."""
    raw = doc.data.get("terms") if isinstance(doc.data, dict) else None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        diags.add("OVERLAY-104", doc.path, *doc.locate(("terms",)), term="terms:",
                  problem="det ska vara ord och ersättningar, inte en lista eller ett enda värde")
        return {}
    good: dict[str, str] = {}
    for source, target in raw.items():
        loc = ("terms", source)
        where = doc.locate(loc)
        shown = f"'{source}'"
        problem = None
        if not isinstance(source, str) or not isinstance(target, str):
            problem = "både ordet och ersättningen ska vara text"
        elif not source.strip() or not target.strip():
            problem = "ordet eller ersättningen är tom"
        elif not TERM_CHARS.fullmatch(source) or not TERM_CHARS.fullmatch(target):
            problem = "bara bokstäver, siffror, mellanslag, bindestreck och punkt går att använda"
        if problem is not None:
            diags.add("OVERLAY-104", doc.path, *where, term=shown, problem=problem)
            continue
        source, target = " ".join(source.split()), " ".join(target.split())
        if source.casefold() == target.casefold():
            diags.add("OVERLAY-105", doc.path, *where, term=source)
            continue
        twin = next((s for s in good if s.casefold() == source.casefold()), None)
        if twin is not None:
            diags.add("OVERLAY-107", doc.path, *where, term=source, other=twin)
            continue
        good[source] = target
    for longer in sorted(good, key=len, reverse=True):
        for shorter in good:
            if shorter != longer and make_term(shorter, good[shorter]).pattern.search(longer):
                diags.add("OVERLAY-106", doc.path, *doc.locate(("terms", longer)), term=longer, other=shorter)
    return good


# --- what is text -------------------------------------------------------------------------


def _blank(chars: list[str], start: int, end: int) -> None:
    for i in range(start, end):
        if chars[i] != "\n":
            chars[i] = _MASK


def _mask_inline(chars: list[str], text: str, start: int, end: int) -> None:
    """Mask code spans, link and image targets, autolinks, URLs and e-mail addresses in text[start:end]."""
    segment = text[start:end]
    for rx in (_CODE_SPAN, _LINK_TARGET, _AUTOLINK, _URL, _EMAIL):
        for m in rx.finditer(segment):
            a = m.start() + (1 if rx is _LINK_TARGET else 0)  # keep the ] of the link text
            _blank(chars, start + a, start + m.end())


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    return starts


def markdown_mask(text: str) -> str:
    """`text` (a step body) with everything that is not text replaced by NUL, lines kept."""
    chars = list(text)
    lines = text.split("\n")
    _BodyMask(text, chars, lines, _line_starts(text)).blocks(parser().parse(text), 0, len(lines))
    return "".join(chars)


@dataclass
class _BodyMask:
    text: str
    chars: list[str]
    lines: list[str]
    starts: list[int]

    def line(self, i: int, upto: int | None = None) -> None:
        """Mask line i, all of it or its first `upto` characters."""
        _blank(self.chars, self.starts[i], self.starts[i] + (len(self.lines[i]) if upto is None else upto))

    def inline(self, i: int, start: int = 0) -> None:
        _mask_inline(self.chars, self.text, self.starts[i] + start, self.starts[i] + len(self.lines[i]))

    def blocks(self, tokens, first: int, stop: int) -> None:
        """Lines first..stop-1 (parsed as `tokens`, whose maps count from `first`): code blocks
        masked, `:::` blocks' arguments and settings masked, the inline parts of the rest."""
        done: set[int] = set()
        for tok in tokens:
            if tok.map is None or tok.type not in ("fence", "code_block", "colon_fence"):
                continue
            a, b = tok.map[0] + first, min(tok.map[1] + first, stop)
            if tok.type != "colon_fence":
                for i in range(a, b):
                    self.line(i)
                done.update(range(a, b))
                continue
            closing = b - 1 if b - 1 > a and _FENCE_END.fullmatch(self.lines[b - 1]) else None
            body_stop = closing if closing is not None else b
            name, _, rest = tok.info.strip().partition(" ")
            if name == "callout":  # `::: callout tip Bra att veta`: the title is text, the body Markdown
                opening = self.lines[a]
                kind = rest.split(" ", 1)[0]
                at = opening.find("callout") + len("callout")
                cut = opening.find(kind, at) + len(kind) if kind else len(opening)
                self.line(a, cut)
                self.inline(a, cut)
                body = "\n".join(self.lines[a + 1:body_stop])
                self.blocks(parser().parse(body), a + 1, body_stop)
            else:  # `::: form id`, `::: video URL`: only a `title:` setting is text
                self.line(a)
                for i in range(a + 1, body_stop):
                    m = _OPTION.match(self.lines[i])
                    if m and m.group(2) == "title":
                        self.line(i, m.end())
                        self.inline(i, m.end())
                    else:
                        self.line(i)
            if closing is not None:
                self.line(closing)
            done.update(range(a, b))
        for i in range(first, stop):
            if i in done:
                continue
            if _REF_DEFINITION.match(self.lines[i]):
                self.line(i)
            else:
                self.inline(i)


def yaml_mask(text: str) -> tuple[str, list[tuple[int, int]]]:
    """`text` (YAML) with everything but the values of text keys masked, and those values' spans.

    A text that is not YAML is masked whole (it is reported by load; nothing is replaced in it).
    """
    chars = [_MASK if ch != "\n" else ch for ch in text]
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return "".join(chars), []
    spans: list[tuple[int, int]] = []
    _text_spans(node, None, False, spans)
    for start, end in spans:
        chars[start:end] = text[start:end]
    for start, end in spans:
        _mask_inline(chars, text, start, end)
    return "".join(chars), spans


def _text_spans(node, key: object, is_text: bool, spans: list[tuple[int, int]]) -> None:
    if node is None:
        return
    if isinstance(node, yaml.ScalarNode):
        if is_text and node.tag == "tag:yaml.org,2002:str":
            spans.append((node.start_mark.index, node.end_mark.index))
        return
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            _text_spans(child, key, is_text, spans)
        return
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            name = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if name in SKIPPED_KEYS:
                continue
            text = (name in TEXT_KEYS and not isinstance(value_node, yaml.MappingNode)) or key in TEXT_MAPS
            _text_spans(value_node, name, text, spans)


# --- rewriting a file ---------------------------------------------------------------------


@dataclass(frozen=True)
class Replacement:
    """One word replaced in one file: where, what, and the sentence before and after."""

    file: str  # path inside the program folder
    line: int  # 1-based line in the file
    col: int  # 1-based column of the word's first letter
    term: str  # the terms: key
    found: str  # the word as it stood, e.g. "Vårdcentralen"
    replaced: str  # e.g. "Hälsocentralen"
    before: str  # the sentence, as the base says it
    after: str  # the sentence, as the region's program says it
    path: str = ""  # the file as diagnostics show it (set by `apply_terms`; not in the manifest)

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "col": self.col, "term": self.term, "found": self.found,
                "replaced": self.replaced, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class Rewrite:
    text: str
    replacements: list[Replacement]


def file_kind(rel: str) -> str | None:
    """'step', 'yaml' or None: which files of a program have text that terms rewrite."""
    parts = rel.split("/")
    if parts[0] == "modules" and len(parts) == 3:
        if parts[2] == "module.yaml":
            return "yaml"
        if parts[2].endswith(".md"):
            return "step"
    if parts[0] in ("forms", "activity-plans") and len(parts) == 2 and parts[1].endswith((".yaml", ".yml")):
        return "yaml"
    return None


def file_text(data: bytes) -> str | None:
    """A source file's text as load reads it (no BOM, \\n line ends); None when not UTF-8."""
    try:
        return data.decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n")
    except UnicodeDecodeError:
        return None


def mask_file(rel: str, text: str) -> tuple[str, list[tuple[int, int]]]:
    """The file's text with what is not text masked, and the spans that bound a sentence (YAML values)."""
    if file_kind(rel) == "yaml":
        return yaml_mask(text)
    lines = text.split("\n")
    end = None
    if lines[0].rstrip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:  # no front matter (STEP-001 or STEP-003): the whole file is the body
        return markdown_mask(text), []
    chars = [_MASK if ch != "\n" else ch for ch in text]
    front_start = len(lines[0]) + 1
    front = "\n".join(lines[1:end])
    masked_front, spans = yaml_mask(front)
    chars[front_start:front_start + len(front)] = masked_front
    body_start = min(sum(len(x) + 1 for x in lines[:end + 1]), len(text))
    chars[body_start:] = markdown_mask(text[body_start:])
    return "".join(chars), [(a + front_start, b + front_start) for a, b in spans]


def rewrite_file(rel: str, text: str, vocabulary: Vocabulary) -> Rewrite:
    """Replace the vocabulary's words in the text parts of one file (same lines)."""
    if not vocabulary or file_kind(rel) is None:
        return Rewrite(text, [])
    masked, spans = mask_file(rel, text)
    assert len(masked) == len(text), "bug: the mask must keep every position"
    matches = vocabulary.matches(masked)
    if not matches:
        return Rewrite(text, [])
    starts = _line_starts(text)
    out, pos = [], 0
    for m in matches:
        out.append(text[pos:m.start])
        out.append(m.replaced)
        pos = m.end
    out.append(text[pos:])
    replacements = [_replacement(rel, text, starts, spans, m, matches) for m in matches]
    return Rewrite("".join(out), replacements)


def _replacement(rel: str, text: str, starts: list[int], spans: list[tuple[int, int]], m: Match,
                 matches: list[Match]) -> Replacement:
    import bisect

    line = bisect.bisect_right(starts, m.start) - 1
    lo, hi = starts[line], (starts[line + 1] - 1 if line + 1 < len(starts) else len(text))
    for a, b in spans:  # a YAML value bounds its sentence (not the key before it)
        if a <= m.start < b:
            lo, hi = max(lo, a), min(hi, b)
    a, b = _sentence(text, lo, hi, m)
    inside = [x for x in matches if a <= x.start and x.end <= b]
    after, pos = [], a
    for x in inside:
        after += [text[pos:x.start], x.replaced]
        pos = x.end
    after.append(text[pos:b])
    return Replacement(rel, line + 1, m.start - starts[line] + 1, m.term.source, m.found, m.replaced,
                       " ".join(text[a:b].split()), " ".join("".join(after).split()))


def _sentence(text: str, lo: int, hi: int, m: Match) -> tuple[int, int]:
    """The bounds of the sentence around a match, within [lo, hi)."""
    start = lo
    for end in _SENTENCE_END.finditer(text, lo, m.start):
        start = end.end()
    stop = _SENTENCE_END.search(text, m.end, hi)
    return start, stop.end() if stop else hi


def find_in_file(rel: str, data: bytes, vocabulary: Vocabulary) -> list[Replacement]:
    """The replacements `rewrite_file` would make in a file's bytes (none for other files)."""
    text = file_text(data)
    return [] if text is None else rewrite_file(rel, text, vocabulary).replacements


def summary(replacements: Iterable[Replacement]) -> dict[str, int]:
    """Replacements per file, sorted by path."""
    counts: dict[str, int] = {}
    for r in replacements:
        counts[r.file] = counts.get(r.file, 0) + 1
    return dict(sorted(counts.items()))


# --- an overlay's tree ----------------------------------------------------------------------


def apply_terms(tree: SourceTree, own: set[str], vocabulary: Vocabulary, diags: Diagnostics) -> SourceTree:
    """`tree` (an overlay merged onto its base) with the vocabulary applied to every file it
    inherits; the overlay's `own` files are left as they are (OVERLAY-109 when one has a word).

    The rewritten files replace the base's in `tree.files` (so the content hash, incremental
    builds and the package's resolved sources follow them) and are parsed again; positions do
    not move. Nothing is changed in place: parsed documents may be shared (`stegvis serve`).
    """
    if not vocabulary:
        return tree
    files = dict(tree.files)
    found: list[Replacement] = []

    def rewrite(rel: str, shown: str) -> str | None:
        text = file_text(files.get(rel, b""))
        if text is None:
            return None
        done = rewrite_file(rel, text, vocabulary)
        if rel in own:
            for r in done.replacements:
                diags.add("OVERLAY-109", shown, r.line, r.col, word=r.found, term=r.term, target=vocabulary_target(vocabulary, r.term))
            return None
        if not done.replacements:
            return None
        files[rel] = done.text.encode("utf-8")
        found.extend(replace(r, path=shown) for r in done.replacements)
        return done.text

    modules = {}
    for mid, srcs in tree.modules.items():
        modules[mid] = [_module(src, rewrite) for src in srcs]
    forms = {key: _doc(doc, f"forms/{doc.file.name}", rewrite) if doc.file else doc for key, doc in tree.forms.items()}
    plans = {key: _doc(doc, f"activity-plans/{doc.file.name}", rewrite) if doc.file else doc
             for key, doc in tree.plans.items()}
    found.sort(key=lambda r: (r.file, r.line, r.col))
    base = dict(tree.base or {})
    base["terms"] = {"map": vocabulary.as_dict(), "files": summary(found),
                     "replacements": [r.as_dict() for r in found]}
    return replace(tree, modules=modules, forms=forms, plans=plans, files=files, base=base, terms=found)


def vocabulary_target(vocabulary: Vocabulary, source: str) -> str:
    return next((t.target for t in vocabulary.terms if t.source == source), "")


def _module(src: ModuleSource, rewrite) -> ModuleSource:
    meta = src.meta
    if meta is not None:
        meta = _doc(meta, f"modules/{src.folder}/module.yaml", rewrite)
    steps = []
    for step in src.steps:
        text = rewrite(step.rel, step.path)
        steps.append(step if text is None else _step(step, text))
    return replace(src, meta=meta, steps=steps)


def _doc(doc: YamlDoc, rel: str, rewrite) -> YamlDoc:
    text = rewrite(rel, doc.path)
    if text is None:
        return doc
    new = parse_yaml(text, doc.path, Diagnostics())
    if new is None:  # pragma: no cover - a term cannot hold what YAML reads as structure
        raise RuntimeError(f"bug: replacing terms in {doc.path} broke its YAML")
    new.file = doc.file
    return new


def _step(step: StepSource, text: str) -> StepSource:
    """The step parsed again from its rewritten text (same lines, so the same front matter end)."""
    if step.front is None:
        return replace(step, body=text) if step.body_line == 1 else step
    lines = text.split("\n")
    end = step.body_line - 2  # the line of the closing ---
    front = parse_yaml("\n".join(lines[1:end]), step.path, Diagnostics(), line_offset=1)
    return replace(step, front=front if front is not None else step.front, body="\n".join(lines[end + 1:]))


def terms_note(tree: SourceTree, shown: str) -> str | None:
    """The build's note on an overlay's regional words: the terms and the count per file."""
    report = (tree.base or {}).get("terms")
    if not report:
        return None
    pairs = ", ".join(f"{s} → {t}" for s, t in report["map"].items())
    total, per_file = len(report["replacements"]), report["files"]
    lines = [f"Regionala ord ({pairs}): {total} ersättningar i {len(per_file)} ärvda filer; "
             f"se var och en med stegvis terms {shown}."]
    lines += [f"    {rel}: {n}" for rel, n in per_file.items()]
    return "\n".join(lines)
