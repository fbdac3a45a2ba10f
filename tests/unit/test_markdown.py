"""Rendering is safe and rewrites references (issue #2: rendering)."""

from __future__ import annotations

from builder.markdown import parse_body
from builder.render.markdown_html import MarkdownContext, render_tokens


def render(text: str) -> str:
    ctx = MarkdownContext(link=lambda h: f"L[{h}]", media=lambda s: f"M[{s}]", block=lambda d: f"<x-{d.name}>")
    return str(render_tokens(parse_body(text, 1).tokens, ctx))


def test_raw_html__is_escaped_not_rendered__ok():
    html = render("Hej <script>alert(1)</script> <b onclick='x'>fet</b>\n")
    assert "<script" not in html and "<b " not in html
    assert "&lt;script&gt;" in html


def test_javascript_link__is_not_a_link__ok():
    html = render("[klick](javascript:alert(1))\n")
    assert "href" not in html


def test_links_and_images__rewritten__ok():
    html = render("[Nästa](02-b.md) ![Sol](bilder/sol.svg)\n")
    assert 'href="L[02-b.md]"' in html
    assert 'src="M[bilder/sol.svg]"' in html and 'alt="Sol"' in html


def test_blocks__replaced_after_sanitising__ok():
    html = render("Text\n\n::: form mal\n:::\n\nMer\n")
    assert "<x-form>" in html and "data-block" not in html


def test_directive_positions__are_file_lines__ok():
    body = parse_body("# A\n\n::: video https://x.invalid/a.mp4\ncaptions: a.vtt\n:::\n", 6)
    d = body.directives[0]
    assert (d.name, d.arg, d.line, d.option_lines["captions"], d.closed) == ("video", "https://x.invalid/a.mp4", 8, 9, True)


def test_unclosed_directive__detected__error():
    body = parse_body("::: callout tip\nText\n", 1)
    assert body.directives[0].closed is False
