"""YAML with source positions, for the load stage.

PyYAML composes the node tree (keeping marks); we construct plain Python values
ourselves so that every value keeps its line and column, duplicate keys are caught,
and scalars follow YAML 1.2's core schema: only true/false are booleans, "18:00"
stays a time string (YAML 1.1 would make it the integer 1080) and "no" stays "no".
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # the C composer is several times faster and keeps the same marks
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _Loader

from builder.diagnostics import Diagnostics

Path_ = tuple[Any, ...]

_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TAB_INDENT = re.compile(r"^[ ]*\t")


@dataclass
class YamlDoc:
    """A parsed YAML document: plain data plus the position of every value and key."""

    path: str  # display path used in diagnostics
    data: Any
    file: Path | None = None  # the file it was read from, when there is one
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def locate(self, loc: Path_, prefer_key: bool = False) -> tuple[int, int]:
        """Return (line, col) for a data path, falling back to the nearest parent."""
        loc = tuple(loc)
        while True:
            if prefer_key and loc in self.keys:
                return self.keys[loc]
            if loc in self.values:
                return self.values[loc]
            if loc in self.keys:
                return self.keys[loc]
            if not loc:
                return (1, 1)
            loc = loc[:-1]


def _scalar(node: yaml.ScalarNode) -> Any:
    if node.style:  # quoted, literal or folded: always a string
        return node.value
    v = node.value
    if v in ("", "~", "null", "Null", "NULL"):
        return None
    if v in ("true", "True", "TRUE"):
        return True
    if v in ("false", "False", "FALSE"):
        return False
    if _INT.fullmatch(v):
        return int(v)
    if _FLOAT.fullmatch(v):
        return float(v)
    if _DATE.fullmatch(v):
        try:
            return dt.date.fromisoformat(v)
        except ValueError:
            return v
    return v


class _Dumper(yaml.SafeDumper):
    """PyYAML's dumper, quoting every string that this module's YAML 1.2 reading would not
    read back as the same string ("08" is text to PyYAML's YAML 1.1 but a number here)."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    plain = _scalar(yaml.ScalarNode("tag:yaml.org,2002:str", value, style=None))
    # Double quotes also for line breaks and control characters: that style escapes them all.
    style = '"' if plain != value or type(plain) is not str or not value.isprintable() else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(data: Any) -> str:
    """YAML text that `parse_yaml` reads back as `data` (block style, keys in their order)."""
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False, width=100)


class _Builder:
    def __init__(self, doc: YamlDoc, diags: Diagnostics, line_offset: int) -> None:
        self.doc, self.diags, self.offset = doc, diags, line_offset

    def pos(self, node: yaml.Node) -> tuple[int, int]:
        return node.start_mark.line + 1 + self.offset, node.start_mark.column + 1

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.doc.values[path] = self.pos(node)
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            if key is None:
                key = ""
            if key in result:
                line, col = self.pos(key_node)
                self.diags.add("YAML-003", self.doc.path, line, col, key=key)
            self.doc.keys[path + (key,)] = self.pos(key_node)
            result[key] = self.build(value_node, path + (key,))
        return result


def parse_yaml(text: str, path: str, diags: Diagnostics, line_offset: int = 0) -> YamlDoc | None:
    """Parse YAML text into a `YamlDoc`, or add diagnostics and return None.

    `line_offset` is the number of lines before `text` in its file (front matter).
    """
    for i, line in enumerate(text.splitlines()):
        if _TAB_INDENT.match(line):
            diags.add("YAML-002", path, i + 1 + line_offset, line.index("\t") + 1)
            return None
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(part for part in (exc.problem, exc.context) if part) or "okänt fel"
        swedish = _swedish_problem(problem.strip())
        if "quoted scalar" in (exc.context or "") and exc.context_mark is not None:
            swedish += f"; citattecknet öppnas på rad {exc.context_mark.line + 1 + line_offset}"
        diags.add("YAML-001", path, line + line_offset, col, problem=swedish)
        return None
    except yaml.YAMLError as exc:  # e.g. a stray NUL byte
        diags.add("YAML-001", path, 1 + line_offset, 1, problem=_swedish_problem(str(exc)))
        return None
    doc = YamlDoc(path=path, data=None)
    if node is None:
        doc.data = {}
        return doc
    doc.data = _Builder(doc, diags, line_offset).build(node, ())
    return doc


