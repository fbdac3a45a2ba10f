"""A package's step, made safe to show inside the runtime's own layout.

Input: a verified package and a step. Output: the step's body as a list of parts:
sanitised HTML and form slots, where the runtime puts its own working form (with the
patient's answers, errors and CSRF token), plus the heading and readout player it shows
above them.

How: the builder ships each step's body as a fragment (`fragments/<module>/<step>.json`,
`stegvis_package.model.Fragment`): HTML parts and form slots, so nothing here parses a
compiled page. Relative links in the parts are rewritten for the runtime's URL layout,
and each part goes through nh3 with an allow-list (a second layer after the builder's
own). The result is cached per package, since packages never change. Links:

  step page     /moment/<e>/steg/<module>/<step>
  package file  /moment/<e>/filer/<path>      = ../../filer/<path> from a step page
  translation's /moment/<e>/sprak/<lang>/<path> = ../../sprak/<lang>/<path> (issue 18)

Must not: let a package bring script, inline event handlers, styles, iframes or
links outside the package and the web.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

from runtime.packages import Package

TAGS = set(nh3.ALLOWED_TAGS) | {"audio", "video", "track", "source", "section"}
ATTRIBUTES = {
    "*": {"id", "class", "role", "aria-label", "aria-labelledby", "aria-describedby", "aria-hidden", "lang", "title"},
    "a": {"href", "hreflang", "type"},
    "img": {"src", "alt", "width", "height", "loading"},
    "audio": {"src", "controls", "preload"},
    "video": {"src", "controls", "preload", "poster", "width", "height"},
    "track": {"src", "kind", "srclang", "label", "default"},
    "source": {"src", "type"},
    "th": {"scope", "colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
    "ol": {"start"},
    "time": {"datetime"},
}


@dataclass(frozen=True)
class FormSlot:
    """Where a form of the step goes."""

    form_id: str


@dataclass(frozen=True)
class Player:
    """The step's readout: its MP3 and the cue file of its sentences, as URLs from the step page."""

    mp3: str
    vtt: str


@dataclass(frozen=True)
class StepBody:
    """A step's content: its heading (when the body has none), readout, and parts in page order."""

    heading: str | None
    player: Player | None
    parts: tuple[Markup | FormSlot, ...]


def _rewrite(package: Package, page: str, url: str) -> str | None:
    """A relative URL of a package page as a URL relative to the runtime's step page."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    if not parts.path:
        return fragment or None
    target = posixpath.normpath(posixpath.join(posixpath.dirname(page), parts.path))
    if target.startswith("../") or target == "..":
        return None
    steps = package.cached("pages", lambda: {s["page"]: (m["id"], s["id"]) for m, _, s in package.steps()})
    if target in steps:
        module_id, step_id = steps[target]
        return f"../{module_id}/{step_id}{fragment}"
    if target == "index.html":
        return "../../"
    modules = {m["page"]: m["id"] for m in package.program.get("modules", [])}
    if target in modules:
        return f"../../#modul-{modules[target]}"
    if target in package.files and not target.endswith(".html"):
        return f"../../{package.files_url}/{target}{fragment}"
    return None


def sanitise(html: str, rewrite=None) -> str:
    """nh3 with the runtime's allow-list; `rewrite` maps relative URLs (None strips them)."""
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, generic_attribute_prefixes={"data-"},
                     url_schemes={"https", "mailto", "tel"}, url_relative=rewrite or "deny",
                     clean_content_tags={"script", "style"}, link_rel="noopener noreferrer")


def step_body(package: Package, module_id: str, step_id: str) -> StepBody | None:
    """The sanitised, rewritten body of a step (cached), or None when its fragment is unusable."""

    def make() -> StepBody | tuple:
        found = package.step(module_id, step_id)
        fragment = package.fragment(module_id, step_id)
        if found is None or fragment is None:
            return ()
        page = fragment.page

        def clean(chunk: str) -> Markup:
            return Markup(sanitise(chunk, lambda url: _rewrite(package, page, url)))

        parts = tuple(FormSlot(p.form) if p.form is not None else clean(p.html or "") for p in fragment.parts)
        readout = found[2].get("readout")
        files = f"../../{package.files_url}"
        player = Player(f"{files}/{readout['mp3']}", f"{files}/{readout['cues']}") if readout else None
        return StepBody(fragment.title if fragment.add_heading else None, player,
                        tuple(p for p in parts if not (isinstance(p, Markup) and not p.strip())))

    body = package.cached(f"step:{module_id}/{step_id}", make)
    return body if isinstance(body, StepBody) else None


def media_file(package: Package, source: str) -> str | None:
    """The package path of a media file named as in the source (`bilder/sol.svg`), content hash and all."""
    media = (package.manifest.source or {}).get("media") or {}
    found = media.get(f"media/{source}")
    return found if isinstance(found, str) and found in package.files else None


def markdown(text: str | None) -> Markup | None:
    """Markdown from program.json (form descriptions, display texts) as sanitised HTML.

    Callers cache the result per package (see `runtime.views`), so the parser is built per call.
    """
    if not text:
        return None
    return Markup(sanitise(MarkdownIt("js-default").render(text)))
