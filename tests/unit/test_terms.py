"""The matcher of regional words (issue 17: `terms:` in an overlay).

What is matched (docs/overlays.md, "Regionala ord"): the word as a whole word, in three
case forms, with a Swedish inflection ending; only in text, never in ids, URLs, link
targets, code or the settings of `:::` blocks; lines are never added or removed.
"""

from __future__ import annotations

import pytest

from builder.diagnostics import Diagnostics
from builder.terms import Vocabulary, rewrite_file
from builder.yamlsrc import parse_yaml

HC = Vocabulary({"vårdcentral": "hälsocentral"})


def body(text: str, vocabulary: Vocabulary = HC) -> str:
    return rewrite_file("modules/01-a/01-b.md", text, vocabulary).text


@pytest.mark.parametrize(("before", "after"), [
    ("din vårdcentral", "din hälsocentral"),
    ("vårdcentralen", "hälsocentralen"),
    ("vårdcentraler", "hälsocentraler"),
    ("vårdcentralerna", "hälsocentralerna"),
    ("vårdcentralens", "hälsocentralens"),
    ("vårdcentralernas", "hälsocentralernas"),
    ("vårdcentrals", "hälsocentrals"),
    ("Vårdcentralen ligger nära.", "Hälsocentralen ligger nära."),
    ("VÅRDCENTRALEN", "HÄLSOCENTRALEN"),
    ("vårdcentral- och sjukhusvård", "hälsocentral- och sjukhusvård"),
    ("(vårdcentralen)", "(hälsocentralen)"),
    ("**vårdcentralen**", "**hälsocentralen**"),
])
def test_matcher__inflections_and_case__replaced(before, after):
    assert body(before) == after


@pytest.mark.parametrize("text", [
    "vårdcentralsläkare",  # a compound: its own term if wanted
    "närvårdcentral",  # another word that ends in the term
    "vårdcentralisering",  # not an inflection ending
    "VårdCentral",  # a case form that is not one of the three
    "vardcentral",  # without å: another word (ids are spelt like this)
])
def test_matcher__whole_words_only__unchanged(text):
    assert body(text) == text


@pytest.mark.parametrize("text", [
    "[om vården](../02-vard/vårdcentral.md)",
    "![Bild](bilder/vårdcentral.svg)",
    "Se https://www.example.invalid/vårdcentral för mer.",
    "Se www.vårdcentral.example.invalid.",
    "<https://example.invalid/vårdcentral>",
    "Mejla vårdcentral@example.invalid.",
    "Skriv `vårdcentral` i rutan.",
    "[vårdcentral]: https://example.invalid/vårdcentral",
])
def test_matcher__urls_link_targets_and_code__unchanged(text):
    assert body(text) == text


def test_matcher__link_text_and_alt_text__replaced():
    assert body("[din vårdcentral](https://example.invalid/vårdcentral)") == \
        "[din hälsocentral](https://example.invalid/vårdcentral)"
    assert body("![En vårdcentral](bilder/vårdcentral.svg)") == "![En hälsocentral](bilder/vårdcentral.svg)"


def test_matcher__code_blocks_and_block_settings__unchanged_titles_replaced():
    text = ("```\nvårdcentral\n```\n\n    vårdcentral i ett kodblock\n\n"
            "::: callout tip Din vårdcentral\nRing din vårdcentral.\n\n```\nvårdcentral\n```\n:::\n\n"
            "::: video https://example.invalid/vårdcentral.mp4\ntitle: Om vårdcentralen\n"
            "captions: film/vårdcentral.vtt\n:::\n\n::: form vårdcentral\n:::\n")
    expected = text.replace("tip Din vårdcentral", "tip Din hälsocentral").replace(
        "Ring din vårdcentral", "Ring din hälsocentral").replace("Om vårdcentralen", "Om hälsocentralen")
    assert body(text) == expected