#: The YAML parsers' messages (libyaml's and PyYAML's own wording differ) in Swedish, first
#: match wins. Authors never see the parser's English (issue #15, point 10).
_PROBLEMS: list[tuple[re.Pattern[str], str]] = [(re.compile(pattern), swedish) for pattern, swedish in (
    (r"mapping values are not allowed", "ett kolon står där det inte får stå (sätt citattecken runt texten)"),
    (r"could not find expected ':'", "ett kolon saknas efter nyckeln"),
    (r"found character '\\t' that cannot start any token|tab character", "en tabb (använd mellanslag)"),
    (r"found character '(.)' that cannot start any token",
     "tecknet {0} kan inte stå först i ett värde (sätt citattecken runt texten)"),
    (r"cannot start any token",
     "ett tecken som inte kan stå först i ett värde, till exempel @, ` eller % (sätt citattecken runt texten)"),
    (r"did not find expected key|expected <block end>", "indraget stämmer inte med raderna ovanför"),
    (r"did not find expected '-' indicator", "indraget i listan stämmer inte med raderna ovanför"),
    (r"found unexpected end of stream", "filen tar slut mitt i ett värde (saknas ett citattecken?)"),
    (r"did not find expected node content|expected the node content", "ett värde saknas"),
    (r"found undefined alias", "ett alias (*namn) som inte finns"),
    (r"expected ',' or '\]'", "en lista inom [ ] tar inte slut (saknas ] eller ett kommatecken?)"),
    (r"expected ',' or '\}'", "en mappning inom { } tar inte slut (saknas } eller ett kommatecken?)"),
    (r"expected '?<document start>'?", "något står kvar efter värdet, till exempel en ] eller } för mycket"),
    (r"another document|unexpected document indicator", "filen har flera dokument (---), men får bara ha ett"),
    (r"incompatible YAML document", "en YAML-version (%YAML) som inte stöds: ta bort raden"),
    (r"unknown escape character", "ett okänt tecken efter \\ inom dubbla citattecken (skriv \\\\ eller "
                                   "använd enkla citattecken)"),
    (r"expected alphabetic or numeric character", "& och * ska följas av ett namn (sätt citattecken runt texten)"),
    (r"chomping or indentation indicators|expected comment or line break|expected a comment or a line break",
     "något står efter | eller > på samma rad (skriv texten på raderna under)"),
    (r"expected (tag )?URI|while parsing a tag|while scanning a tag", "ett värde som börjar med ! (sätt citattecken "
                                                                      "runt texten)"),
    (r"second occurrence|duplicate anchor", "samma ankare (&namn) finns två gånger"),
    (r"unacceptable character|control characters|special characters", "ett otillåtet kontrolltecken"),
    (r"UTF-8|utf-8|decode|octet", "filen är inte sparad som UTF-8"),
    (r"block sequence entries are not allowed", "ett listtecken (-) står där det inte får stå"),
    (r"found unexpected ':'", "ett kolon står där det inte får stå"),
)]

#: When the parser says something this module does not know: Swedish still, never English.
UNKNOWN_PROBLEM = "YAML-tolken förstår inte raden"


def _swedish_problem(problem: str) -> str:
    """The parser's message in Swedish (UNKNOWN_PROBLEM when it is one we have not seen)."""
    for pattern, swedish in _PROBLEMS:
        match = pattern.search(problem)
        if match:
            return swedish.format(*match.groups()) if match.groups() else swedish
    return UNKNOWN_PROBLEM
