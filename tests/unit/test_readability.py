"""LIX per step (issue #2 check stage; issue #3 plain Swedish)."""

from __future__ import annotations

import pytest

from builder.lix import lix, lix_level


def test_lix__known_value__ok():
    # 8 words, 2 sentences, 2 long words ("promenad", "skogen" is 6 letters so not long, "tillsammans")
    value, words = lix(["Vi går en promenad.", "Sedan fikar vi tillsammans."])
    assert words == 8
    assert value == pytest.approx(8 / 2 + 100 * 2 / 8)


def test_lix__abbreviations_do_not_end_sentences__ok():
    with_abbrev, _ = lix(["Ät t.ex. frukt och bär varje dag."])
    assert with_abbrev == pytest.approx(lix(["Ät tex frukt och bär varje dag."])[0])


def test_lix__headings_and_items_are_sentences__ok():
    value, words = lix(["Rubrik", "Punkt ett", "Punkt två"])
    assert words == 5 and value == pytest.approx(5 / 3)


def test_lix_level__swedish_scale__ok():
    assert [lix_level(v) for v in (20, 35, 45, 55, 65)] == [
        "mycket lättläst", "lättläst", "medelsvår", "svår", "mycket svår"]