def test_matcher__longest_term_wins_and_one_pass():
    words = Vocabulary({"Västerbotten": "Norrbotten", "Region Västerbotten": "Region Norrbotten i norr",
                        "Norrbotten": "Västerbotten"})
    assert body("Region Västerbotten och Västerbottens fjäll, inte Norrbotten.", words) == \
        "Region Norrbotten i norr och Norrbottens fjäll, inte Västerbotten."


def test_matcher__lines_and_front_matter_positions__kept():
    text = "---\ntitle: Din vårdcentral\nsection: Vård\n---\n# Vårdcentralen\n\nText.\n"
    done = rewrite_file("modules/01-a/01-b.md", text, HC)
    assert done.text.count("\n") == text.count("\n")
    assert [(r.line, r.col, r.found, r.replaced) for r in done.replacements] == [
        (2, 12, "vårdcentral", "hälsocentral"), (5, 3, "Vårdcentralen", "Hälsocentralen")]
    assert done.replacements[0].before == "Din vårdcentral"  # the value, not the key
    assert done.replacements[1].after == "# Hälsocentralen"


def test_matcher__report_has_the_sentence_before_and_after():
    text = "Första meningen. Kontakta din vårdcentral eller ring 1177! Sista meningen.\n"
    [r] = rewrite_file("modules/01-a/01-b.md", text, HC).replacements
    assert (r.before, r.after) == ("Kontakta din vårdcentral eller ring 1177!", "Kontakta din hälsocentral eller ring 1177!")


def test_matcher__yaml_texts_replaced_ids_values_and_review_untouched():
    text = """title: Frågor om vårdcentralen
description: >
  Svara om din vårdcentral.
reviewed: {by: "Vårdcentral Nord", on: 2026-10-02, hash: 1f3a9c0d}
questions:
  - id: vardcentral
    type: single
    label: Var får du stöd?
    help: Till exempel din vårdcentral.
    image: bilder/vårdcentral.svg
    alt: En vårdcentral
    options:
      - {value: vårdcentral, label: Stöd från din vårdcentral}
  - id: skala
    type: scale
    labels: {0: Aldrig på vårdcentralen, 4: Ofta}
scoring:
  bands:
    - {min: 0, max: 3, label: Låg, text: Prata med din vårdcentral.}
  note: Vårdcentralen ser poängen.
"""
    done = rewrite_file("forms/stod.yaml", text, HC)
    diags = Diagnostics()
    old, new = parse_yaml(text, "x", diags).data, parse_yaml(done.text, "x", diags).data
    assert not diags.items
    assert new["title"] == "Frågor om hälsocentralen"
    assert new["description"] == "Svara om din hälsocentral.\n"
    assert new["reviewed"] == old["reviewed"]
    q = new["questions"][0]
    assert (q["id"], q["image"], q["options"][0]["value"]) == ("vardcentral", "bilder/vårdcentral.svg", "vårdcentral")
    assert (q["help"], q["alt"], q["options"][0]["label"]) == (
        "Till exempel din hälsocentral.", "En hälsocentral", "Stöd från din hälsocentral")
    assert new["questions"][1]["labels"][0] == "Aldrig på hälsocentralen"
    assert new["scoring"]["bands"][0]["text"] == "Prata med din hälsocentral."
    assert new["scoring"]["note"] == "Hälsocentralen ser poängen."
    assert len(done.replacements) == 8


def test_matcher__other_files__untouched():
    assert rewrite_file("media/film/vårdcentral.md", "Din vårdcentral.", HC).text == "Din vårdcentral."
    assert rewrite_file("program.yaml", "title: Din vårdcentral\n", HC).text == "title: Din vårdcentral\n"


def test_matcher__step_sources__cited_as_they_are():
    text = ("---\ntitle: Din vårdcentral\nsection: Vård\nsources:\n"
            "  - {title: Vårdcentralens roll, publisher: Vårdcentral Nord, url: https://example.invalid, read: 2026-01-01}\n"
            "---\n# Rubrik\n")
    done = rewrite_file("modules/01-a/01-b.md", text, HC)
    assert [r.line for r in done.replacements] == [2]
