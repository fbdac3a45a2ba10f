"""Synthetic programs for the site benchmark (issue #7), in our format and laid out for peers.

Input: a folder, a number of steps and a seed. Output: the same text four ways:

- `stegvis/`  a Stegvis program (program.yaml, modules/NN-id/module.yaml, one .md per step,
  two forms, an image under media/);
- `mkdocs/`   an MkDocs project (mkdocs.yml and docs/<module>/<step>.md, default theme);
- `hugo/`     a Hugo site (hugo.toml, content/<module>/<step>.md, minimal layouts with
  breadcrumb and previous/next links, like our step pages);
- `bare/`     the step files alone, for the bare markdown-it-py + Jinja2 loop.

The text is made of the real FRAMÅT content's sentences (content/), recombined
deterministically by the seed, so pages have realistic length (about 300 words), headings,
lists, callouts, an image, a form and links between steps. Must not write outside `root`.

    .venv/bin/python bench/generate.py OUT --steps 150
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEPS_PER_MODULE = 25
IMAGE = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 20"><rect width="40" height="20" fill="#2a6"/></svg>
"""
FORM = """title: {title}
questions:
  - id: hur
    type: scale
    label: Hur går det just nu?
    min: 0
    max: 4
    labels: {{0: Inte alls bra, 4: Mycket bra}}
  - id: tankar
    type: textarea
    label: Skriv några rader om din vecka.
"""


@dataclass
class Page:
    """One synthetic step: where it lives and its text (front matter apart)."""

    module_id: str
    module_folder: str
    step_id: str
    file_name: str
    title: str
    section: str
    body: str


def _pool() -> tuple[list[str], list[str], list[str]]:
    """Sentences, headings and list items from the real program's steps."""
    sentences, headings, items = [], [], []
    for path in sorted((ROOT / "content" / "modules").rglob("*.md")):
        text = path.read_text("utf-8").split("\n---\n", 1)[-1]
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("## "):
                headings.append(line[3:])
            elif line.startswith("- ") and "](" not in line:
                items.append(line[2:])
            elif line and line[0].isalpha() and "](" not in line and not line.startswith(":::"):
                sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-ZÅÄÖ])", line) if len(s.split()) > 3]
    return sentences, headings, items


def make_pages(steps: int, seed: int = 7) -> list[Page]:
    """The steps of a program of `steps` steps, in modules of 25."""
    rng = random.Random(seed)
    sentences, headings, items = _pool()
    pages: list[Page] = []
    modules = (steps + STEPS_PER_MODULE - 1) // STEPS_PER_MODULE
    for m in range(modules):
        module_id = f"modul-{m + 1:03d}"
        count = min(STEPS_PER_MODULE, steps - m * STEPS_PER_MODULE)
        for s in range(count):
            title = f"{rng.choice(headings)} ({m + 1}.{s + 1})"
            blocks = [f"# {title}", "", " ".join(rng.sample(sentences, 4)), ""]
            for _ in range(3):
                blocks += [f"## {rng.choice(headings)}", "", " ".join(rng.sample(sentences, 4)), ""]
                if rng.random() < 0.6:
                    blocks += [f"- {item}" for item in rng.sample(items, 4)] + [""]
            if s % 5 == 1:
                blocks += ["::: callout tip Bra att veta", " ".join(rng.sample(sentences, 2)), ":::", ""]
            if s % 7 == 2:
                blocks += ["![En grön rektangel som symbol för framsteg](bilder/symbol.svg)", ""]
            if s % 9 == 3:
                blocks += [f"::: form {'veckan' if s % 2 else 'mal'}", ":::", ""]
            if s > 0:
                prev = pages[-1]
                blocks += [f"Läs gärna [det förra steget]({prev.file_name}) igen.", ""]
            pages.append(Page(module_id, f"{m + 1:03d}-{module_id}", f"steg-{s + 1:03d}",
                              f"{s + 1:03d}-steg-{s + 1:03d}.md", title, f"Avsnitt {s // 8 + 1}",
                              "\n".join(blocks).rstrip() + "\n"))
    return pages


def _front(title: str, section: str) -> str:
    quoted = title.replace('"', "'")
    return f'---\ntitle: "{quoted}"\nsection: "{section}"\n---\n'


def write_stegvis(folder: Path, pages: list[Page], name: str) -> None:
    """Our format: program.yaml, module folders, forms and one image."""
    modules = list(dict.fromkeys((p.module_id, p.module_folder) for p in pages))
    listing = "".join(f"  - {mid}\n" for mid, _ in modules)
    (folder / "program.yaml").write_text(
        f"id: {name}\ntitle: Benchmarkprogrammet\nversion: 1.0.0\nlanguage: sv\npublisher: Stegvis bench\n"
        f"readability:\n  lix_warning: 100\n  max_sentence_words: 200\nmodules:\n{listing}", "utf-8")
    for mid, folder_name in modules:
        d = folder / "modules" / folder_name
        d.mkdir(parents=True)
        (d / "module.yaml").write_text(f"title: Modul {mid[-3:]}\nkind: core\nstart: current\n", "utf-8")
    for p in pages:
        (folder / "modules" / p.module_folder / p.file_name).write_text(_front(p.title, p.section) + p.body, "utf-8")
    (folder / "forms").mkdir()
    (folder / "forms" / "mal.yaml").write_text(FORM.format(title="Mitt mål"), "utf-8")
    (folder / "forms" / "veckan.yaml").write_text(FORM.format(title="Min vecka"), "utf-8")
    (folder / "media" / "bilder").mkdir(parents=True)
    (folder / "media" / "bilder" / "symbol.svg").write_text(IMAGE, "utf-8")


