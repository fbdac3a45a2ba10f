"""Parsed YAML and Markdown kept between the builds of one `stegvis serve` session.

Layer: beside the program model, above the readers (see DESIGN.md, "Layers"): load,
resolve and validate take a `ParseMemo` in place of `builder.yamlsrc.parse_yaml` and
`builder.markdown.parse_body`. Input: the text of a file. Output: the same parsed
objects as the readers give. Must not read files or know about stages.
"""

from __future__ import annotations

from builder.diagnostics import Diagnostics
from builder.markdown import ParsedBody, parse_body
from builder.yamlsrc import YamlDoc, parse_yaml


class ParseMemo:
    """Parsed YAML and Markdown kept between the builds of one `stegvis serve` session.

    Keyed by the exact text (and where it starts), so a one-step edit parses only that
    step again. A parsed body also keeps what was derived from it (LIX, step checks) in
    `ParsedBody.derived`. Entries not used by a build are dropped after it (`sweep`), so
    memory follows the program, not the editing history. Owned by one serve session;
    never shared between threads that build at the same time.
    """

    def __init__(self) -> None:
        self._yaml: dict[tuple, tuple] = {}
        self._bodies: dict[tuple, ParsedBody] = {}
        self._used: set[tuple] = set()
        self.hits = self.misses = 0

    def parse_yaml(self, text: str, path: str, diags: Diagnostics, line_offset: int = 0) -> YamlDoc | None:
        """`builder.yamlsrc.parse_yaml`, remembered with the diagnostics it gave."""
        key = ("yaml", text, path, line_offset)
        self._used.add(key)
        if key in self._yaml:
            self.hits += 1
            doc, items = self._yaml[key]
        else:
            self.misses += 1
            found = Diagnostics()
            doc = parse_yaml(text, path, found, line_offset)
            items = found.items
            self._yaml[key] = (doc, items)
        diags.add_items(items)
        return doc

    def parse_body(self, text: str, line: int) -> ParsedBody:
        """`builder.markdown.parse_body`, remembered (the same object for the same text)."""
        key = ("md", text, line)
        self._used.add(key)
        body = self._bodies.get(key)
        if body is None:
            self.misses += 1
            body = self._bodies[key] = parse_body(text, line)
        else:
            self.hits += 1
        return body

    def sweep(self) -> None:
        """Forget everything the last build did not use; start counting anew."""
        self._yaml = {k: v for k, v in self._yaml.items() if k in self._used}
        self._bodies = {k: v for k, v in self._bodies.items() if k in self._used}
        self._used = set()
        self.hits = self.misses = 0
