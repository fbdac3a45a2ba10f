"""The bare loop for the site benchmark: markdown-it-py (js-default) and one Jinja2 template.

Input: a folder of step files (front matter + Markdown, from bench/generate.py's `bare/`)
and an output folder. Output: one HTML page per step. No checks, no navigation, no
sanitiser, no package: the floor that any Python site builder on these libraries stands on.

    .venv/bin/python bench/bare_loop.py SRC OUT
"""

from __future__ import annotations

import sys
from pathlib import Path

import jinja2
import yaml
from markdown_it import MarkdownIt
from markupsafe import Markup

PAGE = """<!DOCTYPE html>
<html lang="sv"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><main>{{ body }}</main></body></html>
"""


def main() -> None:
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    md = MarkdownIt("js-default")
    template = jinja2.Environment(autoescape=True).from_string(PAGE)
    for path in sorted(src.rglob("*.md")):
        _, front, body = path.read_text("utf-8").split("---\n", 2)
        meta = yaml.safe_load(front)
        target = out / path.relative_to(src).with_suffix(".html")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(template.render(title=meta["title"], body=Markup(md.render(body))), "utf-8")


if __name__ == "__main__":
    main()
