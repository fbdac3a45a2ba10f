"""Issue #15, point 10: in `stegvis serve` the reviewer's panel never covers the page's text.

Requirement: the panel is the first thing in the page's body and in the flow of the
page (not fixed over the text); the page's own content follows it unchanged.
"""

from __future__ import annotations

import re

from test_serve import get, served  # noqa: F401  (the served fixture)

from builder.serve import PANEL_STYLE


def test_reviewer_panel__first_in_the_body_and_never_floating_over_the_text__ok(served):  # noqa: F811
    _, _, server = served
    status, page = get(server, "/start/valkommen.html")
    assert status == 200
    body = page[page.index("<body"):]
    after_tag = body[body.index(">") + 1:].lstrip()
    assert after_tag.startswith('<aside id="stegvis-granskning"')
    assert page.count('id="stegvis-granskning"') == 1
    assert body.index('id="stegvis-granskning"') < body.index("<main")
    rule = re.search(r"#stegvis-granskning\{([^}]*)\}", PANEL_STYLE).group(1)
    assert "position:static" in rule and "fixed" not in rule and "absolute" not in rule