def _peer_body(p: Page) -> str:
    """The same text for the peers: images from the site root, links to their pages."""
    body = p.body.replace("](bilder/symbol.svg)", "](/media/symbol.svg)")
    return re.sub(r"\]\((\d{3})-(steg-\d{3})\.md\)", r"](../\2/)", body)


def write_mkdocs(folder: Path, pages: list[Page]) -> None:
    """An MkDocs project with the default theme; nav follows the folders."""
    docs = folder / "docs"
    (docs / "media").mkdir(parents=True)
    (docs / "media" / "symbol.svg").write_text(IMAGE, "utf-8")
    (docs / "index.md").write_text("# Benchmarkprogrammet\n\nÖversikt.\n", "utf-8")
    (folder / "mkdocs.yml").write_text("site_name: Benchmarkprogrammet\nuse_directory_urls: true\n"
                                       "validation:\n  links:\n    absolute_links: ignore\n    unrecognized_links: ignore\n",
                                       "utf-8")
    for p in pages:
        target = docs / p.module_id / f"{p.step_id}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_front(p.title, p.section) + _peer_body(p), "utf-8")


HUGO_BASEOF = """<!DOCTYPE html>
<html lang="sv"><head><meta charset="utf-8"><title>{{ .Title }} – {{ .Site.Title }}</title>
<link rel="stylesheet" href="/style.css"></head>
<body><header><a href="/">{{ .Site.Title }}</a></header>
<nav aria-label="Du är här"><ol><li><a href="/">{{ .Site.Title }}</a></li>{{ with .Parent }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}<li>{{ .Title }}</li></ol></nav>
<main>{{ block "main" . }}{{ end }}</main></body></html>
"""
HUGO_SINGLE = """{{ define "main" }}<article>{{ .Content }}</article>
<nav aria-label="Steg">{{ with .PrevInSection }}<a href="{{ .RelPermalink }}" rel="prev">{{ .Title }}</a>{{ end }}
{{ with .NextInSection }}<a href="{{ .RelPermalink }}" rel="next">{{ .Title }}</a>{{ end }}</nav>{{ end }}
"""
HUGO_LIST = """{{ define "main" }}<h1>{{ .Title }}</h1><ul>{{ range .Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ul>{{ end }}
"""


def write_hugo(folder: Path, pages: list[Page]) -> None:
    """A Hugo site with minimal layouts (breadcrumb, previous/next), no theme."""
    (folder / "hugo.toml").write_text(
        'baseURL = "http://127.0.0.1/"\nlanguageCode = "sv"\ntitle = "Benchmarkprogrammet"\n'
        'disableKinds = ["taxonomy", "term", "RSS", "sitemap"]\n[markup.goldmark.renderer]\nunsafe = false\n', "utf-8")
    layouts = folder / "layouts" / "_default"
    layouts.mkdir(parents=True)
    (layouts / "baseof.html").write_text(HUGO_BASEOF, "utf-8")
    (layouts / "single.html").write_text(HUGO_SINGLE, "utf-8")
    (layouts / "list.html").write_text(HUGO_LIST, "utf-8")
    (folder / "static" / "media").mkdir(parents=True)
    (folder / "static" / "media" / "symbol.svg").write_text(IMAGE, "utf-8")
    modules = list(dict.fromkeys(p.module_id for p in pages))
    for i, mid in enumerate(modules):
        d = folder / "content" / mid
        d.mkdir(parents=True)
        (d / "_index.md").write_text(f'---\ntitle: "Modul {mid[-3:]}"\nweight: {i + 1}\n---\n', "utf-8")
    for i, p in enumerate(pages):
        quoted = p.title.replace('"', "'")
        front = f'---\ntitle: "{quoted}"\nsection: "{p.section}"\nweight: {i + 1}\n---\n'
        (folder / "content" / p.module_id / f"{p.step_id}.md").write_text(front + _peer_body(p), "utf-8")


def write_bare(folder: Path, pages: list[Page]) -> None:
    """The step files alone (with front matter), for the bare loop."""
    for p in pages:
        target = folder / p.module_id / f"{p.step_id}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_front(p.title, p.section) + _peer_body(p), "utf-8")


def generate(root: Path, steps: int, seed: int = 7, name: str = "bench") -> dict[str, Path]:
    """Write all four layouts under `root` (emptied first); return their folders."""
    if root.exists():
        shutil.rmtree(root)
    pages = make_pages(steps, seed)
    folders = {kind: root / kind for kind in ("stegvis", "mkdocs", "hugo", "bare")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    write_stegvis(folders["stegvis"], pages, name)
    write_mkdocs(folders["mkdocs"], pages)
    write_hugo(folders["hugo"], pages)
    write_bare(folders["bare"], pages)
    return folders


def step_file(program: Path, index: int = 0) -> Path:
    """The `index`-th step file of a generated Stegvis program (for edit benchmarks)."""
    return sorted((program / "modules").rglob("*.md"))[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    for kind, folder in generate(args.out, args.steps, args.seed).items():
        print(f"{kind}: {folder}")


if __name__ == "__main__":
    main()
