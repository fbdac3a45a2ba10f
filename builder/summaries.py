"""Per-step summaries on disk (issue 16): what later stages need of a parsed step, without its tokens.

Layer: beside `builder.incremental`, above the stages (see DESIGN.md, "Layers"). Input: a
validated `Program` whose steps have lazy bodies (`builder.markdown.LazyBody`). Output: each
step's summary, taken from the store when its text was summarised before, and the store
itself, `<cache>/summaries/<key>.json`. Must not write anything but that file.

A summary holds what check and render read of a step besides its own page: its LIX and
word count, its directives, where its links and images are, and the step rules' findings
(keyed like `builder.check.step_check_key`: path, metadata, readability settings, silenced
codes). It is keyed by the step's body text and where it starts, so an unchanged step is
never parsed again: the cross-file checks run again from the summaries, and only the pages
that must be rendered parse their step. Stegvis' own code is part of the store's identity.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from builder.check import step_check_key, step_findings
from builder.check.references import step_refs
from builder.diagnostics import Diagnostic, Severity
from builder.hashing import code_hash, digest
from builder.lix import step_lix
from builder.markdown import Directive
from builder.model import Module, Program, Step

#: Bump when what a summary holds changes.
SUMMARY_FORMAT = 1


def content_key(step: Step) -> str:
    """The key of a step's summary: its display path, body text and the line the body starts on."""
    return digest(step.path, step.source.body, step.source.body_line)


def _directive_data(d: Directive) -> dict:
    return {"name": d.name, "arg": d.arg, "line": d.line, "options": d.options, "option_lines": d.option_lines,
            "bad_lines": [list(b) for b in d.bad_lines], "body_line": d.body_line, "closed": d.closed}


def _directive(data: dict) -> Directive:
    return Directive(data["name"], data["arg"], data["line"], dict(data["options"]), dict(data["option_lines"]),
                     [tuple(b) for b in data["bad_lines"]], [], data["body_line"], data["closed"])


def _diagnostic(d: dict) -> Diagnostic:
    return Diagnostic(d["path"], d["line"], d["col"], d["code"], Severity(d["severity"]), d["message"], d["hint"])


def summarise(program: Program, module: Module, step: Step, silenced: frozenset[str]) -> dict:
    """The summary of one step (parses it if need be); its findings are kept with its body too."""
    key = step_check_key(program, step, silenced)
    return {"lix": list(step_lix(step)), "refs": [list(r) for r in step_refs(step)],
            "directives": [_directive_data(d) for d in step.body.directives],
            "checks": {digest(key): [d.as_dict() for d in step_findings(program, module, step, silenced)]}}


def apply_summary(program: Program, step: Step, summary: dict, silenced: frozenset[str]) -> None:
    """Give a step's lazy body what its summary knows, so that check and render need not parse it."""
    body = step.body
    body.derived.lix = tuple(summary["lix"])
    body.derived.refs = [tuple(r) for r in summary["refs"]]
    if hasattr(body, "known_directives"):
        body.known_directives = [_directive(d) for d in summary["directives"]]
    key = step_check_key(program, step, silenced)
    found = summary["checks"].get(digest(key))
    if found is not None:  # otherwise the settings changed: the rules run again (and parse)
        body.derived.checks[key] = [_diagnostic(d) for d in found]


class SummaryStore:
    """The summaries of one program folder's steps, by `content_key`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.code = code_hash()
        self.steps: dict[str, dict] = {}
        self.changed = False
        try:
            data = json.loads(path.read_text("utf-8"))
            if data.get("format") == SUMMARY_FORMAT and data.get("code") == self.code:
                self.steps = data["steps"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.steps = {}

    @classmethod
    def for_program(cls, cache: Path, program_dir: Path) -> SummaryStore:
        """The store of one program folder in a build cache."""
        return cls(cache / "summaries" / f"{digest(str(program_dir.resolve()))[:20]}.json")

    def get(self, key: str) -> dict | None:
        """The summary of a step's text, or None."""
        return self.steps.get(key)

    def put(self, key: str, summary: dict) -> None:
        """Keep a new summary."""
        if self.steps.get(key) != summary:
            self.steps[key] = summary
            self.changed = True

    def save(self, keep: set[str]) -> None:
        """Write the summaries of `keep` (the steps there are now), when anything changed; a cache that
        cannot be written only makes the next build slower."""
        if not self.changed and keep == set(self.steps):
            return
        data = {"format": SUMMARY_FORMAT, "code": self.code, "steps": {k: self.steps[k] for k in sorted(keep)
                                                                        if k in self.steps}}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), "utf-8")
            os.replace(tmp, self.path)
            self.changed = False
        except OSError:
            return
