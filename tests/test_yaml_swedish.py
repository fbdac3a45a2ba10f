"""Issue #15, point 10: YAML syntax errors in Swedish only, with either parser (libyaml and PyYAML).

Requirement: a YAML-001 message never carries the parser's English; each broken input
below gets its own Swedish explanation, not the fallback.
"""

from __future__ import annotations

import re

import pytest
import yaml

from builder import yamlsrc
from builder.diagnostics import Diagnostics

BROKEN = [
    ("a: b: c", "ett kolon står där det inte får stå"),
    ("a: 'abc\nb: c", "filen tar slut mitt i ett värde"),
    ("a: [1, 2\n", "en lista inom [ ] tar inte slut"),
    ("a: {b: 1\n", "en mappning inom { } tar inte slut"),
    ("- a\nb: c", "indraget"),
    ("a: b\n- c", "indraget stämmer inte med raderna ovanför"),
    ("a: *x", "ett alias (*namn) som inte finns"),
    ("a: &x 1\nb: &x 2", "samma ankare (&namn) finns två gånger"),
    ("a: @b", "(sätt citattecken runt texten)"),
    ("a: `b", "(sätt citattecken runt texten)"),
    ('a: "\\q"', "ett okänt tecken efter \\ inom dubbla citattecken"),
    ("[a, b]]", "något står kvar efter värdet"),
    ("--- a\n--- b\n", "filen har flera dokument"),
    ("%YAML 2.0\n---\na: 1", "en YAML-version (%YAML) som inte stöds"),
    ("a: &", "& och * ska följas av ett namn"),
    ("a: |x\n b", "något står efter | eller > på samma rad"),
    ("a: !<", "ett värde som börjar med !"),
    ("a: \x00", "ett otillåtet kontrolltecken"),
]
ENGLISH = re.compile(r"\b(found|expected|while|allowed|scanning|parsing|mapping|character|stream|token)\b")


@pytest.mark.parametrize("loader", [yaml.SafeLoader] + ([yaml.CSafeLoader] if hasattr(yaml, "CSafeLoader") else []),
                         ids=lambda loader: loader.__name__)
@pytest.mark.parametrize(("text", "swedish"), BROKEN, ids=[t for t, _ in BROKEN])
def test_yaml_syntax_error__swedish_message__ok(monkeypatch, loader, text, swedish):
    monkeypatch.setattr(yamlsrc, "_Loader", loader)
    diags = Diagnostics()
    assert yamlsrc.parse_yaml(text, "forms/trasig.yaml", diags) is None
    (d,) = diags.items
    assert d.code == "YAML-001"
    assert swedish in d.message, d.message
    assert yamlsrc.UNKNOWN_PROBLEM not in d.message
    assert not ENGLISH.search(d.message), d.message


def test_yaml_unterminated_quote__says_where_the_quote_opens__ok():
    diags = Diagnostics()
    yamlsrc.parse_yaml("title: Hej\ntext: 'en text\nsom aldrig slutar\n", "forms/a.yaml", diags, line_offset=1)
    assert "citattecknet öppnas på rad 3" in diags.items[0].message
