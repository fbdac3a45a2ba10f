"""Markdown tokens -> safe HTML, with links, images and `:::` blocks rewritten.

markdown-it renders (raw HTML is already off), nh3 removes anything outside an
allow-list as a second layer, and only then are the blocks (forms, films, audio,
callouts), which our own templates render, put in place of their placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import nh3
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markupsafe import Markup

from builder.markdown import Directive, parser

ALLOWED_TAGS = {
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "strong", "em", "a", "img", "blockquote",
    "code", "pre", "hr", "br", "table", "thead", "tbody", "tr", "th", "td", "s", "div", "span",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "h2": {"id"},
    "h3": {"id"},
    "ol": {"start"},
    "div": {"data-block"},
    "span": {"data-s"},
}
_PLACEHOLDER = re.compile(r'<div data-block="(\d+)"></div>\n?')


@dataclass
class MarkdownContext:
    """How one page rewrites its references; passed to markdown-it as `env`."""

    link: Callable[[str], str]
    media: Callable[[str], str]
    block: Callable[[Directive], str]
    blocks: list[Directive] = field(default_factory=list)
    #: id(text token) -> [(start, end, sentence id)]: readout sentences to mark for highlighting
    spans: dict[int, list[tuple[int, int, str]]] = field(default_factory=dict)


def _with_attr(self, tokens, idx, options, env, attr, rewrite, base):
    tok = tokens[idx]
    original = tok.attrs.get(attr)
    tok.attrs[attr] = rewrite(str(original))
    try:
        return base(self, tokens, idx, options, env)
    finally:
        tok.attrs[attr] = original


def _render_image(self, tokens, idx, options, env):
    return _with_attr(self, tokens, idx, options, env, "src", env["ctx"].media, RendererHTML.image)


def _render_link_open(self, tokens, idx, options, env):
    return _with_attr(self, tokens, idx, options, env, "href", env["ctx"].link, RendererHTML.renderToken)


def _render_text(self, tokens, idx, options, env):
    tok = tokens[idx]
    pieces = env["ctx"].spans.get(id(tok))
    if not pieces:
        return escapeHtml(tok.content)
    out, pos = [], 0
    for start, end, sid in pieces:
        out.append(escapeHtml(tok.content[pos:start]))
        out.append(f'<span data-s="{sid}">{escapeHtml(tok.content[start:end])}</span>')
        pos = end
    out.append(escapeHtml(tok.content[pos:]))
    return "".join(out)


def _render_fence(self, tokens, idx, options, env):
    ctx: MarkdownContext = env["ctx"]
    directive = tokens[idx].meta.get("directive")
    if directive is None:  # blocks are only supported in step bodies
        return ""
    ctx.blocks.append(directive)
    return f'<div data-block="{len(ctx.blocks) - 1}"></div>\n'


_md = parser()
_md.add_render_rule("image", _render_image)
_md.add_render_rule("link_open", _render_link_open)
_md.add_render_rule("colon_fence", _render_fence)
_md.add_render_rule("text", _render_text)


def render_parts(tokens: list[Token], ctx: MarkdownContext,
                 slot: Callable[[Directive], bool]) -> list[Markup | Directive]:
    """Render parsed Markdown to sanitised HTML in parts: the blocks `slot` picks (a step's
    forms) are left out as their directives, between the HTML before and after them; every
    other block is expanded in place."""
    start = len(ctx.blocks)
    html = _md.renderer.render(tokens, _md.options, {"ctx": ctx})
    clean = nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, link_rel=None,
                      url_schemes={"http", "https", "mailto", "tel"}, strip_comments=True)
    blocks = ctx.blocks

    def expand(m: re.Match) -> str:
        index = int(m.group(1))
        return ctx.block(blocks[index]) if index >= start else ""

    parts: list[Markup | Directive] = []
    last = 0
    for m in _PLACEHOLDER.finditer(clean):
        index = int(m.group(1))
        if index >= start and slot(blocks[index]):
            parts += [Markup(_PLACEHOLDER.sub(expand, clean[last:m.start()])), blocks[index]]
            last = m.end()
    parts.append(Markup(_PLACEHOLDER.sub(expand, clean[last:])))
    return parts


def render_tokens(tokens: list[Token], ctx: MarkdownContext) -> Markup:
    """Render parsed Markdown to sanitised HTML with blocks expanded."""
    (html,) = render_parts(tokens, ctx, lambda _: False)
    return html


def render_text(text: str, ctx: MarkdownContext) -> Markup:
    """Render a Markdown string (descriptions, transcripts) the same safe way."""
    return render_tokens(_md.parse(text), ctx)
